package network

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	out := `-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N CNI-DN-3c3b8e0f3d1b0c3f3c8a1
-N CNI-HOSTPORT-DNAT
-N CNI-0123456789abcdef01234567
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -s 10.89.0.5/32 -m comment --comment "name: \"leci\" id: \"g1\"" -j CNI-0123456789abcdef01234567
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"leci\" id: \"g1\"" -m multiport --dports 8080 -j CNI-DN-3c3b8e0f3d1b0c3f3c8a1
-A CNI-DN-3c3b8e0f3d1b0c3f3c8a1 -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.89.0.5:80
`
	tab, err := parseRules("nat", out)
	if err != nil {
		t.Fatal(err)
	}
	wantChains := []string{"PREROUTING", "POSTROUTING", "CNI-DN-3c3b8e0f3d1b0c3f3c8a1", "CNI-HOSTPORT-DNAT", "CNI-0123456789abcdef01234567"}
	if !reflect.DeepEqual(tab.chains, wantChains) {
		t.Errorf("chains: got %v", tab.chains)
	}
	if len(tab.rules) != 4 {
		t.Fatalf("rules: got %d", len(tab.rules))
	}
	r := tab.rules[2]
	wantArgs := []string{"-p", "tcp", "-m", "comment", "--comment", `dnat name: "leci" id: "g1"`, "-m", "multiport", "--dports", "8080", "-j", "CNI-DN-3c3b8e0f3d1b0c3f3c8a1"}
	if r.chain != "CNI-HOSTPORT-DNAT" || !reflect.DeepEqual(r.args, wantArgs) {
		t.Errorf("rule: got %s %q", r.chain, r.args)
	}
	if r.target() != "CNI-DN-3c3b8e0f3d1b0c3f3c8a1" {
		t.Errorf("target: %q", r.target())
	}
	if got := tab.rules[3].flag("--to-destination"); got != "10.89.0.5:80" {
		t.Errorf("to-destination: %q", got)
	}
	if got := tab.rules[1].flag("-s"); got != "10.89.0.5/32" {
		t.Errorf("source: %q", got)
	}
	if _, err := parseRules("nat", `-A X -m comment --comment "open`); err == nil {
		t.Error("unterminated quote: no error")
	}
}

func TestHashedNames(t *testing.T) {
	dn := chainName("DN-", "leci", "g1")
	masq := chainName("", "leci", "g1")
	ifb := ifbName("leci", "g1")
	if len(dn) != 28 || dn[:7] != "CNI-DN-" || len(masq) != 28 || !masqChain.MatchString(masq) || len(ifb) != 15 || ifb[:3] != "bwp" {
		t.Errorf("names: %s %s %s", dn, masq, ifb)
	}
	if masqChain.MatchString(dn) || masqChain.MatchString("CNI-HOSTPORT-DNAT") {
		t.Error("masquerade chain pattern too wide")
	}
	// The same hash of network and group ID behind all three, as the
	// plugins make it.
	if dn[7:] != masq[4:4+21] || ifb[3:] != masq[4:16] {
		t.Errorf("names do not share the hash: %s %s %s", dn, masq, ifb)
	}
	if chainName("DN-", "leci", "g2") == dn || chainName("DN-", "leci2", "g1") == dn {
		t.Error("names do not depend on network and group")
	}
}

func TestAdviceDueOncePerPeriod(t *testing.T) {
	stamp := filepath.Join(t.TempDir(), "state", forwardCheckStamp)
	if !adviceDue(stamp) {
		t.Fatal("never checked, yet not due")
	}
	if adviceDue(stamp) {
		t.Error("due again right after the check")
	}
	old := time.Now().Add(-adviceEvery - time.Minute)
	if err := os.Chtimes(stamp, old, old); err != nil {
		t.Fatal(err)
	}
	if !adviceDue(stamp) {
		t.Errorf("checked %s ago, yet not due", adviceEvery+time.Minute)
	}
}
