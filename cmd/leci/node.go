//go:build leci_node

package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"leci/host"
	"leci/node"
	"leci/runtime"
)

// nodeOptions are the daemon's flags for joining a Kubernetes cluster as a
// node (see package node). The node lives in the daemon because the daemon
// owns the root: the Pods' groups are then the daemon's groups, which leci
// ps, describe, logs and exec show like any other.
type nodeOptions struct {
	kubeconfig    string
	name          string
	address       string
	kubeletListen string
	tlsCert       string
	tlsKey        string
	clientCA      string
	maxPods       int
}

func (o *nodeOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "join the Kubernetes cluster of this kubeconfig as a node that runs the Pods bound to it (with --node-name)")
	f.StringVar(&o.name, "node-name", "", "the node's name in the cluster (with --kubeconfig)")
	f.StringVar(&o.address, "node-ip", "", "the node's InternalIP, where the API server reaches its kubelet API (default: this host's first global IPv4 address)")
	f.StringVar(&o.kubeletListen, "kubelet-listen", "", "HOST:PORT the kubelet API (kubectl logs, exec) listens on (default NODE-IP:10250)")
	f.StringVar(&o.tlsCert, "kubelet-tls-cert", "", "PEM certificate of the kubelet API (default: a self-signed one)")
	f.StringVar(&o.tlsKey, "kubelet-tls-key", "", "PEM private key of --kubelet-tls-cert")
	f.StringVar(&o.clientCA, "kubelet-client-ca", "", "PEM CAs whose client certificates may use the kubelet API (default: the kubeconfig's cluster CA)")
	f.IntVar(&o.maxPods, "max-pods", node.DefaultMaxPods, "how many Pods the node takes")
}

// check refuses half a node configuration before anything starts.
func (o *nodeOptions) check() error {
	if (o.kubeconfig == "") != (o.name == "") {
		return usageErrorf("--kubeconfig and --node-name go together")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--kubelet-tls-cert and --kubelet-tls-key go together")
	}
	if o.kubeconfig == "" && (o.address != "" || o.kubeletListen != "" || o.tlsCert != "" || o.clientCA != "") {
		return usageErrorf("the --node-ip and --kubelet-* flags need --kubeconfig and --node-name")
	}
	return nil
}

// start runs the node in the background when asked for; its end (an error,
// or nil when ctx ends) comes on the channel returned, which is nil when no
// node was asked for.
func (o *nodeOptions) start(ctx context.Context, g *globalOptions, env *host.Host, log *slog.Logger) (<-chan error, error) {
	if o.kubeconfig == "" {
		return nil, nil
	}
	address := o.address
	if address == "" {
		var err error
		if address, err = hostAddress(); err != nil {
			return nil, err
		}
	}
	memory, err := memTotal()
	if err != nil {
		return nil, err
	}
	gpus := 0
	if _, total, err := g.hostConfig(runtime.Backoff{}).GPUs().Free(); err == nil {
		gpus = total
	}
	cfg := node.Config{
		Kubeconfig: o.kubeconfig, NodeName: o.name, Address: address, KubeletListen: o.kubeletListen,
		TLSCert: o.tlsCert, TLSKey: o.tlsKey, ClientCA: o.clientCA,
		CPUs: goruntime.NumCPU(), Memory: memory, MaxPods: o.maxPods, GPUs: gpus,
		Version: version, Runtime: env.Runtime,
		Groups: env.Engine, Root: g.root, Check: g.checkLocal, Log: log,
	}
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, cfg) }()
	return done, nil
}

// memTotal is the host's memory in bytes, from /proc/meminfo.
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("node capacity: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("node capacity: MemTotal: %w", err)
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("node capacity: no MemTotal in /proc/meminfo")
}

// hostAddress is the first global unicast IPv4 address of an interface
// that is up and is neither a bridge nor a veth (the groups' networks).
func hostAddress() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("find the node's address: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join("/sys/class/net", ifc.Name, "bridge")); err == nil {
			continue
		}
		if strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", fmt.Errorf("find the node's address: no interface has a global IPv4 address: give --node-ip")
}
