package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"leci/api"
	"leci/pod"
)

// attachMarker is the command the fake records for an attach, which runs
// no command of its own.
const attachMarker = "<attach>"

func (f *fakeGroups) Attach(ctx context.Context, id, container string, aio pod.ExecIO) (int, error) {
	aio.Cmd = []string{attachMarker}
	return f.ExecAttach(ctx, id, container, aio)
}

// AttachContainer hands out a session on the exec protocol that attaches
// to the container's process: the input, with Stdin, goes to it, its
// output comes back, and the session ends with its exit code.
func TestAttachContainerSession(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(ctx context.Context, eio pod.ExecIO) (int, error) {
		if eio.TTY || eio.Resize != nil || len(eio.Cmd) != 1 || eio.Cmd[0] != attachMarker {
			return 0, fmt.Errorf("an attach got %+v, want no command and no terminal", eio)
		}
		if eio.Stdin == nil {
			fmt.Fprint(eio.Stdout, "no input")
			return 0, nil
		}
		in, err := io.ReadAll(eio.Stdin)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(eio.Stdout, "out:%s", in)
		return 3, nil
	}
	id := x.create(t, webRequest("attach", "Container.2.Stdin", "true"))
	var resp api.ExecContainerCommandResponse
	x.call(t, action(ActionAttachContainer, "ContainerGroupId", id, "ContainerName", "side", "Stdin", "true"), &resp)
	if !strings.HasPrefix(resp.WebSocketURI, "ws://example.com"+ExecPathPrefix) {
		t.Fatalf("answer %+v, want a ws://HOST/exec/TOKEN URI", resp)
	}
	conn := x.mustDial(t, ctx, resp.WebSocketURI, ExecProtocolV5)
	sendOn(t, ctx, conn, ExecChannelStdin, "hi")
	sendOn(t, ctx, conn, ExecChannelClose, string([]byte{ExecChannelStdin}))
	stdout, _, st := readAll(t, ctx, conn)
	if code, ok := st.ExitCode(); stdout != "out:hi" || !ok || code != 3 {
		t.Errorf("attach with input: %q, status %+v; want out:hi and exit code 3", stdout, st)
	}
	if got := x.groups.attaches; len(got) != 1 || got[0].container != "side" {
		t.Errorf("attaches %+v, want one to side", got)
	}

	// Without Stdin (the default) the attach only watches.
	x.call(t, action(ActionAttachContainer, "ContainerGroupId", id), &resp)
	conn = x.mustDial(t, ctx, resp.WebSocketURI, ExecProtocolV5)
	if stdout, _, st := readAll(t, ctx, conn); stdout != "no input" || st.Status != ExecStatusSuccess {
		t.Errorf("attach without input: %q, %+v", stdout, st)
	}
	if got := x.groups.attaches; len(got) != 2 || got[1].container != "web" {
		t.Errorf("attaches %+v, want the second to web, the first app container", got)
	}

	// Input for a container without Stdin is refused before any session.
	x.wantError(t, action(ActionAttachContainer, "ContainerGroupId", id, "ContainerName", "web", "Stdin", "true"), http.StatusBadRequest, api.CodeInvalidParameter)
	if len(x.groups.attaches) != 2 {
		t.Errorf("%d attaches, want the refused one not run", len(x.groups.attaches))
	}
}
