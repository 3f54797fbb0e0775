//go:build integration

package network

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/internal/netns"
	"leci/internal/testutil"
	"leci/pod"
)

// TestSetupIn attaches a group to a namespace a process already holds, as
// the Docker backend's sandbox does: the namespace is pinned, gets eth0 and
// outlives the process until Teardown, which leaves nothing behind.
func TestSetupIn(t *testing.T) {
	tn := newTestNet(t)
	unshare := testutil.RequireBinary(t, "unshare")
	ctx := context.Background()

	holder := exec.Command(unshare, "--net", "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	eventually(t, "the holder has its own namespace", func() bool { return !sameFile(nsPath, "/proc/self/ns/net") })

	n, err := tn.m.SetupIn(ctx, "g1", pod.NetworkOptions{}, nsPath)
	if err != nil {
		t.Fatalf("SetupIn: %v", err)
	}
	if n.NetNSPath != tn.m.NetNSPath("g1") || n.IPv4 == "" {
		t.Errorf("SetupIn: %+v, want the pinned path %s and an address", n, tn.m.NetNSPath("g1"))
	}
	if !sameFile(n.NetNSPath, nsPath) {
		t.Errorf("%s is not the holder's namespace", n.NetNSPath)
	}
	// The address is on eth0 as the holder sees it.
	err = netns.Run(nsPath, func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(eth0, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.String() == n.IPv4 }) {
			t.Errorf("eth0 addresses %v lack %s", addrs, n.IPv4)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second attach of the group is refused.
	if _, err := tn.m.SetupIn(ctx, "g1", pod.NetworkOptions{}, nsPath); err == nil {
		t.Error("second SetupIn of a group: no error")
	}

	// The holder goes; the pinned namespace stays, and so does the network,
	// until Teardown.
	holder.Process.Kill()
	holder.Wait()
	if err := tn.m.Check(ctx, "g1"); err != nil {
		t.Errorf("Check after the holder died: %v", err)
	}
	veths := tn.hostVeths(t)
	if len(veths) != 1 {
		t.Fatalf("veths %v, want one", veths)
	}
	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Lstat(n.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("netns file %s: %v, want it gone", n.NetNSPath, err)
	}
	if _, err := netlink.LinkByName(veths[0]); err == nil {
		t.Errorf("veth %s left", veths[0])
	}
	if a, j := tn.allocations(t), tn.journalFiles(t); len(a)+len(j) != 0 {
		t.Errorf("left: allocations %v, journal %v", a, j)
	}
}

// TestSetupInNotANamespace fails for a path that is no namespace and
// leaves nothing behind.
func TestSetupInNotANamespace(t *testing.T) {
	tn := newTestNet(t)
	if _, err := tn.m.SetupIn(context.Background(), "g2", pod.NetworkOptions{}, "/etc/hostname"); err == nil {
		t.Fatal("SetupIn with a plain file: no error")
	}
	if a, j, f := tn.allocations(t), tn.journalFiles(t), tn.netnsFiles(t); len(a)+len(j)+len(f) != 0 {
		t.Errorf("left: allocations %v, journal %v, netns files %v", a, j, f)
	}
}

func sameFile(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
