package api

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestLookupInstanceType(t *testing.T) {
	cases := []struct {
		in   string
		want InstanceSize
		ok   bool
	}{
		{"ecs.c5.large", InstanceSize{2, 4, "AMD64"}, true},
		{"ecs.g6.xlarge", InstanceSize{4, 16, "AMD64"}, true},
		{"ecs.r7.2xlarge", InstanceSize{8, 64, "AMD64"}, true},
		{"ecs.g8y.4xlarge,ecs.c5.large", InstanceSize{16, 64, "ARM64"}, true},
		{"ecs.gn6i-c4g1.xlarge", InstanceSize{}, false},
		{"ecs.c5.medium", InstanceSize{}, false},
		{"c5.large", InstanceSize{}, false},
	}
	for _, tc := range cases {
		got, ok := LookupInstanceType(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("LookupInstanceType(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// An InstanceType gives the group its vCPUs and memory.
func TestInstanceTypeSetsCpuMemory(t *testing.T) {
	r := validRequest()
	r.InstanceType = "ecs.g6.large"
	if err := r.Normalize(); err != nil {
		t.Fatal(err)
	}
	if r.Cpu != 2 || r.Memory != 8 {
		t.Errorf("Cpu, Memory = %g, %g; want 2, 8", r.Cpu, r.Memory)
	}
}

func TestValidateResources(t *testing.T) {
	other := "ARM64"
	if HostArchitecture() == "ARM64" {
		other = "AMD64"
	}
	cases := []struct {
		name   string
		mutate func(r *CreateContainerGroupRequest)
		code   string
		field  string
		says   string
	}{
		{"unknown instance type", func(r *CreateContainerGroupRequest) { r.InstanceType = "ecs.gn7i.xlarge" }, CodeInvalidParameter, "InstanceType", "set the group's Cpu and Memory"},
		{"instance type and other cpu", func(r *CreateContainerGroupRequest) { r.InstanceType, r.Cpu, r.Memory = "ecs.c5.large", 4, 8 }, CodeInvalidCPUMemory, "InstanceType", "give one or the other"},
		{"instance type of other arch", func(r *CreateContainerGroupRequest) {
			r.InstanceType, r.CPUArchitecture = "ecs.g8y.large", "AMD64"
			r.SetDefaults()
		}, CodeInstanceTypeNotMatchCPUArch, "InstanceType", "ARM64"},
		{"other architecture", func(r *CreateContainerGroupRequest) { r.CPUArchitecture = other }, CodeInvalidParameter, "CpuArchitecture", "not this host's"},
		{"windows", func(r *CreateContainerGroupRequest) { r.OsType = "Windows" }, CodeInvalidParameter, "OsType", "Linux"},
		{"cpu not offered", func(r *CreateContainerGroupRequest) { r.Cpu = 3 }, CodeInvalidCPUMemory, "Cpu", "not a size ECI offers"},
		{"memory not with cpu", func(r *CreateContainerGroupRequest) { r.Cpu, r.Memory = 1, 16 }, CodeInvalidCPUMemory, "Memory", "2, 4, 8"},
		{"huge memory", func(r *CreateContainerGroupRequest) { r.Memory = 1e308 }, CodeInvalidCPUMemory, "Memory", "largest group"},
		{"huge container memory", func(r *CreateContainerGroupRequest) { r.Container[0].Memory = 1e308 }, CodeInvalidCPUMemory, "Container.1.Memory", "more than the group's"},
		{"container over group", func(r *CreateContainerGroupRequest) { r.Cpu, r.Memory = 1, 2; r.Container[0].Cpu = 2 }, CodeInvalidCPUMemory, "Container.1.Cpu", "more than the group's 1"},
		{"containers sum over group", func(r *CreateContainerGroupRequest) {
			r.Cpu, r.Memory = 1, 2
			r.Container = append(r.Container, r.Container[0])
			r.Container[1].Name = "two"
			r.Container[0].Memory, r.Container[1].Memory = 1.5, 1
		}, CodeInvalidCPUMemory, "Container", "2.5 GiB together"},
		{"bandwidth overflow", func(r *CreateContainerGroupRequest) { r.EgressBandwidth = 1 << 61 }, CodeInvalidParameter, "EgressBandwidth", "bytes per second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.SetDefaults()
			tc.mutate(r)
			for _, e := range AsErrors(r.Validate()) {
				if e.Code == tc.code && e.Field == tc.field && strings.Contains(e.Message, tc.says) {
					return
				}
			}
			t.Errorf("Validate() = %v; want %s on %s saying %q", r.Validate(), tc.code, tc.field, tc.says)
		})
	}
	// ECI's sizes pass, and containers within them.
	r := validRequest()
	r.Cpu, r.Memory = 0.5, 1
	r.Container[0].Cpu, r.Container[0].Memory = 0.5, 1
	if err := r.Normalize(); err != nil {
		t.Errorf("0.5 vCPU, 1 GiB: %v", err)
	}
}

func TestAllocatedResources(t *testing.T) {
	r := validRequest()
	r.InitContainer = []InitContainer{{ContainerCommon{Name: "i", Cpu: 2, Memory: 0.5}}}
	r.Container = append(r.Container, r.Container[0])
	r.Container[0].Cpu, r.Container[0].Memory = 0.5, 1
	r.Container[1].Cpu, r.Container[1].Memory = 0.25, 1
	if cpu, mem := r.AllocatedResources(); cpu != 2 || mem != 2 {
		t.Errorf("AllocatedResources = %g, %g; want 2 (the init container), 2 (the app containers)", cpu, mem)
	}
	r.Cpu, r.Memory = 4, 8
	if cpu, mem := r.AllocatedResources(); cpu != 4 || mem != 8 {
		t.Errorf("AllocatedResources = %g, %g; want the group's 4, 8", cpu, mem)
	}
}

// Every parameter tagged cloud has an entry in CloudFields, and every entry
// names such a parameter.
func TestCloudFieldsCoverTheTags(t *testing.T) {
	tagged := map[string]bool{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			if sf.Anonymous {
				walk(prefix, sf.Type)
				continue
			}
			name := join(prefix, wireName(sf))
			if tag := sf.Tag.Get("leci"); tag == "cloud" || tag == "recorded" {
				tagged[name] = true
			}
			if sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct && sf.Tag.Get("leci") == "" {
				walk(name+".N", sf.Type.Elem())
			}
		}
	}
	walk("", reflect.TypeFor[CreateContainerGroupRequest]())
	listed := map[string]bool{}
	for _, f := range CloudFields {
		listed[f.Name] = true
		if !tagged[f.Name] {
			t.Errorf("CloudFields lists %s, which is no cloud-only parameter", f.Name)
		}
		if f.How == "" || (f.Use != UseRecorded && f.Use != UseAnalogy) {
			t.Errorf("%s: %+v", f.Name, f)
		}
	}
	for name := range tagged {
		if !listed[name] {
			t.Errorf("cloud-only parameter %s is missing from CloudFields", name)
		}
	}
}

// The README's list of cloud-only parameters is CloudFields: the same
// names, in the same order, with the same use.
func TestReadmeListsCloudFields(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n### Cloud-only parameters\n")
	if start < 0 {
		t.Fatal(`README has no "### Cloud-only parameters" section`)
	}
	section := text[start+1:]
	if end := strings.Index(section[4:], "\n#"); end >= 0 {
		section = section[:end+4]
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| (recorded|analogy) \\|")
	var got []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1]+" "+m[2])
	}
	var want []string
	for _, f := range CloudFields {
		want = append(want, f.Name+" "+string(f.Use))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README lists:\n%s\n\nCloudFields has:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
