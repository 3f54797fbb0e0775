package network

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestJournal(t *testing.T) {
	m := unitManager(t)
	if e, err := m.readJournal("g1"); e != nil || err != nil {
		t.Fatalf("no journal: got %+v, %v", e, err)
	}
	caps := capabilityArgs{
		PortMappings: []portMapEntry{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"}},
		Bandwidth:    &bandwidthEntry{EgressRate: 8000, EgressBurst: 262144},
	}
	in := journalEntry{Op: opAdd, GroupID: "g1", Network: "leci", NetNS: m.NetNSPath("g1"), IfName: "eth0", Conflist: m.list.Bytes, Capabilities: caps}
	if err := m.writeJournal(in); err != nil {
		t.Fatal(err)
	}
	got, err := m.readJournal("g1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Op != opAdd || got.Version != journalVersion || got.Owner != self() || got.Time.IsZero() ||
		!reflect.DeepEqual(got.Capabilities, caps) || got.NetNS != in.NetNS {
		t.Errorf("read back %+v", got)
	}
	st, err := os.Stat(m.journalPath("g1"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal file: %v, %v", st, err)
	}

	// A stranger and an interrupted write are not groups.
	os.WriteFile(filepath.Join(m.cfg.JournalDir, ".g2.json.tmp123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(m.cfg.JournalDir, "README"), nil, 0o600)
	groups, err := m.journaledGroups()
	if err != nil || len(groups) != 1 || groups["g1"] == nil {
		t.Errorf("journaled groups: got %v, %v, want g1", groups, err)
	}
	// An unreadable entry still names its group.
	os.WriteFile(m.journalPath("g3"), []byte("{not json"), 0o600)
	groups, _ = m.journaledGroups()
	if e, ok := groups["g3"]; !ok || e != nil {
		t.Errorf("unreadable entry: got %v, %v, want g3 listed with nil", e, ok)
	}
	// An entry under another group's name is refused.
	b, _ := os.ReadFile(m.journalPath("g1"))
	os.WriteFile(m.journalPath("g4"), b, 0o600)
	if _, err := m.readJournal("g4"); err == nil {
		t.Error("entry of g1 read as g4's")
	}

	if err := m.removeJournal("g1"); err != nil {
		t.Fatal(err)
	}
	if err := m.removeJournal("g1"); err != nil {
		t.Errorf("second remove: %v", err)
	}
}

func TestOwner(t *testing.T) {
	me := self()
	if me.PID != os.Getpid() || me.Start == 0 {
		t.Fatalf("self: %+v", me)
	}
	if me.runningElsewhere() {
		t.Error("this process counts as another")
	}
	start, err := processStart(1)
	if err != nil {
		t.Skipf("no /proc/1/stat: %v", err)
	}
	if !(owner{PID: 1, Start: start}).runningElsewhere() {
		t.Error("pid 1 does not count as running")
	}
	if (owner{PID: 1, Start: start + 1}).runningElsewhere() {
		t.Error("pid 1 with another start time counts as running (pid reuse)")
	}
	if (owner{}).runningElsewhere() {
		t.Error("no owner counts as running")
	}
}
