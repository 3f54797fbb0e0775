// Command leci runs Alibaba Cloud ECI container groups on one Linux host.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes shared by every command: one rule everywhere.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and failed: a failed group, an unreachable daemon
	exitUsage   = 2 // the command line or the request it names is wrong
	exitUnknown = 1
)

// exitError carries the exit code a command wants, with what to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// silentExit ends the command with code after it has printed what it had to.
func silentExit(code int) error { return &exitError{code: code} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process's exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "leci:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "leci:", err)
	if strings.HasPrefix(err.Error(), "unknown command") {
		// cobra's own: the command line names no command.
		return exitUsage
	}
	return exitUnknown
}
