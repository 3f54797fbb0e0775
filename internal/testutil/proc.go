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

// PIDs lists the host's processes.
func PIDs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Processes lists the host's processes with their command lines. Those
// that end while it reads are left out.
func Processes() ([]Process, error) {
	pids, err := PIDs()
	if err != nil {
		return nil, err
	}
	var procs []Process
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		procs = append(procs, Process{PID: pid, Cmdline: string(b)})
	}
	return procs, nil
}

// ProcStat is what /proc/PID/stat says of a process that tests look at.
type ProcStat struct {
	// State is the state letter: R, S, D, Z (zombie), ...
	State string
	PPID  int
	// Comm is the command name, as the kernel keeps it (15 bytes at most).
	Comm string
	// Start is when the process started, in clock ticks after boot:
	// what orders processes by age (PIDs wrap around).
	Start uint64
}

// Stat reads /proc/pid/stat; ok is false when there is no such process.
func Stat(pid int) (_ ProcStat, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcStat{}, false
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses, so
	// cut after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ProcStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ProcStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	// starttime is the stat file's 22nd field, the 20th after comm.
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return ProcStat{State: f[0], PPID: ppid, Comm: s[strings.IndexByte(s, '(')+1 : i], Start: start}, true
}
