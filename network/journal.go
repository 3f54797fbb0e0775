package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"leci/internal/atomicfile"
)

// The journal is one small JSON file per group in Config.JournalDir,
// replaced atomically. Before an ADD it records the intent with all that a
// DEL needs: the conflist, the runtime values (port mappings, bandwidth),
// the namespace and the process that owns the group. Before a DEL it is
// marked so; once DEL and the namespace's removal succeeded it is removed.
// A file therefore exists for every group whose network may hold anything,
// whatever moment a crash picked, and GC can undo exactly what was done.

const journalVersion = 1

// Journal operations.
const (
	opAdd = "add"
	opDel = "del"
)

type journalEntry struct {
	Version int    `json:"version"`
	Op      string `json:"op"`
	GroupID string `json:"groupId"`
	Network string `json:"network"`
	NetNS   string `json:"netns"`
	IfName  string `json:"ifName"`
	// Conflist is the network configuration the group was added with.
	Conflist     json.RawMessage `json:"conflist,omitempty"`
	Capabilities capabilityArgs  `json:"capabilityArgs"`
	Owner        owner           `json:"owner"`
	Time         time.Time       `json:"time"`
}

// owner is a process, told apart from a later one with the same pid by its
// start time.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// self is this process.
var self = sync.OnceValue(func() owner {
	start, _ := processStart(os.Getpid())
	return owner{PID: os.Getpid(), Start: start}
})

// processStart is the start time of a process in clock ticks since boot,
// field 22 of /proc/<pid>/stat.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold anything.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// runningElsewhere tells whether o is another process of this host that
// still runs: its groups are its own business, not this process's GC's.
func (o owner) runningElsewhere() bool {
	me := self()
	if o.PID <= 0 || o.PID == me.PID {
		return false
	}
	start, err := processStart(o.PID)
	return err == nil && start == o.Start
}

func (m *Manager) journalPath(groupID string) string {
	return filepath.Join(m.cfg.JournalDir, groupID+".json")
}

// writeJournal records e for its group, atomically.
func (m *Manager) writeJournal(e journalEntry) error {
	e.Version = journalVersion
	e.Owner = self()
	e.Time = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := os.MkdirAll(m.cfg.JournalDir, 0o700); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := atomicfile.Write(m.journalPath(e.GroupID), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// readJournal returns the group's entry, nil when it has none.
func (m *Manager) readJournal(groupID string) (*journalEntry, error) {
	b, err := os.ReadFile(m.journalPath(groupID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var e journalEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("journal %s: %w", m.journalPath(groupID), err)
	}
	if e.GroupID != groupID {
		return nil, fmt.Errorf("journal %s is for group %q", m.journalPath(groupID), e.GroupID)
	}
	return &e, nil
}

func (m *Manager) removeJournal(groupID string) error {
	if err := os.Remove(m.journalPath(groupID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// journaledGroups lists the groups that have a journal entry. Entries that
// cannot be read are listed with a nil entry: their group is still known.
func (m *Manager) journaledGroups() (map[string]*journalEntry, error) {
	entries, err := os.ReadDir(m.cfg.JournalDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	out := map[string]*journalEntry{}
	for _, d := range entries {
		name := d.Name()
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || strings.HasPrefix(name, ".") || validateGroupID(id) != nil {
			// Temporary files of a write that a crash interrupted (a
			// minute old, so not one in flight), or strangers.
			if info, err := d.Info(); err == nil && strings.HasPrefix(name, ".") &&
				strings.Contains(name, ".tmp") && time.Since(info.ModTime()) > time.Minute {
				_ = os.Remove(filepath.Join(m.cfg.JournalDir, name))
			}
			continue
		}
		e, err := m.readJournal(id)
		if err != nil {
			m.log.Warn("unreadable journal entry", "group", id, "err", err)
			e = nil
		}
		out[id] = e
	}
	return out, nil
}
