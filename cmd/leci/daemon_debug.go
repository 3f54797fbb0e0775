package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"leci/internal/atomicfile"
)

// goroutineDumpPath is where the daemon writes its goroutines on SIGUSR1.
func goroutineDumpPath(root string) string {
	return filepath.Join(root, "debug", fmt.Sprintf("goroutines-%d.txt", os.Getpid()))
}

// heapProfilePath is where the daemon writes its heap profile on SIGUSR1,
// in the text form that ends with the runtime's memory statistics (go tool
// pprof reads it; -base with an earlier one shows what grew).
func heapProfilePath(root string) string {
	return filepath.Join(root, "debug", fmt.Sprintf("heap-%d.txt", os.Getpid()))
}

// dumpGoroutinesOnSignal writes the stack of every goroutine of the daemon
// to goroutineDumpPath each time it gets SIGUSR1, as containerd does: what
// a stuck daemon waits on; and its heap profile to heapProfilePath: what a
// growing one keeps (see writeDumps).
func dumpGoroutinesOnSignal(ctx context.Context, root string, log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if err := writeDumps(goroutineDumpPath(root), heapProfilePath(root)); err != nil {
				log.Warn("debug dump", "err", err)
				continue
			}
			log.Info("goroutine dump written", "path", goroutineDumpPath(root), "heap", heapProfilePath(root))
		}
	}
}

// writeDumps writes the heap profile, as of a collection made now (not the
// last one the collector chose to make: net/http/pprof's ?gc=1), in the
// text form that ends with the runtime's memory statistics; then the
// goroutines' stacks. Each file appears whole (written aside, then
// renamed), the goroutines' last, so that it says both are there. Before
// it appears, the daemon gives its free memory back to the kernel, the
// dumps' own buffers included: its RSS, read once the file is there, is
// what it keeps rather than where the collector's pace left it (the soak
// compares two such readings).
func writeDumps(goroutinesPath, heapPath string) error {
	if err := os.MkdirAll(filepath.Dir(goroutinesPath), 0o700); err != nil {
		return err
	}
	if err := writeHeapProfile(heapPath); err != nil {
		return err
	}
	// The goroutines' file is written aside as atomicfile does, but renamed
	// only once the memory is given back: its name is the signal.
	f, err := os.CreateTemp(filepath.Dir(goroutinesPath), "."+filepath.Base(goroutinesPath)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename there is nothing to remove
	err = pprof.Lookup("goroutine").WriteTo(f, 2)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	debug.FreeOSMemory()
	return os.Rename(f.Name(), goroutinesPath)
}

// writeHeapProfile writes the heap profile as of a collection just made,
// in pprof's text form, to path. The free memory is given back first, so
// that the statistics' HeapIdle less HeapReleased is what the runtime
// would not give back (spans it keeps for reuse), not what it had not
// given back yet.
func writeHeapProfile(path string) error {
	debug.FreeOSMemory()
	var prof bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&prof, 1); err != nil {
		return err
	}
	return atomicfile.Write(path, prof.Bytes(), 0o600)
}
