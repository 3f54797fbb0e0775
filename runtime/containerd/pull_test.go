package containerd

import "testing"

func TestPullKey(t *testing.T) {
	base := PullOptions{
		Credentials: []Credential{{Server: "a", UserName: "u", Password: "p"}, {Server: "b", UserName: "v", Password: "q"}},
		PlainHTTP:   []string{"x", "y"},
		Insecure:    []string{"z"},
	}
	key := pullKey("docker.io/library/busybox:latest", base)

	reordered := PullOptions{
		Credentials: []Credential{base.Credentials[1], base.Credentials[0]},
		PlainHTTP:   []string{"y", "x"},
		Insecure:    []string{"z"},
	}
	if got := pullKey("docker.io/library/busybox:latest", reordered); got != key {
		t.Error("the order of host lists and credentials must not matter")
	}

	for name, mutate := range map[string]func(*PullOptions){
		"password": func(o *PullOptions) {
			o.Credentials = []Credential{{Server: "a", UserName: "u", Password: "other"}, base.Credentials[1]}
		},
		"plainHTTP": func(o *PullOptions) { o.PlainHTTP = []string{"x"} },
		"insecure":  func(o *PullOptions) { o.Insecure = nil },
	} {
		o := base
		mutate(&o)
		if pullKey("docker.io/library/busybox:latest", o) == key {
			t.Errorf("%s: a different option must give a different key", name)
		}
	}
	if pullKey("docker.io/library/busybox:1", base) == key {
		t.Error("a different ref must give a different key")
	}
	if got := pullKey("r", PullOptions{Credentials: []Credential{{Password: "s3cret"}}}); contains(got, "s3cret") {
		t.Errorf("password in key %q", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
