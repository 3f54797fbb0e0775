package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"leci/api"
	"leci/server"
)

// execSessionOptions are an interactive exec: what leci exec -i/-t runs.
type execSessionOptions struct {
	groupID, container string
	command            []string
	stdin, tty         bool
	env                []string
	workdir, user      string
}

// execSession runs a command in a WebSocket session of the daemon (see
// server/exec_ws.go), attached to the command's streams: with -i the input
// is sent and its end closes the command's stdin; with -t the command's
// terminal takes the local one's size and follows it (SIGWINCH); with -it
// the local terminal is raw, every key going to the command. leci exits
// with the command's exit code.
func execSession(cmd *cobra.Command, c *apiClient, o execSessionOptions) error {
	ctx := cmd.Context()
	in, stdout, stderr := cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	ttyFD := -1
	if o.tty {
		if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			ttyFD = int(f.Fd())
		} else {
			// As kubectl: the command still runs, without a terminal.
			fmt.Fprintln(stderr, "leci: unable to use a TTY: the input is not a terminal")
			o.tty = false
		}
	}

	command, err := json.Marshal(o.command)
	if err != nil {
		return err
	}
	p := url.Values{"ContainerGroupId": {o.groupID}, "Command": {string(command)},
		"Sync": {"false"}, "TTY": {fmt.Sprint(o.tty)}, "Stdin": {fmt.Sprint(o.stdin)}}
	if o.container != "" {
		p.Set("ContainerName", o.container)
	}
	if len(o.env) > 0 {
		env, err := json.Marshal(o.env)
		if err != nil {
			return err
		}
		p.Set("Env", string(env))
	}
	if o.workdir != "" {
		p.Set("WorkingDir", o.workdir)
	}
	if o.user != "" {
		p.Set("User", o.user)
	}
	var resp api.ExecContainerCommandResponse
	if err := c.call(ctx, "ExecContainerCommand", p, &resp); err != nil {
		return err
	}
	return streamSession(ctx, c, resp.WebSocketURI, in, stdout, stderr, o.stdin, ttyFD)
}

// streamSession dials a session's WebSocket (an exec's or an attach's) and
// runs it: input with stdin, a terminal on ttyFD when it is not -1, the
// output to stdout and stderr. It ends with the session's exit code
// (silentExit when not 0).
func streamSession(ctx context.Context, c *apiClient, wsURI string, in io.Reader, stdout, stderr io.Writer, stdin bool, ttyFD int) error {
	conn, err := c.dialExec(ctx, wsURI)
	if err != nil {
		return err
	}
	defer conn.CloseNow()

	if ttyFD >= 0 {
		// The size goes first: the daemon starts the command with it.
		sendTermSize(ctx, conn, ttyFD)
		// Raw only when the keys go to the command (-i): otherwise ^C must
		// still stop leci, which ends the session and the command.
		if stdin {
			state, err := term.MakeRaw(ttyFD)
			if err != nil {
				return fmt.Errorf("put the terminal in raw mode: %w", err)
			}
			defer term.Restore(ttyFD, state)
		}
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		done := make(chan struct{})
		defer func() { signal.Stop(winch); close(done) }()
		go func() {
			for {
				select {
				case <-winch:
					sendTermSize(ctx, conn, ttyFD)
				case <-done:
					return
				}
			}
		}()
	}
	if stdin {
		go sendInput(ctx, conn, in)
	}

	st, err := receiveOutput(ctx, conn, stdout, stderr)
	if err != nil {
		return err
	}
	if code, ok := st.ExitCode(); ok {
		if code == 0 {
			return nil
		}
		return silentExit(code)
	}
	return errors.New(st.Message)
}

// dialExec opens a session's WebSocket over the daemon's transport: the
// unix socket or TCP. Only the URI's path counts; the token in it is the
// session's credential, so the request is not signed.
func (c *apiClient) dialExec(ctx context.Context, wsURI string) (*websocket.Conn, error) {
	u, err := url.Parse(wsURI)
	if err != nil || !strings.HasPrefix(u.Path, server.ExecPathPrefix) {
		return nil, fmt.Errorf("the daemon answered an exec WebSocketUri %q, want ws://HOST%sTOKEN", wsURI, server.ExecPathPrefix)
	}
	// A session outlives any request timeout: the WebSocket library
	// refuses a client with one.
	hc := *c.http
	hc.Timeout = 0
	target := "ws" + strings.TrimPrefix(c.base, "http") + u.Path
	conn, _, err := websocket.Dial(ctx, target, &websocket.DialOptions{
		HTTPClient:   &hc,
		Subprotocols: []string{server.ExecProtocolV5, server.ExecProtocolV4},
	})
	if err != nil {
		return nil, fmt.Errorf("attach to the exec session: %w", err)
	}
	// Output comes in chunks the daemon bounds; stay generous.
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// sendTermSize sends the terminal's size on the resize channel.
func sendTermSize(ctx context.Context, conn *websocket.Conn, fd int) {
	w, h, err := term.GetSize(fd)
	if err != nil {
		return
	}
	msg, _ := json.Marshal(struct{ Width, Height int }{w, h})
	_ = conn.Write(ctx, websocket.MessageBinary, append([]byte{server.ExecChannelResize}, msg...))
}

// sendInput sends in on the stdin channel, then (v5) closes it.
func sendInput(ctx context.Context, conn *websocket.Conn, in io.Reader) {
	buf := make([]byte, 16<<10)
	buf[0] = server.ExecChannelStdin
	for {
		n, err := in.Read(buf[1:])
		if n > 0 {
			if conn.Write(ctx, websocket.MessageBinary, buf[:1+n]) != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && conn.Subprotocol() == server.ExecProtocolV5 {
				_ = conn.Write(ctx, websocket.MessageBinary, []byte{server.ExecChannelClose, server.ExecChannelStdin})
			}
			return
		}
	}
}

// receiveOutput copies the command's output until its status.
func receiveOutput(ctx context.Context, conn *websocket.Conn, stdout, stderr io.Writer) (server.ExecStatus, error) {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return server.ExecStatus{}, fmt.Errorf("the exec session ended without the command's status: %w", err)
		}
		if len(data) == 0 {
			continue
		}
		switch payload := data[1:]; data[0] {
		case server.ExecChannelStdout:
			if _, err := stdout.Write(payload); err != nil {
				return server.ExecStatus{}, err
			}
		case server.ExecChannelStderr:
			if _, err := stderr.Write(payload); err != nil {
				return server.ExecStatus{}, err
			}
		case server.ExecChannelStatus:
			var st server.ExecStatus
			if err := json.Unmarshal(payload, &st); err != nil {
				return st, fmt.Errorf("the exec session's status %q: %w", payload, err)
			}
			conn.Close(websocket.StatusNormalClosure, "")
			return st, nil
		}
	}
}
