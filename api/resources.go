package api

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// CodeInvalidCPUMemory is ECI's answer to vCPU and memory sizes it does not
// offer, or containers that ask for more than their group.
const CodeInvalidCPUMemory = "InvalidParameter.CPU.Memory"

// CodeInstanceTypeNotMatchCPUArch is ECI's answer to an InstanceType of
// another CPU architecture than CpuArchitecture.
const CodeInstanceTypeNotMatchCPUArch = "InstanceTypeNotMatchCpuArch"

// groupSizes are the vCPU and memory (GiB) pairs ECI offers for a group in
// every region ("Specify vCPU and memory to create an instance").
var groupSizes = map[float64][]float64{
	0.25: {0.5, 1},
	0.5:  {1, 2},
	1:    {2, 4, 8},
	2:    {1, 2, 4, 8, 16},
	4:    {2, 4, 8, 16, 32},
	8:    {4, 8, 16, 32, 64},
	12:   {12, 24, 48, 96},
	16:   {16, 32, 64, 128},
	24:   {24, 48, 96, 192},
	32:   {32, 64, 128, 256},
	52:   {96, 192, 384},
	64:   {128, 256, 512},
}

// The largest group ECI offers: no container may ask for more.
const (
	maxGroupCPU    = 64
	maxGroupMemory = 512
)

func groupCPUs() []float64 {
	out := make([]float64, 0, len(groupSizes))
	for c := range groupSizes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func numbers(ns []float64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatFloat(n, 'g', -1, 64)
	}
	return strings.Join(s, ", ")
}

// instanceFamilies are the ECS families leci knows the sizes of: GiB of
// memory per vCPU, and the CPU architecture (CpuArchitecture's spelling).
var instanceFamilies = map[string]struct {
	memPerCPU float64
	arch      string
}{
	"c5": {2, "AMD64"}, "g5": {4, "AMD64"}, "r5": {8, "AMD64"},
	"c6": {2, "AMD64"}, "g6": {4, "AMD64"}, "r6": {8, "AMD64"},
	"c6a": {2, "AMD64"}, "g6a": {4, "AMD64"}, "r6a": {8, "AMD64"},
	"c6e": {2, "AMD64"}, "g6e": {4, "AMD64"}, "r6e": {8, "AMD64"},
	"c7": {2, "AMD64"}, "g7": {4, "AMD64"}, "r7": {8, "AMD64"},
	"c7a": {2, "AMD64"}, "g7a": {4, "AMD64"}, "r7a": {8, "AMD64"},
	"c8i": {2, "AMD64"}, "g8i": {4, "AMD64"}, "r8i": {8, "AMD64"},
	"c8a": {2, "AMD64"}, "g8a": {4, "AMD64"}, "r8a": {8, "AMD64"},
	"c6r": {2, "ARM64"}, "g6r": {4, "ARM64"},
	"c8y": {2, "ARM64"}, "g8y": {4, "ARM64"}, "r8y": {8, "ARM64"},
}

// instanceTypeRe is ecs.<family>.<size>: large is 2 vCPUs, xlarge 4,
// Nxlarge 4N.
var instanceTypeRe = lazyRegexp(`^ecs\.([a-z0-9]+)\.(large|xlarge|([1-9][0-9]*)xlarge)$`)

// InstanceSize is what an ECS instance type gives a group.
type InstanceSize struct {
	CPU    float64
	Memory float64 // GiB
	Arch   string  // AMD64 or ARM64
}

// LookupInstanceType returns the size of an ECS instance type of the
// families leci knows (c, g and r of generations 5 to 8). A request may
// list several types, separated by commas, for ECI to choose from; leci
// takes the first.
func LookupInstanceType(types string) (InstanceSize, bool) {
	first, _, _ := strings.Cut(types, ",")
	m := instanceTypeRe().FindStringSubmatch(strings.TrimSpace(first))
	if m == nil {
		return InstanceSize{}, false
	}
	fam, ok := instanceFamilies[m[1]]
	if !ok {
		return InstanceSize{}, false
	}
	cpu := 2.0
	switch {
	case m[2] == "xlarge":
		cpu = 4
	case m[3] != "":
		n, err := strconv.Atoi(m[3])
		if err != nil || n > 64 {
			return InstanceSize{}, false
		}
		cpu = 4 * float64(n)
	}
	return InstanceSize{CPU: cpu, Memory: cpu * fam.memPerCPU, Arch: fam.arch}, true
}

// applyInstanceType gives a group of a known InstanceType, and no Cpu and
// Memory of its own, the type's vCPUs and memory.
func (r *CreateContainerGroupRequest) applyInstanceType() {
	if r.InstanceType == "" || r.Cpu != 0 || r.Memory != 0 {
		return
	}
	if size, ok := LookupInstanceType(r.InstanceType); ok {
		r.Cpu, r.Memory = size.CPU, size.Memory
	}
}

// HostArchitecture is this host's CPU architecture as CpuArchitecture
// spells it.
func HostArchitecture() string { return strings.ToUpper(runtime.GOARCH) }

func (v *validator) cpuMemory(field, message string) {
	v.errs = append(v.errs, &Error{Code: CodeInvalidCPUMemory, Status: http.StatusBadRequest, Field: field, Message: message})
}

// resources checks Cpu and Memory as ECI does: a group's are a size ECI
// offers, a container asks for no more than the largest group, and the
// containers together ask for no more than their group; and InstanceType,
// CpuArchitecture and OsType, which decide what a local group can be.
func (v *validator) resources(r *CreateContainerGroupRequest) {
	if r.InstanceType != "" {
		size, ok := LookupInstanceType(r.InstanceType)
		switch {
		case !ok:
			v.invalid("InstanceType", "%q is not an ECS instance type leci knows (ecs.<family>.<size> of the c, g and r families of generations 5 to 8); set the group's Cpu and Memory instead", r.InstanceType)
		case r.Cpu != size.CPU || r.Memory != size.Memory:
			v.cpuMemory("InstanceType", fmt.Sprintf("%s has %g vCPUs and %g GiB, but the request sets Cpu %g and Memory %g; give one or the other", r.InstanceType, size.CPU, size.Memory, r.Cpu, r.Memory))
		case r.CPUArchitecture != "" && r.CPUArchitecture != size.Arch:
			v.errs = append(v.errs, &Error{Code: CodeInstanceTypeNotMatchCPUArch, Status: http.StatusBadRequest, Field: "InstanceType",
				Message: fmt.Sprintf("%s is %s, but CpuArchitecture is %s", r.InstanceType, size.Arch, r.CPUArchitecture)})
		case size.Arch != HostArchitecture():
			v.invalid("InstanceType", "%s is %s and this host is %s; leci runs no other architecture (no binfmt or qemu emulation)", r.InstanceType, size.Arch, HostArchitecture())
		}
	}
	if a := r.CPUArchitecture; a != "" && slices.Contains(cpuArchitectures, a) && a != HostArchitecture() {
		v.invalid("CpuArchitecture", "%s is not this host's architecture (%s); leci runs no other architecture (no binfmt or qemu emulation)", a, HostArchitecture())
	}
	if r.OsType == "Windows" {
		v.invalid("OsType", "leci runs Linux containers only")
	}

	switch mems, ok := groupSizes[r.Cpu]; {
	case r.Cpu < 0 || r.Memory < 0:
		// notNegative said so.
	case r.Cpu != 0 && !ok:
		v.cpuMemory("Cpu", fmt.Sprintf("%g vCPUs is not a size ECI offers (%s)", r.Cpu, numbers(groupCPUs())))
	case r.Cpu != 0 && r.Memory != 0 && !slices.Contains(mems, r.Memory):
		v.cpuMemory("Memory", fmt.Sprintf("%g GiB does not go with %g vCPUs (%s GiB do)", r.Memory, r.Cpu, numbers(mems)))
	case r.Cpu == 0 && r.Memory > maxGroupMemory:
		v.cpuMemory("Memory", fmt.Sprintf("%g GiB is more than the largest group ECI offers (%d GiB)", r.Memory, maxGroupMemory))
	}

	cpuCap, memCap := float64(maxGroupCPU), float64(maxGroupMemory)
	if r.Cpu > 0 {
		cpuCap = r.Cpu
	}
	if r.Memory > 0 {
		memCap = r.Memory
	}
	var appCPU, appMem float64
	check := func(field string, c *ContainerCommon) {
		if c.Cpu > cpuCap {
			v.cpuMemory(field+".Cpu", fmt.Sprintf("%g vCPUs is more than the group's %g", c.Cpu, cpuCap))
		}
		if c.Memory > memCap {
			v.cpuMemory(field+".Memory", fmt.Sprintf("%g GiB is more than the group's %g", c.Memory, memCap))
		}
	}
	for i := range r.InitContainer {
		check(idx("InitContainer", i), &r.InitContainer[i].ContainerCommon)
	}
	for i := range r.Container {
		c := &r.Container[i].ContainerCommon
		check(idx("Container", i), c)
		appCPU += max(c.Cpu, 0)
		appMem += max(c.Memory, 0)
	}
	if appCPU > cpuCap {
		v.cpuMemory("Container", fmt.Sprintf("the app containers ask for %g vCPUs together, more than the group's %g", appCPU, cpuCap))
	}
	if appMem > memCap {
		v.cpuMemory("Container", fmt.Sprintf("the app containers ask for %g GiB together, more than the group's %g", appMem, memCap))
	}
}

// AllocatedResources are the vCPUs and GiB a group holds: its own Cpu and
// Memory, or else what its containers ask for (the app containers together,
// or the largest init container, which runs alone).
func (r *CreateContainerGroupRequest) AllocatedResources() (cpu, memory float64) {
	cpu, memory = r.Cpu, r.Memory
	var appCPU, appMem, initCPU, initMem float64
	for _, c := range r.Container {
		appCPU += c.Cpu
		appMem += c.Memory
	}
	for _, c := range r.InitContainer {
		initCPU = max(initCPU, c.Cpu)
		initMem = max(initMem, c.Memory)
	}
	if cpu == 0 {
		cpu = max(appCPU, initCPU)
	}
	if memory == 0 {
		memory = max(appMem, initMem)
	}
	return cpu, memory
}
