package volumes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
)

// nfsVersions are tried in order, as mount.nfs negotiates: the newest
// first, down to NFSv3 when the server does not speak a version.
var nfsVersions = []string{"4.2", "4.1", "4.0", "3"}

// nfsResolveTimeout bounds the look-up of a server's name.
const nfsResolveTimeout = 10 * time.Second

// nfsArgs are the arguments of one mount(2) of an NFS export with the
// kernel's client, which takes its options as text and needs the server's
// address (addr=): it resolves no name itself.
type nfsArgs struct {
	Source string // server:/path, as /proc/mounts shows it
	FSType string
	Data   string
	Flags  uintptr
}

func nfsMountArgs(n *api.NFSVolume, addr net.IP, vers string) nfsArgs {
	server := n.Server
	if ip := net.ParseIP(server); ip != nil && ip.To4() == nil {
		server = "[" + server + "]"
	}
	opts := []string{"vers=" + vers, "addr=" + addr.String()}
	if vers == "3" {
		// Without rpc.statd the kernel cannot lock over NLM; locks stay
		// local to this host, as for ECI's NAS mounts.
		opts = append(opts, "nolock")
	}
	a := nfsArgs{Source: server + ":" + n.Path, FSType: "nfs", Data: strings.Join(opts, ","), Flags: unix.MS_NOSUID | unix.MS_NODEV}
	if n.ReadOnly {
		a.Flags |= unix.MS_RDONLY
	}
	return a
}

// nfsFallback tells the errors after which the next, older version is
// tried: the server does not speak this version (EPROTONOSUPPORT), or not
// this minor version (EINVAL), or the path is not in its NFSv4 namespace
// (ENOENT) but may be exported over NFSv3.
func nfsFallback(err error) bool {
	return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT)
}

// mountNFS mounts an NFS export at target with the kernel's client.
func mountNFS(ctx context.Context, target string, n *api.NFSVolume) error {
	if err := nfsSupported(); err != nil {
		return err
	}
	addr, err := resolveServer(ctx, n.Server)
	if err != nil {
		return err
	}
	var errs []string
	for _, vers := range nfsVersions {
		a := nfsMountArgs(n, addr, vers)
		err := mountCtx(ctx, a, target)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.ENODEV) {
			return errNoNFSClient
		}
		errs = append(errs, fmt.Sprintf("vers=%s: %v", vers, err))
		if !nfsFallback(err) {
			break
		}
	}
	return fmt.Errorf("mount nfs %s:%s (addr %s): %s", n.Server, n.Path, addr, strings.Join(errs, "; "))
}

// resolveServer returns the server's address: the IP itself, or the first
// address (IPv4 preferred) its name resolves to with this host's resolver.
func resolveServer(ctx context.Context, server string) (net.IP, error) {
	if ip := net.ParseIP(server); ip != nil {
		return ip, nil
	}
	ctx, cancel := context.WithTimeout(ctx, nfsResolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", server)
	if err != nil {
		return nil, fmt.Errorf("NFS server %s: %w", server, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("NFS server %s has no address", server)
	}
	return ips[0], nil
}

// mountCtx runs mount(2), which cannot be interrupted, and stops waiting
// when ctx ends; a mount that succeeds after that is undone.
func mountCtx(ctx context.Context, a nfsArgs, target string) error {
	var mu sync.Mutex
	abandoned := false
	done := make(chan error, 1)
	go func() {
		err := unix.Mount(a.Source, target, a.FSType, a.Flags, a.Data)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && abandoned {
			unix.Unmount(target, unix.MNT_DETACH)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case err := <-done:
			return err
		default:
			abandoned = true
			return ctx.Err()
		}
	}
}

var errNoNFSClient = errors.New("this host's kernel has no NFS client: nfs is not in /proc/filesystems, /sys/module or the kernel's modules (Linux built without CONFIG_NFS_FS); NFS volumes cannot be mounted here")

// nfsSupported tells whether this kernel has an NFS client, loaded or
// loadable: nfs in /proc/filesystems, /sys/module/nfs, or nfs.ko among the
// modules (or built-ins) of the running kernel.
func nfsSupported() error {
	var u unix.Utsname
	release := ""
	if unix.Uname(&u) == nil {
		release = unix.ByteSliceToString(u.Release[:])
	}
	if nfsSupportIn("/proc/filesystems", "/sys/module", filepath.Join("/lib/modules", release)) {
		return nil
	}
	return errNoNFSClient
}

func nfsSupportIn(procFilesystems, sysModule, modulesDir string) bool {
	if data, err := os.ReadFile(procFilesystems); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 && (f[len(f)-1] == "nfs" || f[len(f)-1] == "nfs4") {
				return true
			}
		}
	}
	if _, err := os.Stat(filepath.Join(sysModule, "nfs")); err == nil {
		return true
	}
	for _, list := range []string{"modules.dep", "modules.builtin"} {
		if data, err := os.ReadFile(filepath.Join(modulesDir, list)); err == nil && bytes.Contains(data, []byte("fs/nfs/nfs.ko")) {
			return true
		}
	}
	return false
}
