//go:build integration

package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/internal/netns"
	"leci/pod"
)

// udpOnHost listens for UDP datagrams on addr in the host's namespace
// until the test ends.
func udpOnHost(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// received tells whether c receives msg within a second.
func received(c *net.UDPConn, msg string) bool {
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == msg {
			return true
		}
	}
}

// unguardLoopback removes the rule guardLoopback made for a test's bridge,
// which goes with the bridge; leci's chain and the jump to it stay, as in
// use.
func unguardLoopback(t testing.TB, bridge string) {
	t.Helper()
	ipt := iptables{bin: "iptables"}
	args := append([]string{"-t", "filter", "-C", localnetChain}, localnetRule(bridge)...)
	if _, err := ipt.run(context.Background(), args...); err != nil {
		return // none
	}
	args[2] = "-D"
	if _, err := ipt.run(context.Background(), args...); err != nil {
		t.Errorf("remove the loopback guard of %s: %v", bridge, err)
	}
}

func readSysctl(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A group reaches none of the host's services bound to 127.0.0.1, even on
// a bridge where portmap has turned route_localnet on (it does so to
// publish ports on 127.0.0.1), from a process that routes 127.0.0.1 to the
// gateway (NET_ADMIN in the group's namespace, or a raw socket, can); the
// host still reaches the group through its published port.
//
// The probe is a UDP datagram: it is what such a packet does to a service
// (a TCP SYN likewise reaches the listener, but on this path the kernel
// loses the SYN-ACK from 127.0.0.1, so a TCP connect never completes
// either way).
func TestHostLoopbackUnreachableFromGroups(t *testing.T) {
	tn := newTestNet(t, withPorts)
	ctx := context.Background()
	port := freePort(t)
	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 8080, HostPort: port}}})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := tn.m.Teardown(ctx, "g1"); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	// What portmap does for a port published on 127.0.0.1, made sure of.
	localnet := filepath.Join("/proc/sys/net/ipv4/conf", tn.cfg.Bridge, "route_localnet")
	if err := os.WriteFile(localnet, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}

	hostLoopback := udpOnHost(t, "127.0.0.1:0")
	gateway := tn.subnet.Addr().Next()
	onGateway := udpOnHost(t, net.JoinHostPort(gateway.String(), "0"))
	const msg = "from the group"
	err = netns.Run(n.NetNSPath, func() error {
		// Route 127.0.0.1 out of eth0 to the gateway: without lo's local
		// routes, and with route_localnet, eth0 may send to 127/8.
		local, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_LOCAL}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return err
		}
		for _, r := range local {
			if r.Dst != nil && r.Dst.IP.IsLoopback() {
				if err := netlink.RouteDel(&r); err != nil {
					return fmt.Errorf("delete %s: %w", r, err)
				}
			}
		}
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644); err != nil {
			return err
		}
		route := &netlink.Route{
			LinkIndex: eth0.Attrs().Index,
			Dst:       &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)},
			Gw:        gateway.AsSlice(),
		}
		if err := netlink.RouteAdd(route); err != nil {
			return fmt.Errorf("route 127.0.0.1 via %s: %w", gateway, err)
		}
		for _, to := range []net.Addr{onGateway.LocalAddr(), hostLoopback.LocalAddr()} {
			c, err := net.Dial("udp4", to.String())
			if err != nil {
				return err
			}
			_, err = c.Write([]byte(msg))
			c.Close()
			if err != nil {
				return fmt.Errorf("send to %s: %w", to, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !received(onGateway, msg) {
		t.Fatalf("the group's datagram to the gateway %s did not arrive, so the test proves nothing", onGateway.LocalAddr())
	}
	if received(hostLoopback, msg) {
		t.Errorf("the group reached %s, a service on the host's loopback, through the bridge", hostLoopback.LocalAddr())
	}

	// The published port still works from the host's loopback.
	serveOnce(t, n.NetNSPath, ":8080", "published\n")
	if got, err := readFrom("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err != nil || got != "published\n" {
		t.Errorf("127.0.0.1:%d: got %q, %v", port, got, err)
	}
}

// Router advertisements are ignored on the bridge and in the groups: a
// group could otherwise send one on the shared bridge and become the other
// groups' (and the host's) IPv6 router.
func TestRouterAdvertisementsIgnored(t *testing.T) {
	tn := newTestNet(t, withIPv6)
	n := tn.setup(t, "g1")
	if got := readSysctl(t, filepath.Join("/proc/sys/net/ipv6/conf", tn.cfg.Bridge, "accept_ra")); got != "0" {
		t.Errorf("the bridge's accept_ra is %s, want 0", got)
	}
	err := netns.Run(n.NetNSPath, func() error {
		for _, iface := range []string{"eth0", "default"} {
			b, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv6/conf", iface, "accept_ra"))
			if err != nil {
				return err
			}
			if got := strings.TrimSpace(string(b)); got != "0" {
				t.Errorf("accept_ra of %s in the group is %s, want 0", iface, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
