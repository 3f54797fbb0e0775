package main

import (
	"encoding/json"
	"strings"
	"testing"

	"leci/api"
)

func TestClientTop(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock
	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host)
	if code != 0 {
		t.Fatalf("create: %d %q", code, errOut)
	}
	id := strings.TrimSpace(out)

	code, out, errOut = e.leci(t, "", "top", id, "--host", host)
	if code != 0 {
		t.Fatalf("top: %d %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	// The group's row, web's, then eth0's.
	for _, want := range [][]string{
		{"group/", "0.500", "1.000", "20.0Mi", "18.0Mi", "1006.0Mi"},
		{"web", "0.500", "1.000", "20.0Mi", "18.0Mi"},
		{"eth0", "2048", "1024"},
	} {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) >= len(want) && strings.HasPrefix(f[0], want[0]) && strings.Join(f[1:len(want)], " ") == strings.Join(want[1:], " ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no row %v in\n%s", want, out)
		}
	}

	code, out, errOut = e.leci(t, "", "top", id, "-o", "json", "--host", host)
	var r api.MetricRecord
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.CPU.UsageNanoCores != 5e8 {
		t.Errorf("top -o json: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := e.leci(t, "", "top", "eci-nothere", "--host", host); code == 0 {
		t.Errorf("top of an unknown group succeeded: %q", errOut)
	}
}
