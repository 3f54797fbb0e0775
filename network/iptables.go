package network

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"leci/pod"
)

// The plugins name what they make outside the namespace after the network
// and the group, hashed; GC finds these again by the same names.

// chainName is the iptables chain a plugin makes for a group:
// "CNI-" + prefix + the hex SHA-512 of network name and group ID, cut to
// 28 characters (portmap's CNI-DN-..., the bridge's masquerade CNI-...).
func chainName(prefix, network, groupID string) string {
	return hashedName(28, "CNI-"+prefix, network+groupID)
}

// ifbName is the ifb device the bandwidth plugin makes for a group's
// egress shaping.
func ifbName(network, groupID string) string {
	return hashedName(15, "bwp", network+groupID)
}

func hashedName(length int, prefix, s string) string {
	sum := sha512.Sum512([]byte(s))
	return (prefix + hex.EncodeToString(sum[:]))[:length]
}

// iptablesTimeout bounds one iptables command.
const iptablesTimeout = 30 * time.Second

// iptables runs one of the host's iptables commands (iptables, ip6tables).
type iptables struct {
	bin string
}

// hostIPTables lists the iptables commands this host has.
func hostIPTables() []iptables {
	var out []iptables
	for _, name := range []string{"iptables", "ip6tables"} {
		if p, err := exec.LookPath(name); err == nil {
			out = append(out, iptables{bin: p})
		}
	}
	return out
}

func (t iptables) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, iptablesTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.bin, append([]string{"-w"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", t.bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// rule is one rule of a table, as iptables -S prints it: the chain it is
// in and its match and target arguments.
type rule struct {
	chain string
	args  []string
}

// target is the chain or target the rule jumps to ("" for none).
func (r rule) target() string {
	return r.flag("-j", "-g")
}

// flag is the value after the first of the given flags.
func (r rule) flag(names ...string) string {
	for i := 0; i+1 < len(r.args); i++ {
		for _, n := range names {
			if r.args[i] == n {
				return r.args[i+1]
			}
		}
	}
	return ""
}

// table is an iptables table: its chains and rules.
type table struct {
	name   string
	chains []string
	rules  []rule
}

// list reads a table.
func (t iptables) list(ctx context.Context, name string) (*table, error) {
	out, err := t.run(ctx, "-t", name, "-S")
	if err != nil {
		return nil, err
	}
	return parseRules(name, string(out))
}

// parseRules parses the output of iptables -S.
func parseRules(name, out string) (*table, error) {
	tab := &table{name: name}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		if len(words) < 2 {
			continue
		}
		switch words[0] {
		case "-P", "-N":
			tab.chains = append(tab.chains, words[1])
		case "-A":
			tab.rules = append(tab.rules, rule{chain: words[1], args: words[2:]})
		}
	}
	return tab, nil
}

// splitWords splits a line of iptables -S output into its arguments:
// words separated by spaces, where a double-quoted part (comments) may hold
// spaces and backslash-escaped quotes.
func splitWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case c == '"':
			quoted = !quoted
			inWord = true
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func (tab *table) hasChain(name string) bool {
	return slices.Contains(tab.chains, name)
}

// deleteRule deletes one rule.
func (t iptables) deleteRule(ctx context.Context, tab string, r rule) error {
	_, err := t.run(ctx, append([]string{"-t", tab, "-D", r.chain}, r.args...)...)
	return err
}

// deleteChain deletes a chain with the rules that jump to it.
func (t iptables) deleteChain(ctx context.Context, tab *table, name string) error {
	var errs []error
	for _, r := range tab.rules {
		if r.target() == name && r.chain != name {
			if err := t.deleteRule(ctx, tab.name, r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := t.run(ctx, "-t", tab.name, "-F", name); err != nil {
		errs = append(errs, err)
	}
	if _, err := t.run(ctx, "-t", tab.name, "-X", name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// forwardCheckStamp, beside the CNI cache directory, marks when forwardDrops
// last ran, and adviceEvery is how often it runs at most: a `leci run` is a
// process of its own each time, and need not start iptables each time to
// give the same advice.
const (
	forwardCheckStamp = "forward-policy-checked"
	adviceEvery       = 10 * time.Minute
)

// adviceDue tells whether the check that stamp marks is due, and marks it
// done now if so.
func adviceDue(stamp string) bool {
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < adviceEvery {
		return false
	}
	if err := os.MkdirAll(filepath.Dir(stamp), 0o700); err == nil {
		if f, err := os.Create(stamp); err == nil {
			f.Close()
			now := time.Now()
			os.Chtimes(stamp, now, now)
		}
	}
	return true
}

// forwardDrops tells whether the host's IPv4 FORWARD policy drops what no
// rule accepts. False when it cannot tell.
func forwardDrops() bool {
	p, err := exec.LookPath("iptables")
	if err != nil {
		return false
	}
	out, err := iptables{bin: p}.run(context.Background(), "-t", "filter", "-S", "FORWARD")
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first) == "-P FORWARD DROP"
}

// checkPortMappings verifies portmap's work for a group: for each of its
// addresses, the group's chain in the family's nat table, the jump to it
// from CNI-HOSTPORT-DNAT, and a DNAT rule to the group for every mapping
// published on that family.
func checkPortMappings(ctx context.Context, network, groupID string, n pod.Network, mappings []portMapEntry) error {
	chain := chainName("DN-", network, groupID)
	for _, family := range []struct {
		bin  string
		addr string
		is6  bool
	}{{"iptables", n.IPv4, false}, {"ip6tables", n.IPv6, true}} {
		addr, err := netip.ParseAddr(family.addr)
		if err != nil {
			continue
		}
		p, err := exec.LookPath(family.bin)
		if err != nil {
			return fmt.Errorf("%s: %w", family.bin, err)
		}
		tab, err := iptables{bin: p}.list(ctx, "nat")
		if err != nil {
			return err
		}
		if !tab.hasChain(chain) {
			return fmt.Errorf("%s: chain %s not found", family.bin, chain)
		}
		if !slices.ContainsFunc(tab.rules, func(r rule) bool { return r.chain == "CNI-HOSTPORT-DNAT" && r.target() == chain }) {
			return fmt.Errorf("%s: no jump from CNI-HOSTPORT-DNAT to %s", family.bin, chain)
		}
		for _, pm := range mappings {
			if h, err := netip.ParseAddr(pm.HostIP); err == nil && !h.IsUnspecified() && h.Unmap().Is6() != family.is6 {
				continue // published on the other family
			}
			to := netip.AddrPortFrom(addr, uint16(pm.ContainerPort)).String()
			dport := strconv.Itoa(pm.HostPort)
			if !slices.ContainsFunc(tab.rules, func(r rule) bool {
				return r.chain == chain && r.target() == "DNAT" && r.flag("--to-destination") == to && r.flag("--dport") == dport
			}) {
				return fmt.Errorf("%s: no DNAT of %s port %d to %s in %s", family.bin, pm.Protocol, pm.HostPort, to, chain)
			}
		}
	}
	return nil
}
