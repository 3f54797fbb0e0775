package nsfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"leci/internal/testutil"
)

// Namespaces pinned as files outlive the thread that made them, carry the
// hostname set inside, and are gone, files and all, once unpinned.
func TestPinIPCUTS(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	p := IPCUTS{IPC: filepath.Join(dir, "g", "ipc"), UTS: filepath.Join(dir, "g", "uts")}
	if err := PinIPCUTS(p, "web-1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Unpin() })
	if !p.Pinned() {
		t.Fatal("not pinned")
	}
	if err := PinIPCUTS(p, "again"); !errors.Is(err, ErrExists) {
		t.Errorf("pinning over live namespaces: %v, want ErrExists", err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	got := inUTS(t, p.UTS)
	if got != "web-1" {
		t.Errorf("hostname in the pinned namespace = %q, want web-1", got)
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("the process's hostname changed to %q", now)
	}
	if own, pinned := nsID(t, "/proc/self/ns/ipc"), nsID(t, p.IPC); own == pinned {
		t.Error("the pinned IPC namespace is the process's own")
	}
	if err := p.Unpin(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.IPC, p.UTS} {
		if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Unpin: %v", f, err)
		}
	}
	if err := p.Unpin(); err != nil {
		t.Errorf("second Unpin: %v", err)
	}
}

// A plain file where a namespace should be (a crash between create and
// mount) is replaced.
func TestMakePinPointReplacesPlainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipc")
	if err := os.WriteFile(path, []byte("left"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MakePinPoint(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		t.Errorf("pin point = %q, %v; want an empty file", b, err)
	}
	if IsPinned(path) {
		t.Error("a plain file counts as pinned")
	}
}

// inUTS reads the hostname inside the UTS namespace at path, on a thread
// that ends afterwards.
func inUTS(t *testing.T, path string) string {
	t.Helper()
	type result struct {
		name string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		f, err := os.Open(path)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS); err != nil {
			ch <- result{err: err}
			return
		}
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{name: unix.ByteSliceToString(u.Nodename[:])}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.name
}

func nsID(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
