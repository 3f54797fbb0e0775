package containerd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

func TestOwnConfig(t *testing.T) {
	dir := "/var/lib/leci/containerd"
	var cfg struct {
		Version         int      `toml:"version"`
		Root            string   `toml:"root"`
		State           string   `toml:"state"`
		DisabledPlugins []string `toml:"disabled_plugins"`
		GRPC            struct {
			Address string `toml:"address"`
		} `toml:"grpc"`
		TTRPC struct {
			Address string `toml:"address"`
		} `toml:"ttrpc"`
	}
	if err := toml.Unmarshal([]byte(ownConfig(dir)), &cfg); err != nil {
		t.Fatalf("config is not TOML: %v\n%s", err, ownConfig(dir))
	}
	if cfg.Version != 2 {
		t.Errorf("version %d, want 2 (read by containerd 1.6)", cfg.Version)
	}
	for got, want := range map[string]string{
		cfg.Root:          filepath.Join(dir, "root"),
		cfg.State:         filepath.Join(dir, "state"),
		cfg.GRPC.Address:  filepath.Join(dir, "containerd.sock"),
		cfg.TTRPC.Address: filepath.Join(dir, "containerd.sock.ttrpc"),
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	disabled := strings.Join(cfg.DisabledPlugins, " ")
	if !strings.Contains(disabled, "io.containerd.grpc.v1.cri") {
		t.Error("CRI must be disabled")
	}
	for _, keep := range []string{"overlayfs", "runtime.v1.linux", "runtime.v2", "tasks"} {
		if strings.Contains(disabled, keep) {
			t.Errorf("%s must stay enabled", keep)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{Address: AutoAddress, Namespace: "leci", Root: "/var/lib/leci"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestEnsureOwnRejectsLongRoot(t *testing.T) {
	dir := "/" + strings.Repeat("x", 100) + "/containerd"
	if _, err := ensureOwn(context.Background(), dir, nil); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("got %v, want a too-long error", err)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions, so a second open in the
	// same process contends like another process would.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); err == nil {
		t.Fatal("second lock taken while the first is held")
	}
	unlock()
	unlock2, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}
