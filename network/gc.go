package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/internal/netns"
)

// GC removes what the networks of groups that are gone left behind: a leci
// process killed between ADD and DEL, a DEL that failed, a host that
// rebooted. It is meant for start-up, before groups are created; Setups and
// Teardowns of this Manager wait while it runs.
//
// A group is kept when live says so, or when its journal names another
// leci process that still runs (a second `leci run` on the same root owns
// its groups). Every other group leci's state knows of (journal, libcni
// cache, pinned namespace, address allocation) gets a CNI DEL with the
// configuration and runtime values it was added with, its namespace
// unpinned and its journal removed. Then what no kept group owns is swept:
//   - host-local allocations (leci's own network);
//   - pinned namespace files and libcni cache entries;
//   - veths on leci's bridge (leci's own network);
//   - the bandwidth plugin's ifb devices of those groups;
//   - portmap's per-group chains (CNI-DN-...) with their rules in
//     CNI-HOSTPORT-DNAT, the bridge plugin's masquerade chains, and the
//     firewall plugin's rules in CNI-FORWARD for the groups' addresses.
//
// Objects of other networks and other CNI users are not touched: a chain or
// device is leci's when its name is the hash of this network and a group
// leci knows of, or when it points at an address of leci's subnets. The
// chains every CNI user shares (CNI-HOSTPORT-DNAT, -SETMARK, -MASQ,
// CNI-FORWARD, CNI-ADMIN) stay: the plugins create them once and never
// remove them, and removing them would race with other runtimes' ADDs.
func (m *Manager) GC(ctx context.Context, live func(groupID string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if live == nil {
		live = func(string) bool { return false }
	}
	start := time.Now()
	st, err := m.readState()
	if err != nil {
		return fmt.Errorf("network gc: %w", err)
	}
	keep := st.keeper(live)
	var errs []error
	collected := 0
	for _, id := range st.sortedIDs() {
		if keep(id) {
			continue
		}
		if err := m.teardown(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", id, err))
			continue
		}
		collected++
	}
	swept, err := m.sweep(ctx, st.ids, live)
	errs = append(errs, err)
	m.log.InfoContext(ctx, "network gc", "groups", collected, "swept", swept, "took", time.Since(start))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network gc: %w", err)
	}
	return nil
}

// gcState is what leci's files say about the groups of the network.
type gcState struct {
	// ids are every group any of the files names.
	ids map[string]bool
	// journals are the groups' journal entries (nil when unreadable).
	journals map[string]*journalEntry
	// allocations are host-local's address files (leci's own network):
	// path to the group that holds the address.
	allocations map[string]allocation
	// netns are the files in StateDir, by group.
	netns map[string]bool
	// cached are libcni's cache files of the network, by group.
	cached map[string]string
}

type allocation struct {
	groupID string
	addr    netip.Addr
}

func (st *gcState) sortedIDs() []string {
	ids := make([]string, 0, len(st.ids))
	for id := range st.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// keeper tells the groups to keep: live ones, and those another running
// leci process owns.
func (st *gcState) keeper(live func(string) bool) func(string) bool {
	return func(id string) bool {
		if live(id) {
			return true
		}
		e := st.journals[id]
		return e != nil && e.Owner.runningElsewhere()
	}
}

func (m *Manager) readState() (*gcState, error) {
	st := &gcState{
		ids:         map[string]bool{},
		allocations: map[string]allocation{},
		netns:       map[string]bool{},
		cached:      map[string]string{},
	}
	var err error
	if st.journals, err = m.journaledGroups(); err != nil {
		return nil, err
	}
	for id := range st.journals {
		st.ids[id] = true
	}

	entries, err := os.ReadDir(m.cfg.StateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if validateGroupID(e.Name()) == nil {
			st.netns[e.Name()] = true
			st.ids[e.Name()] = true
		}
	}

	resultsDir := filepath.Join(m.cfg.CacheDir, "results")
	entries, err = os.ReadDir(resultsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), m.list.Name+"-")
		if !ok {
			continue
		}
		id, ok := strings.CutSuffix(rest, "-"+ifName)
		if ok && validateGroupID(id) == nil {
			st.cached[id] = filepath.Join(resultsDir, e.Name())
			st.ids[id] = true
		}
	}

	if !m.user {
		dir := filepath.Join(m.cfg.IPAMDir, m.list.Name)
		entries, err = os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		for _, e := range entries {
			addr, err := netip.ParseAddr(e.Name())
			if err != nil {
				continue // lock, last_reserved_ip.N
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			// host-local writes "<id>\r\n<ifname>" (older versions "<id>").
			id, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\r\n")
			id = strings.TrimSpace(id)
			st.allocations[filepath.Join(dir, e.Name())] = allocation{groupID: id, addr: addr}
			if validateGroupID(id) == nil {
				st.ids[id] = true
			}
		}
	}
	return st, nil
}

// masqChain matches the bridge plugin's per-group masquerade chains.
var masqChain = regexp.MustCompile(`^CNI-[0-9a-f]{24}$`)

// sweep removes what no kept group owns. Kernel objects are listed before
// leci's files are read again: a group that another process is setting up
// right now has its journal written before it makes anything, so whatever
// of it was listed is then seen as kept.
func (m *Manager) sweep(ctx context.Context, known map[string]bool, live func(string) bool) (int, error) {
	var errs []error
	swept := 0
	net := m.list.Name

	var veths []netlink.Link
	if !m.user {
		var err error
		if veths, err = bridgeVeths(m.cfg.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	type listed struct {
		ipt             iptables
		nat, filt       *table
		natErr, filtErr error
	}
	var tables []listed
	for _, ipt := range hostIPTables() {
		l := listed{ipt: ipt}
		l.nat, l.natErr = ipt.list(ctx, "nat")
		l.filt, l.filtErr = ipt.list(ctx, "filter")
		tables = append(tables, l)
	}

	st, err := m.readState()
	if err != nil {
		return swept, errors.Join(append(errs, err)...)
	}
	for id := range known {
		st.ids[id] = true
	}
	keep := st.keeper(live)
	kept := map[string]bool{}
	for id := range st.ids {
		if keep(id) {
			kept[id] = true
		}
	}

	// Address allocations, and the addresses kept groups hold.
	keptAddrs := map[netip.Addr]bool{}
	for path, a := range st.allocations {
		if kept[a.groupID] {
			keptAddrs[a.addr] = true
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		m.log.InfoContext(ctx, "gc: address allocation removed", "addr", a.addr, "group", a.groupID)
		swept++
	}
	// Pinned namespaces and cache entries.
	for id := range st.netns {
		if kept[id] {
			continue
		}
		if err := removeNetNS(m.NetNSPath(id)); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.InfoContext(ctx, "gc: network namespace removed", "group", id)
		swept++
	}
	for id, path := range st.cached {
		if kept[id] {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		swept++
	}

	// Veths on the bridge that are not a kept group's.
	if len(veths) > 0 {
		keptIndexes, keptNames := m.keptVeths(kept)
		for _, l := range veths {
			a := l.Attrs()
			if keptIndexes[a.Index] || keptNames[a.Name] {
				continue
			}
			// The ifb device that egress shaping redirects the veth's
			// traffic to goes with it, whoever it was named for.
			for _, ifb := range redirectTargets(l) {
				if err := netlink.LinkDel(ifb); err != nil && !isLinkGone(err) {
					errs = append(errs, fmt.Errorf("delete ifb %s: %w", ifb.Attrs().Name, err))
				} else {
					m.log.InfoContext(ctx, "gc: ifb removed", "ifb", ifb.Attrs().Name, "veth", a.Name)
					swept++
				}
			}
			if err := netlink.LinkDel(l); err != nil && !isLinkGone(err) {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", a.Name, err))
				continue
			}
			m.log.InfoContext(ctx, "gc: veth removed", "veth", a.Name)
			swept++
		}
	}

	// ifb devices of the groups not kept.
	for id := range st.ids {
		if kept[id] {
			continue
		}
		name := ifbName(net, id)
		l, err := netlink.LinkByName(name)
		if err != nil {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !isLinkGone(err) {
			errs = append(errs, fmt.Errorf("delete ifb %s: %w", name, err))
			continue
		}
		m.log.InfoContext(ctx, "gc: ifb removed", "ifb", name, "group", id)
		swept++
	}

	// iptables.
	keptChains, knownChains := map[string]bool{}, map[string]bool{}
	for id := range st.ids {
		for _, c := range []string{chainName("DN-", net, id), chainName("", net, id)} {
			if kept[id] {
				keptChains[c] = true
			} else {
				knownChains[c] = true
			}
		}
	}
	for _, l := range tables {
		if l.natErr != nil {
			errs = append(errs, l.natErr)
		} else {
			n, err := m.sweepNAT(ctx, l.ipt, l.nat, keptChains, knownChains)
			swept += n
			errs = append(errs, err)
		}
		if l.filtErr != nil {
			errs = append(errs, l.filtErr)
		} else {
			n, err := m.sweepFirewall(ctx, l.ipt, l.filt, keptAddrs)
			swept += n
			errs = append(errs, err)
		}
	}
	return swept, errors.Join(errs...)
}

// ownAddr tells whether addr is in one of leci's own subnets.
func (m *Manager) ownAddr(addr netip.Addr) bool {
	if m.user || !addr.IsValid() {
		return false
	}
	for _, s := range []string{m.cfg.Subnet, m.cfg.Subnet6} {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// sweepNAT removes portmap's and the bridge's per-group chains that are
// leci's and not a kept group's.
func (m *Manager) sweepNAT(ctx context.Context, ipt iptables, tab *table, kept, known map[string]bool) (int, error) {
	var errs []error
	swept := 0
	for _, c := range tab.chains {
		isDN := strings.HasPrefix(c, "CNI-DN-")
		if (!isDN && !masqChain.MatchString(c)) || kept[c] {
			continue
		}
		ours := known[c]
		for _, r := range tab.rules {
			if ours {
				break
			}
			switch {
			case isDN && r.chain == c:
				// DNAT --to-destination 10.89.0.5:80 or [fd00::5]:80
				if ap, err := netip.ParseAddrPort(r.flag("--to-destination")); err == nil {
					ours = m.ownAddr(ap.Addr())
				}
			case !isDN && r.target() == c:
				// POSTROUTING -s 10.89.0.5/32 ... -j CNI-...
				if p, err := netip.ParsePrefix(r.flag("-s")); err == nil {
					ours = m.ownAddr(p.Addr())
				}
			}
		}
		if !ours {
			continue
		}
		if err := ipt.deleteChain(ctx, tab, c); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.InfoContext(ctx, "gc: iptables chain removed", "chain", c, "iptables", filepath.Base(ipt.bin))
		swept++
	}
	return swept, errors.Join(errs...)
}

// sweepFirewall removes the firewall plugin's rules for addresses of
// leci's subnets that no kept group holds.
func (m *Manager) sweepFirewall(ctx context.Context, ipt iptables, tab *table, keptAddrs map[netip.Addr]bool) (int, error) {
	var errs []error
	swept := 0
	for _, r := range tab.rules {
		if r.chain != "CNI-FORWARD" || r.target() != "ACCEPT" {
			continue
		}
		spec := r.flag("-s")
		if spec == "" {
			spec = r.flag("-d")
		}
		p, err := netip.ParsePrefix(spec)
		if err != nil || !p.IsSingleIP() || !m.ownAddr(p.Addr()) || keptAddrs[p.Addr().Unmap()] {
			continue
		}
		if err := ipt.deleteRule(ctx, tab.name, r); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.InfoContext(ctx, "gc: firewall rule removed", "addr", p.Addr(), "iptables", filepath.Base(ipt.bin))
		swept++
	}
	return swept, errors.Join(errs...)
}

// bridgeVeths lists the veths attached to the bridge; none when there is
// no bridge.
func bridgeVeths(bridge string) ([]netlink.Link, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		if isLinkGone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index && l.Type() == "veth" {
			out = append(out, l)
		}
	}
	return out, nil
}

// redirectTargets are the ifb devices that the link's ingress filters
// redirect to.
func redirectTargets(l netlink.Link) []netlink.Link {
	filters, err := netlink.FilterList(l, netlink.MakeHandle(0xffff, 0))
	if err != nil {
		return nil
	}
	var out []netlink.Link
	seen := map[int]bool{}
	for _, f := range filters {
		u, ok := f.(*netlink.U32)
		if !ok {
			continue
		}
		for _, a := range u.Actions {
			m, ok := a.(*netlink.MirredAction)
			if !ok || m.Ifindex <= 0 || seen[m.Ifindex] {
				continue
			}
			seen[m.Ifindex] = true
			if t, err := netlink.LinkByIndex(m.Ifindex); err == nil && t.Type() == "ifb" {
				out = append(out, t)
			}
		}
	}
	return out
}

func isLinkGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}

// keptVeths are the host-side veths of kept groups: by interface index,
// the peer of eth0 in each kept group's namespace; by name, for groups
// whose namespace cannot be entered, the veth their cached ADD result
// lists.
func (m *Manager) keptVeths(kept map[string]bool) (map[int]bool, map[string]bool) {
	indexes := map[int]bool{}
	names := map[string]bool{}
	for id := range kept {
		path := m.NetNSPath(id)
		peer := 0
		if isNetNS(path) {
			_ = netns.Run(path, func() error {
				l, err := netlink.LinkByName(ifName)
				if err == nil {
					peer = l.Attrs().ParentIndex
				}
				return err
			})
		}
		if peer > 0 {
			indexes[peer] = true
			continue
		}
		if name := m.cachedHostVeth(id); name != "" {
			names[name] = true
		}
	}
	return indexes, names
}

// cachedHostVeth is the host-side veth that the group's cached ADD result
// lists: the interface outside the namespace that is not the bridge.
func (m *Manager) cachedHostVeth(groupID string) string {
	res, err := m.cni.GetNetworkListCachedResult(m.list, runtimeConf(groupID, "", nil))
	if err != nil || res == nil {
		return ""
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return ""
	}
	for _, i := range r.Interfaces {
		if i.Sandbox == "" && i.Name != m.cfg.Bridge && !strings.HasPrefix(i.Name, "bwp") {
			return i.Name
		}
	}
	return ""
}
