//go:build integration

package integration

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"leci/internal/testutil"
	"leci/internal/trace"
)

// This file holds what the benchmarks measure besides wall time: the
// processes a group adds to the host and their memory, and the per-step
// trace of the engine.

// proc is one process of the host, as /proc shows it.
type proc struct {
	pid, ppid int
	state     byte   // R, S, Z, ...
	label     string // the binary's name, with its subcommand: "leci log-writer"
	cgroup    string // the pids controller's path (v1), or the unified one
}

// hostProcs reads every process of the host. Processes that end while
// they are read are left out.
func hostProcs() map[int]proc {
	procs := map[int]proc{}
	pids, _ := testutil.PIDs()
	for _, pid := range pids {
		p, ok := readProc(pid)
		if ok {
			procs[pid] = p
		}
	}
	return procs
}

func readProc(pid int) (proc, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	st, ok := testutil.Stat(pid)
	if !ok {
		return proc{}, false
	}
	p := proc{pid: pid, state: st.State[0], ppid: st.PPID, label: st.Comm}
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmdline) > 0 {
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		p.label = filepath.Base(args[0])
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") && !strings.Contains(args[1], "/") {
			p.label += " " + args[1]
		}
	}
	cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "pids") {
			p.cgroup = parts[2]
			break
		}
		if parts[0] == "0" && parts[1] == "" {
			p.cgroup = parts[2] // kept unless a v1 pids line comes
		}
	}
	return p, true
}

// groupProcs are the processes the groups whose cgroups lie under
// cgroupRoot bring to the host: the containerd shims that run them, and
// every process below those shims (log writers, sandbox processes) but the
// containers' own. A container's processes are those in the groups'
// cgroups, except the sandbox processes (sandboxPIDs) and theirs. It
// returns the groups' processes and the containers' processes apart.
func groupProcs(procs map[int]proc, cgroupRoot string, sandboxPIDs []int) (added, containers []proc) {
	sandboxCgroups := map[string]bool{}
	for _, pid := range sandboxPIDs {
		if p, ok := procs[pid]; ok {
			sandboxCgroups[p.cgroup] = true
		}
	}
	isContainer := func(p proc) bool { return groupOf(p, cgroupRoot) != "" && !sandboxCgroups[p.cgroup] }
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	seen := map[int]bool{}
	var walk func(pid int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		p := procs[pid]
		if isContainer(p) {
			containers = append(containers, p)
		} else {
			added = append(added, p)
		}
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, shims := range shimsByGroup(procs, cgroupRoot) {
		for _, pid := range shims {
			walk(pid)
		}
	}
	return added, containers
}

// shimsByGroup finds the shims of the groups under cgroupRoot: a shim is
// the parent of a process in a group's cgroup that is not in one itself,
// as runc leaves a container's first process to its shim.
func shimsByGroup(procs map[int]proc, cgroupRoot string) map[string][]int {
	shims := map[string][]int{}
	for _, p := range procs {
		group := groupOf(p, cgroupRoot)
		if parent, ok := procs[p.ppid]; ok && group != "" && groupOf(parent, cgroupRoot) == "" && !slices.Contains(shims[group], parent.pid) {
			shims[group] = append(shims[group], parent.pid)
		}
	}
	return shims
}

// groupOf is the group whose cgroup, under cgroupRoot, p is in; "" when none.
func groupOf(p proc, cgroupRoot string) string {
	rest, ok := strings.CutPrefix(p.cgroup, cgroupRoot+"/")
	if !ok {
		return ""
	}
	group, _, _ := strings.Cut(rest, "/")
	return group
}

// memory is resident memory in KiB: Rss counts every page a process maps,
// Pss divides the shared ones among the processes that map them.
type memory struct{ rss, pss int }

// procMemory reads a process's Rss and Pss from /proc/PID/smaps_rollup.
func procMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "Rss:":
			m.rss, _ = strconv.Atoi(fields[1])
		case "Pss:":
			m.pss, _ = strconv.Atoi(fields[1])
		}
	}
	return m, nil
}

// memoryBreakdown sums the memory of procs, in all and by label, and
// writes the breakdown as a table, per group of the n groups.
func memoryBreakdown(procs []proc, n int) (total memory, table string, err error) {
	type row struct {
		label string
		count int
		memory
	}
	rows := map[string]*row{}
	for _, p := range procs {
		m, err := procMemory(p.pid)
		if err != nil {
			return memory{}, "", fmt.Errorf("memory of %s (%d): %w", p.label, p.pid, err)
		}
		r := rows[p.label]
		if r == nil {
			r = &row{label: p.label}
			rows[p.label] = r
		}
		r.count++
		r.rss += m.rss
		r.pss += m.pss
		total.rss += m.rss
		total.pss += m.pss
	}
	sorted := slices.SortedFunc(func(yield func(*row) bool) {
		for _, r := range rows {
			if !yield(r) {
				return
			}
		}
	}, func(a, b *row) int { return cmp.Compare(b.pss, a.pss) })
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "process\tcount\tRSS MiB\tPSS MiB\tRSS MiB/group\tPSS MiB/group\t\n")
	line := func(label string, count int, m memory) {
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t\n", label, count,
			mib(m.rss), mib(m.pss), mib(m.rss)/float64(n), mib(m.pss)/float64(n))
	}
	for _, r := range sorted {
		line(r.label, r.count, r.memory)
	}
	line("all", len(procs), total)
	w.Flush()
	return total, buf.String(), nil
}

func mib(kib int) float64 { return float64(kib) / 1024 }

// traced is what one group, or one process, recorded of its steps.
type traced struct {
	// origin is what step starts are offset from: the process's fork, or
	// (zero) the first step's start.
	origin time.Time
	// end, when known, is when it ended: the process's exit.
	end   time.Time
	steps []trace.Step
}

// groupsTraced picks the steps of groups out of a trace, one traced per
// group that recorded any.
func groupsTraced(steps []trace.Step, groups []string) []traced {
	byGroup := map[string][]trace.Step{}
	for _, s := range steps {
		byGroup[s.Group] = append(byGroup[s.Group], s)
	}
	var out []traced
	for _, g := range groups {
		if len(byGroup[g]) > 0 {
			out = append(out, traced{steps: byGroup[g]})
		}
	}
	return out
}

// stepTable summarizes traces: for each step name, how many times it ran,
// the n-th run of a name within one trace counted as a step of its own,
// its median start offset (from the trace's origin) and its median
// duration, sorted by that offset; and the median span, from the origin to
// the last step's end, or to the end when known. It works with whatever
// step names were recorded.
func stepTable(units []traced) string {
	type stat struct {
		name          string
		took, offsets []float64
		errs          int
	}
	stats := map[string]*stat{}
	var spans []float64
	for _, u := range units {
		if len(u.steps) == 0 {
			continue
		}
		origin, last := u.origin, u.end
		for _, s := range u.steps {
			if u.origin.IsZero() && (origin.IsZero() || s.Start.Before(origin)) {
				origin = s.Start
			}
			if end := s.Start.Add(time.Duration(s.MS * float64(time.Millisecond))); u.end.IsZero() && end.After(last) {
				last = end
			}
		}
		spans = append(spans, ms(last.Sub(origin)))
		// A name that recurs in a run (a backend step of each container)
		// is told apart by its rank: "task.new", "task.new #2", ...
		inOrder := slices.SortedStableFunc(slices.Values(u.steps), func(a, b trace.Step) int { return a.Start.Compare(b.Start) })
		seen := map[string]int{}
		for _, s := range inOrder {
			seen[s.Name]++
			name := s.Name
			if n := seen[s.Name]; n > 1 {
				name = fmt.Sprintf("%s #%d", s.Name, n)
			}
			st := stats[name]
			if st == nil {
				st = &stat{name: name}
				stats[name] = st
			}
			st.took = append(st.took, s.MS)
			st.offsets = append(st.offsets, ms(s.Start.Sub(origin)))
			if s.Err != "" {
				st.errs++
			}
		}
	}
	if len(spans) == 0 {
		return fmt.Sprintf("no steps recorded by the %d traced runs\n", len(units))
	}
	rows := make([]*stat, 0, len(stats))
	for _, st := range stats {
		rows = append(rows, st)
	}
	slices.SortFunc(rows, func(a, b *stat) int {
		return cmp.Or(cmp.Compare(median(a.offsets), median(b.offsets)), cmp.Compare(a.name, b.name))
	})
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "step\tcount\tstart ms\ttook ms\terrors\n")
	for _, st := range rows {
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%d\n", st.name, len(st.took), median(st.offsets), median(st.took), st.errs)
	}
	fmt.Fprintf(w, "(end, of %d)\t\t%.1f\t\t\n", len(spans), median(spans))
	w.Flush()
	return buf.String()
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
