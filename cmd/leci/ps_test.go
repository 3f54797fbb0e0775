package main

import (
	"encoding/json"
	"strings"
	"testing"

	"leci/api"
)

// leci ps as docker users expect it: running groups by default, -a for the
// ended ones, -q, --filter, -o yaml and --format templates.
func TestClientPs(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock
	create := func(req string) string { return e.create(t, host, req) }
	web := create(webYAML)
	tagged := create("ContainerGroupName: tagged\nTag: [{Key: env, Value: prod}]\nContainer:\n  - {Name: app, Image: busybox}\n")
	done := create("ContainerGroupName: done\nContainer:\n  - {Name: app, Image: busybox}\n")
	e.groups.mu.Lock()
	st := e.groups.groups[done]
	st.Phase = api.GroupSucceeded
	e.groups.groups[done] = st
	e.groups.mu.Unlock()

	lines := func(s string) []string { return strings.Fields(s) }
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-q"}, []string{web, tagged}},
		{[]string{"-q", "-a"}, []string{web, tagged, done}},
		{[]string{"-q", "--filter", "status=Succeeded"}, []string{done}},
		{[]string{"-q", "--filter", "status=Succeeded", "--filter", "status=Running"}, []string{web, tagged, done}},
		{[]string{"-q", "--filter", "name=cli-web"}, []string{web}},
		{[]string{"-q", "--filter", "tag:env=prod"}, []string{tagged}},
		{[]string{"-q", "--filter", "tag:env=dev"}, nil},
		{[]string{"-q", "-a", "--filter", "id=" + done}, []string{done}},
	} {
		code, out, errOut := e.leci(t, "", append([]string{"ps", "--host", host}, tc.args...)...)
		got := lines(out)
		if code != 0 || !sameSet(got, tc.want) {
			t.Errorf("ps %v: %d %q %q, want %q", tc.args, code, got, errOut, tc.want)
		}
	}

	code, out, errOut := e.leci(t, "", "ps", "--host", host, "--format", "{{.ContainerGroupId}} {{.Status}} {{len .Containers}}", "--filter", "name=cli-web")
	if code != 0 || out != web+" Running 2\n" {
		t.Errorf("ps --format: %d %q %q", code, out, errOut)
	}
	code, out, _ = e.leci(t, "", "ps", "--host", host, "--format", "{{json .Tags}}", "--filter", "tag:env=prod")
	if code != 0 || out != `[{"Key":"env","Value":"prod"}]`+"\n" {
		t.Errorf("ps --format json: %d %q", code, out)
	}
	code, out, _ = e.leci(t, "", "ls", "--host", host, "-o", "yaml", "--filter", "name=cli-web")
	if code != 0 || !strings.Contains(out, "\n  ContainerGroupId: "+web+"\n") || !strings.HasPrefix(out, "- ") {
		t.Errorf("ls -o yaml: %d %q", code, out)
	}
	code, out, _ = e.leci(t, "", "ps", "--host", host, "-o", "json", "-a")
	var groups []api.ContainerGroupDetail
	if code != 0 || json.Unmarshal([]byte(out), &groups) != nil || len(groups) != 3 {
		t.Errorf("ps -o json -a: %d %q", code, out)
	}
	code, out, _ = e.leci(t, "", "ps", "--host", host, "-o", "wide")
	if code != 0 || !strings.Contains(out, "IMAGES") || !strings.Contains(out, "busybox:1.35,busybox:1.35") {
		t.Errorf("ps -o wide: %d %q", code, out)
	}
	for _, args := range [][]string{
		{"--filter", "status=Sleeping"}, {"--filter", "colour=red"}, {"--filter", "tag:=x"},
		{"-o", "xml"}, {"--format", "{{.Nope"}, {"-o", "json", "--format", "{{.Status}}"},
	} {
		if code, _, errOut := e.leci(t, "", append([]string{"ps", "--host", host}, args...)...); code != exitUsage {
			t.Errorf("ps %v: %d %q, want 2", args, code, errOut)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
