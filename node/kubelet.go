//go:build leci_node

package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vkapi "github.com/virtual-kubelet/virtual-kubelet/node/api"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"

	"leci/api"
	"leci/internal/netns"
	"leci/logs"
	"leci/pod"
	"leci/runtime"
)

// What the kubelet API serves of a Pod: kubectl logs, exec and attach go
// through the API server to it.

// GetContainerLogs returns a container's log as kubectl logs asks for it:
// the current run (or the one before with --previous), its tail, the lines
// since a time, a byte limit, timestamps, and with --follow what it writes
// until it ends.
func (p *provider) GetContainerLogs(ctx context.Context, namespace, name, container string, opts vkapi.ContainerLogOpts) (io.ReadCloser, error) {
	pg, _, err := p.lookup(namespace, name)
	if err != nil {
		return nil, err
	}
	st, err := p.groups.Get(pg.id)
	if err != nil {
		return nil, errdefs.AsNotFound(err)
	}
	c, ok := findContainer(&st, container)
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s has no container %q", namespace, name, container)
	}
	attempt := c.Attempt
	if opts.Previous {
		attempt--
	}
	if attempt < 1 {
		return io.NopCloser(&emptyReader{}), nil
	}
	read := logs.ReadOptions{Tail: opts.Tail, LimitBytes: int64(opts.LimitBytes), Since: opts.SinceTime}
	if opts.SinceSeconds > 0 {
		read.Since = time.Now().Add(-time.Duration(opts.SinceSeconds) * time.Second)
	}
	path := runtime.LogPath(p.root, pg.id, c.Name, attempt)
	if !opts.Follow || opts.Previous {
		lines, err := logs.Read(path, read)
		if errors.Is(err, fs.ErrNotExist) {
			return io.NopCloser(&emptyReader{}), nil
		}
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			for _, l := range lines {
				if _, err := io.WriteString(pw, logs.Format(l, opts.Timestamps)); err != nil {
					return
				}
			}
			pw.Close()
		}()
		return pr, nil
	}
	pr, pw := io.Pipe()
	go func() {
		err := logs.Follow(ctx, path, logs.FollowOptions{ReadOptions: read, UntilWriterDone: true}, func(l logs.Line) error {
			_, err := io.WriteString(pw, logs.Format(l, opts.Timestamps))
			return err
		})
		if ctx.Err() != nil {
			err = nil
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

type emptyReader struct{}

func (*emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

func findContainer(st *runtime.GroupStatus, name string) (runtime.ContainerStatus, bool) {
	for _, list := range [][]runtime.ContainerStatus{st.Containers, st.InitContainers} {
		for _, c := range list {
			if c.Name == name || (name == "" && len(st.Containers) == 1) {
				return c, true
			}
		}
	}
	return runtime.ContainerStatus{}, false
}

// streamsOf is the session's streams as ExecIO wants them: nil where
// kubectl did not ask for the stream, stdout discarded then.
func streamsOf(attach vkapi.AttachIO) pod.ExecIO {
	var eio pod.ExecIO
	// The streams come as interfaces that may hold nothing; ExecIO wants
	// nil values then, not typed nils.
	if r := attach.Stdin(); r != nil {
		eio.Stdin = r
	}
	if w := attach.Stdout(); w != nil {
		eio.Stdout = w
	}
	if w := attach.Stderr(); w != nil {
		eio.Stderr = w
	}
	if eio.Stdout == nil {
		eio.Stdout = io.Discard
	}
	return eio
}

// RunInContainer runs a command in a running container (kubectl exec): a
// non-zero exit comes back to kubectl as that exit code.
func (p *provider) RunInContainer(ctx context.Context, namespace, name, container string, cmd []string, attach vkapi.AttachIO) error {
	pg, _, err := p.lookup(namespace, name)
	if err != nil {
		return err
	}
	eio := streamsOf(attach)
	eio.Cmd, eio.TTY = cmd, attach.TTY()
	if attach.TTY() {
		sizes := make(chan pod.TermSize, 1)
		eio.Resize = sizes
		go func() {
			defer close(sizes)
			for {
				select {
				case s, ok := <-attach.Resize():
					if !ok {
						return
					}
					select {
					case sizes <- pod.TermSize{Width: s.Width, Height: s.Height}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	code, err := p.groups.ExecAttach(ctx, pg.id, container, eio)
	if err != nil {
		if errors.Is(err, runtime.ErrNotRunning) {
			return errdefs.InvalidInputf("container %q of pod %s/%s is not running", container, namespace, name)
		}
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// AttachToContainer attaches kubectl attach to the running container's
// process: its output from now on, and with -i its stdin when the Pod's
// container keeps one open (stdin: true). kubectl leaving ends the attach,
// not the container; the container's end ends it too, as a kubelet's does,
// without an exit code (kubectl attach reports none).
func (p *provider) AttachToContainer(ctx context.Context, namespace, name, container string, attach vkapi.AttachIO) error {
	pg, _, err := p.lookup(namespace, name)
	if err != nil {
		return err
	}
	aio := streamsOf(attach)
	if aio.Stderr == nil {
		// With a terminal there is one stream, stdout.
		aio.Stderr = aio.Stdout
	}
	_, err = p.groups.Attach(ctx, pg.id, container, aio)
	switch {
	case err == nil, ctx.Err() != nil:
		return nil
	case errors.Is(err, runtime.ErrNotRunning):
		return errdefs.InvalidInputf("container %q of pod %s/%s is not running", container, namespace, name)
	case errors.Is(err, runtime.ErrNotFound):
		return errdefs.AsNotFound(err)
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Status < 500 {
		return errdefs.AsInvalidInput(err)
	}
	return err
}

// GetStatsSummary is not served yet.
func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("stats are not supported by leci nodes yet")
}

// GetMetricsResource is not served yet.
func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errdefs.InvalidInput("metrics are not supported by leci nodes yet")
}

// PortForward carries one connection of kubectl port-forward: it dials the
// port on 127.0.0.1 inside the group's network namespace, as a kubelet
// does, so a server that listens on the Pod's loopback only is reached too,
// and copies both ways until either side closes.
func (p *provider) PortForward(ctx context.Context, namespace, name string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	pg, _, err := p.lookup(namespace, name)
	if err != nil {
		return err
	}
	st, err := p.groups.Get(pg.id)
	if err != nil {
		return errdefs.AsNotFound(err)
	}
	nsPath := st.Host.Network.NetNSPath
	if st.Phase != api.GroupRunning || nsPath == "" {
		return errdefs.InvalidInputf("pod %s/%s is not running: no port to forward to", namespace, name)
	}
	if port <= 0 || port > 65535 {
		return errdefs.InvalidInputf("port %d: want 1 to 65535", port)
	}
	conn, err := dialInNetNS(ctx, nsPath, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, name, port, err)
	}
	defer conn.Close()
	// Either side's end ends the forwarded connection, as a kubelet's does:
	// kubectl closes the whole stream once its client has gone.
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(conn, stream)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(stream, conn)
		done <- struct{}{}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// dialInNetNS opens a TCP connection from inside the network namespace at
// nsPath: the socket is made on a thread switched into it and stays there.
func dialInNetNS(ctx context.Context, nsPath, addr string) (net.Conn, error) {
	var d net.Dialer
	var conn net.Conn
	var dialErr error
	err := netns.Run(nsPath, func() error {
		conn, dialErr = d.DialContext(ctx, "tcp", addr)
		return nil
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	return conn, dialErr
}
