package api

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func decodeFile(t *testing.T, file string, format Format) *CreateContainerGroupRequest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var req CreateContainerGroupRequest
	if err := Decode(data, format, &req); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &req
}

// The every-field request decodes to equal structs from its three forms, and
// validates.
func TestEveryFieldFormsAgree(t *testing.T) {
	fromYAML := decodeFile(t, "../examples/every-field.yaml", FormatYAML)
	fromJSON := decodeFile(t, "../examples/every-field.json", FormatJSON)
	fromRPC := decodeFile(t, "../examples/every-field.rpc", FormatRPC)
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("YAML and JSON forms differ: %s", diffJSON(t, fromYAML, fromJSON))
	}
	if !reflect.DeepEqual(fromYAML, fromRPC) {
		t.Errorf("YAML and RPC forms differ: %s", diffJSON(t, fromYAML, fromRPC))
	}
	if err := fromYAML.Normalize(); err != nil {
		t.Fatalf("every-field request does not validate: %v", err)
	}
}

// Every parameter the request type holds is set somewhere in the every-field
// example, so the forms test above covers all of them.
func TestEveryFieldSetsEveryField(t *testing.T) {
	req := decodeFile(t, "../examples/every-field.yaml", FormatYAML)
	set := map[string]bool{}
	setLeaves(set, "", reflect.ValueOf(req).Elem())
	var unset []string
	for _, p := range leafPaths("", reflect.TypeFor[CreateContainerGroupRequest]()) {
		if !set[p] {
			unset = append(unset, p)
		}
	}
	if len(unset) > 0 {
		t.Errorf("every-field.yaml leaves %d parameters unset: %s", len(unset), strings.Join(unset, ", "))
	}
}

// leafPaths lists the scalar parameters of a type, lists written as [].
func leafPaths(prefix string, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var out []string
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if sf.Anonymous {
				out = append(out, leafPaths(prefix, sf.Type)...)
				continue
			}
			out = append(out, leafPaths(join(prefix, wireName(sf)), sf.Type)...)
		}
		return out
	case reflect.Slice:
		return leafPaths(prefix+"[]", t.Elem())
	}
	return []string{prefix}
}

func setLeaves(set map[string]bool, prefix string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			setLeaves(set, prefix, v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if sf.Anonymous {
				setLeaves(set, prefix, v.Field(i))
				continue
			}
			setLeaves(set, join(prefix, wireName(sf)), v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			setLeaves(set, prefix+"[]", v.Index(i))
		}
	default:
		if !v.IsZero() {
			set[prefix] = true
		}
	}
}

// The request type knows every parameter the SDK's field list names, and no
// other.
func TestRequestFieldsMatchSDK(t *testing.T) {
	data, err := os.ReadFile(requireShared(t) + "/create-request-fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		name, kind, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if name == "" || strings.HasPrefix(name, "=") || strings.Contains(kind, "object") {
			continue
		}
		want[name] = true
	}
	got := map[string]bool{}
	for _, p := range leafPaths("", reflect.TypeFor[CreateContainerGroupRequest]()) {
		got[p] = true
	}
	var missing, extra []string
	for p := range want {
		if !got[p] {
			missing = append(missing, p)
		}
	}
	for p := range got {
		if !want[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("request type vs SDK field list:\n missing: %v\n extra: %v", missing, extra)
	}
}

// Encoding to the RPC form and decoding back gives the same request.
func TestEncodeValuesRoundTrip(t *testing.T) {
	req := decodeFile(t, "../examples/every-field.yaml", FormatYAML)
	req.SetDefaults() // defaults add zero-valued pointers (grace 30) worth round-tripping
	var back CreateContainerGroupRequest
	if err := DecodeValues(EncodeValues(req), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req, &back) {
		t.Errorf("round trip differs: %s", diffJSON(t, req, &back))
	}
	zero := int64(0)
	in := &CreateContainerGroupRequest{ContainerGroupName: "g", TerminationGracePeriodSeconds: &zero}
	vals := EncodeValues(in)
	if got := vals.Get("TerminationGracePeriodSeconds"); got != "0" {
		t.Errorf("a pointer to zero encodes as %q, want \"0\"", got)
	}
	if _, ok := vals["Cpu"]; ok {
		t.Errorf("an unset Cpu is encoded: %v", vals)
	}
}
