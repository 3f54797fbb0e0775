// Package hostcap reads what this host has to give container groups: its
// CPUs, memory and GPUs, as ListUsage and DescribeAvailableResource report
// them.
package hostcap

import (
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// Capacity is a host's resources.
type Capacity struct {
	// CPUs are the CPUs this process may run on.
	CPUs int
	// MemoryBytes is the host's RAM, 0 if unknown.
	MemoryBytes int64
	// GPUs counts the NVIDIA GPU devices (/dev/nvidiaN).
	GPUs int
}

var nvidiaDevice = regexp.MustCompile(`^nvidia[0-9]+$`)

// Read reads this host's capacity.
func Read() Capacity {
	c := Capacity{CPUs: goruntime.NumCPU()}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		c.MemoryBytes = int64(si.Totalram) * int64(si.Unit)
	}
	devs, _ := filepath.Glob("/dev/nvidia*")
	for _, d := range devs {
		if fi, err := os.Stat(d); err == nil && fi.Mode()&os.ModeDevice != 0 && nvidiaDevice.MatchString(filepath.Base(d)) {
			c.GPUs++
		}
	}
	return c
}
