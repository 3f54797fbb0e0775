package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process is a process of the host as /proc shows it.
type Process struct {
	PID int
	// Cmdline is /proc/PID/cmdline as read: the arguments, each ended by
	// a NUL; empty for a kernel thread or a zombie.
	Cmdline string
}

// Args is the process's command line split into its arguments.
func (p Process) Args() []string {
	return strings.Split(strings.TrimRight(p.Cmdline, "\x00"), "\x00")
}

// Processes lists the host's processes with their command lines. Those
// that end while it reads are left out.
func Processes() ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		procs = append(procs, Process{PID: pid, Cmdline: string(b)})
	}
	return procs, nil
}
