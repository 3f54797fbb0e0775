package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"leci/internal/atomicfile"
)

// goroutineDumpPath is where the daemon writes its goroutines on SIGUSR1.
func goroutineDumpPath(root string) string {
	return filepath.Join(root, "debug", fmt.Sprintf("goroutines-%d.txt", os.Getpid()))
}

// dumpGoroutinesOnSignal writes the stack of every goroutine of the daemon
// to goroutineDumpPath each time it gets SIGUSR1, as containerd does: what
// a stuck daemon waits on, or a growing one keeps. The file appears whole
// (written aside, then renamed).
func dumpGoroutinesOnSignal(ctx context.Context, root string, log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if err := writeGoroutineDump(goroutineDumpPath(root)); err != nil {
				log.Warn("goroutine dump", "err", err)
				continue
			}
			log.Info("goroutine dump written", "path", goroutineDumpPath(root))
		}
	}
}

func writeGoroutineDump(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	var dump bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 2); err != nil {
		return err
	}
	return atomicfile.Write(path, dump.Bytes(), 0o600)
}
