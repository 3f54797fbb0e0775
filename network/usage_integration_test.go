//go:build integration

package network

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"testing"
	"time"

	"leci/internal/netns"
	"leci/pod"
)

func TestUsage(t *testing.T) {
	tn := newTestNet(t)
	a := tn.setup(t, "ua")
	b := tn.setup(t, "ub")

	// From A: connections to a closed port of B (a SYN out, a RST back),
	// and to one of A's own loopback, which is not the group's traffic.
	err := netns.Run(a.NetNSPath, func() error {
		for _, addr := range []string{net.JoinHostPort(b.IPv4, "81"), "127.0.0.1:81"} {
			for range 3 {
				if c, err := net.DialTimeout("tcp4", addr, 2*time.Second); err == nil {
					c.Close()
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	usage := func(group string) pod.InterfaceUsage {
		t.Helper()
		got, err := tn.m.Usage(context.Background(), group)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != "eth0" {
			t.Fatalf("%s: interfaces %+v, want eth0 alone (no loopback)", group, got)
		}
		return got[0]
	}
	ua, ub := usage("ua"), usage("ub")
	if ua.TxPackets < 3 || ua.RxPackets < 3 || ua.TxBytes == 0 || ua.RxBytes == 0 {
		t.Errorf("A's eth0 = %+v, want its 3 SYNs out and 3 RSTs in", ua)
	}
	if ub.RxPackets < 3 || ub.TxPackets < 3 {
		t.Errorf("B's eth0 = %+v, want 3 SYNs in and 3 RSTs out", ub)
	}

	if _, err := tn.m.Usage(context.Background(), "nothere"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("usage of a group without a network: %v, want fs.ErrNotExist", err)
	}
}
