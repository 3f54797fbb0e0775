package api

import (
	"encoding/json"
	"strconv"
	"testing"
)

// diffJSON compares two values by their JSON form and returns a description
// of the first difference, or "".
func diffJSON(t *testing.T, a, b any) string {
	t.Helper()
	ja, err := json.MarshalIndent(a, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if string(ja) == string(jb) {
		return ""
	}
	la, lb := splitLines(string(ja)), splitLines(string(jb))
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ": " + x + " != " + y
		}
	}
	return "differ"
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
