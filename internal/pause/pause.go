// Package pause is the sandbox process of a container group, run as
// "/leci pause" from a root filesystem that holds only that program
// (leci-helper, or the leci binary when it was built without one). It
// does nothing but exist, so that the group's IPC and UTS namespaces (and
// with a shared PID namespace, the PID one) outlive the containers that join
// them, and, as PID 1 of a shared PID namespace, reap the processes
// orphaned there.
package pause

import (
	"context"
	"errors"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Run blocks until SIGTERM or SIGINT arrives, or ctx is done, then returns
// nil; the sandbox never ends on its own. On SIGCHLD it reaps every child
// that has exited: as PID 1 of a PID namespace it is the parent of all
// orphans there, and an unreaped one would stay a zombie in the process
// table. After setup it allocates nothing, so its heap stays what it is.
//
// Run forces no garbage collection: a program that allocated little has
// nothing to give back, and a collection would only make the process
// bigger (the collector's own pages stay). A caller whose start-up
// allocated much calls debug.FreeOSMemory first.
func Run(ctx context.Context) error {
	// As PID 1 the kernel drops signals that have no handler, but the Go
	// runtime installs handlers for all of them and its defaults kill the
	// process (SIGHUP, SIGQUIT with a goroutine dump, SIGUSR1, ...). A
	// stray signal from a container sharing the PID namespace must not
	// take the sandbox, and with it the group, down.
	signal.Ignore(unix.SIGHUP, unix.SIGQUIT, unix.SIGPIPE, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGALRM, unix.SIGVTALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGXCPU, unix.SIGXFSZ)

	// Buffered: SIGCHLDs coalesce in the kernel anyway and reapAll takes
	// every exited child, so one pending wake-up is enough; a second slot
	// keeps a SIGTERM from waiting behind it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGCHLD)
	defer signal.Stop(sigs)

	// Children that ended before the handler was there.
	reapAll()
	if started != nil {
		started()
	}

	done := ctx.Done()
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGCHLD {
				reapAll()
				continue
			}
			return nil
		case <-done:
			return nil
		}
	}
}

// started, when set, is called once the signals are handled: tests use it
// to know when a SIGTERM no longer kills the process.
var started func()

// reapAll waits for every child that has exited, without blocking.
func reapAll() {
	var ws unix.WaitStatus
	for {
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// 0: children left, none exited; ECHILD: no children at all.
		if err != nil || pid <= 0 {
			return
		}
	}
}
