//go:build integration

package docker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/errdefs"

	"leci/pod"
)

// A container's create whose caller goes away while dockerd makes it (a
// group deleted during its container's restart) leaves no container behind:
// dockerd finishes a create whose client left. The caller here goes away
// once dockerd has made the container, before its answer arrives.
func TestCreateCutShortLeavesNoContainer(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := e.b.opts
	opts.Host = answerLateToCreates(t, e.d.Host, cancel)
	b, err := New(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	cfg := e.container("cut", "true")
	if err := b.CreateContainer(ctx, sb, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("create whose caller went away: %v, want context.Canceled", err)
	}
	if _, err := e.b.cli.ContainerInspect(context.Background(), cfg.ID); !errdefs.IsNotFound(err) {
		t.Errorf("container %s after the create cut short: %v, want none", cfg.ID, err)
	}
}

// answerLateToCreates serves a proxy to the dockerd at host on a unix
// socket, and returns its address. Once dockerd has answered a container's
// create, the proxy calls gone and holds the answer back a while.
func answerLateToCreates(t *testing.T, host string, gone func()) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(host, "unix://")
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", target)
		}},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodPost && strings.HasSuffix(resp.Request.URL.Path, "/containers/create") {
				gone()
				time.Sleep(500 * time.Millisecond)
			}
			return nil
		},
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}
