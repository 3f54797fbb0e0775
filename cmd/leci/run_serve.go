package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"leci/api"
	"leci/runtime"
	"leci/server"
	"leci/store"
)

// A foreground `leci run` serves its group's API on a unix socket of its
// own, <root>/runs/<id>.sock, so that ps, describe, logs, exec, events,
// wait and delete on the same root find the group with no daemon. The
// directory is root's alone (0700); like the daemon's socket, the socket
// needs no signature. Only the run's own group is there: a create is
// refused.

// runsDir is where the sockets of foreground runs are.
func runsDir(root string) string { return filepath.Join(root, "runs") }

// runGroups is a run's engine as its socket serves it: no creates.
type runGroups struct{ *runtime.Engine }

func (runGroups) Create(context.Context, *api.CreateContainerGroupRequest) (string, error) {
	return "", &api.Error{Code: "Forbidden.ForegroundRun", Status: http.StatusForbidden,
		Message: "this is the socket of a foreground leci run, which runs its own group only; create groups through the leci daemon"}
}

// noTokens is the client tokens of a socket that creates nothing.
type noTokens struct{}

func (noTokens) ClientToken(string) (string, string, error) { return "", "", store.ErrNotFound }
func (noTokens) ClaimClientToken(string, string, string) (string, error) {
	return "", errors.New("a foreground run creates no groups")
}

// serveRun serves a run's group on its socket until the returned function
// is called, which removes the socket.
func serveRun(root, id string, eng *runtime.Engine, log *slog.Logger) (func(), error) {
	dir := runsDir(root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, id+".sock")
	srv, err := server.New(server.Options{Groups: runGroups{eng}, Tokens: noTokens{}, Root: root, Log: log})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("serve the group on %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(l)
	return func() {
		hs.Close()
		os.Remove(sock)
	}, nil
}

// runSockets are the sockets of the foreground runs on root.
func runSockets(root string) []string {
	entries, err := os.ReadDir(runsDir(root))
	if err != nil {
		return nil
	}
	var socks []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sock") {
			socks = append(socks, filepath.Join(runsDir(root), e.Name()))
		}
	}
	return socks
}
