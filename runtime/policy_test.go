package runtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"leci/api"
)

// A privileged container is refused unless the engine allows them, before
// anything is recorded or written; allowed, the group runs.
func TestCreateRefusesPrivilegedUnlessAllowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		privileged := func() *api.CreateContainerGroupRequest {
			req := testRequest("Never", nil, []string{"app", "root"})
			req.Container[1].SecurityContextPrivileged = true
			return req
		}
		b := newFakeBackend()
		rec := &memRecorder{groups: map[string]GroupStatus{}}
		root := t.TempDir()
		e := testEngine(t, b, &fakeNet{}, fakeVolumes{}, Options{Root: root, Backoff: fastBackoff, Recorder: rec}, slog.New(slog.DiscardHandler))
		_, err := e.Create(context.Background(), privileged())
		var ae *api.Error
		if !errors.Is(err, ErrForbiddenPrivileged) || !errors.As(err, &ae) {
			t.Fatalf("Create of a privileged container: %v, want Forbidden.Privileged", err)
		}
		if ae.Status != http.StatusForbidden || ae.Field != "Container.2.SecurityContextPrivileged" {
			t.Errorf("error %+v, want HTTP 403 naming Container.2.SecurityContextPrivileged", ae)
		}
		if len(rec.groups) != 0 || len(e.List()) != 0 {
			t.Errorf("a refused create left %d records and %d groups", len(rec.groups), len(e.List()))
		}
		if entries, _ := os.ReadDir(filepath.Join(root, "groups")); len(entries) != 0 {
			t.Errorf("a refused create left %d group directories", len(entries))
		}

		allowed := testEngine(t, newFakeBackend(), &fakeNet{}, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff, AllowPrivileged: true}, slog.New(slog.DiscardHandler))
		id, err := allowed.Create(context.Background(), privileged())
		if err != nil {
			t.Fatalf("Create with AllowPrivileged: %v", err)
		}
		waitFor(t, allowed, id, phaseIs(api.GroupRunning))
		if err := allowed.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGroupResources(t *testing.T) {
	opts := Options{PidsLimit: 4096, DefaultMemoryBytes: 4 << 30}
	req := func(group float64, apps, inits []float64) *api.CreateContainerGroupRequest {
		r := &api.CreateContainerGroupRequest{Cpu: 1, Memory: group}
		for _, m := range apps {
			r.Container = append(r.Container, api.Container{ContainerCommon: api.ContainerCommon{Memory: m}})
		}
		for _, m := range inits {
			r.InitContainer = append(r.InitContainer, api.InitContainer{ContainerCommon: api.ContainerCommon{Memory: m}})
		}
		return r
	}
	for _, c := range []struct {
		name string
		req  *api.CreateContainerGroupRequest
		opts Options
		mem  int64
	}{
		{"the request's memory", req(2, nil, nil), opts, 2 << 30},
		{"the default when none is given", req(0, []float64{0, 0}, nil), opts, 4 << 30},
		{"raised to the app containers' sum", req(0, []float64{3, 2}, nil), opts, 5 << 30},
		{"raised to the largest init container", req(0, []float64{1}, []float64{6, 1}), opts, 6 << 30},
		{"unlimited when the default is off", req(0, nil, nil), Options{PidsLimit: 10}, 0},
	} {
		got := groupResources(c.req, c.opts)
		if got.MemoryBytes != c.mem || got.Pids != c.opts.PidsLimit || got.CPU != 1 {
			t.Errorf("%s: %+v, want memory %d, pids %d, cpu 1", c.name, got, c.mem, c.opts.PidsLimit)
		}
	}
}
