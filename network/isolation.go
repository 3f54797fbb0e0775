package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// What keeps the groups on leci's bridge from the host and from each other
// beyond what the plugins do.
//
// portmap turns route_localnet on for the bridge, so that ports published
// on 127.0.0.1 reach the groups; it also lets packets from the groups to
// 127.0.0.0/8 in, to every service bound to the host's loopback. leci
// drops those, as kube-proxy does (its KUBE-FIREWALL rule), in a chain of
// its own in the filter table that INPUT jumps to first: one rule per
// bridge, kept with the bridge. Replies and port-published traffic are
// conntrack's RELATED, ESTABLISHED or DNAT and pass.
//
// Router advertisements are ignored by the bridge and by every group's
// interfaces: on a shared bridge any group could otherwise make itself the
// IPv6 router of the host and of the other groups.

// localnetChain is leci's chain in the filter table.
const localnetChain = "LECI-LOCALNET"

// localnetRule is the rule of localnetChain for a bridge.
func localnetRule(bridge string) []string {
	return []string{"!", "-s", "127.0.0.0/8", "-d", "127.0.0.0/8", "-i", bridge,
		"-m", "comment", "--comment", "leci: groups do not reach the host's loopback",
		"-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"}
}

// guardLoopback makes sure the filter table drops packets from bridge to
// 127.0.0.0/8: leci's chain, the jump to it at the head of INPUT, and the
// bridge's rule. Another leci process may be doing the same: what exists
// already is left as it is.
func guardLoopback(ctx context.Context, bridge string) error {
	p, err := exec.LookPath("iptables")
	if err != nil {
		return fmt.Errorf("guard the host's loopback: %w", err)
	}
	ipt := iptables{bin: p}
	tab, err := ipt.list(ctx, "filter")
	if err != nil {
		return fmt.Errorf("guard the host's loopback: %w", err)
	}
	if !tab.hasChain(localnetChain) {
		if _, err := ipt.run(ctx, "-t", "filter", "-N", localnetChain); err != nil {
			// Made by another process meanwhile?
			if again, lerr := ipt.list(ctx, "filter"); lerr != nil || !again.hasChain(localnetChain) {
				return fmt.Errorf("guard the host's loopback: %w", err)
			}
		}
	}
	if !slices.ContainsFunc(tab.rules, func(r rule) bool { return r.chain == "INPUT" && r.target() == localnetChain }) {
		if _, err := ipt.run(ctx, "-t", "filter", "-I", "INPUT", "1", "-j", localnetChain); err != nil {
			return fmt.Errorf("guard the host's loopback: %w", err)
		}
	}
	// -C compares rules as iptables understands them, whatever order -S
	// prints their parts in.
	if _, err := ipt.run(ctx, append([]string{"-t", "filter", "-C", localnetChain}, localnetRule(bridge)...)...); err == nil {
		return nil
	}
	if _, err := ipt.run(ctx, append([]string{"-t", "filter", "-A", localnetChain}, localnetRule(bridge)...)...); err != nil {
		return fmt.Errorf("guard the host's loopback: %w", err)
	}
	return nil
}

// ignoreRouterAdvertisements runs inside a group's namespace before its
// interface is made: the interfaces made after it take default's value.
func ignoreRouterAdvertisements() error {
	for _, iface := range []string{"all", "default"} {
		if err := setSysctl(filepath.Join("/proc/sys/net/ipv6/conf", iface, "accept_ra"), "0"); err != nil {
			return err
		}
	}
	return nil
}

// bridgeIgnoresRouterAdvertisements sets the bridge's accept_ra to 0.
func bridgeIgnoresRouterAdvertisements(bridge string) error {
	return setSysctl(filepath.Join("/proc/sys/net/ipv6/conf", bridge, "accept_ra"), "0")
}

// setSysctl writes value to a sysctl file unless it holds it already. A
// missing file (a kernel without IPv6) is nothing to do.
func setSysctl(path, value string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", path, err)
	}
	return nil
}
