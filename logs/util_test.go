package logs

import (
	"os"

	"golang.org/x/sys/unix"
)

func setNonblock(f *os.File) error {
	// Through SyscallConn: Fd() would make the file blocking again.
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetNonblock(int(fd), true) }); err != nil {
		return err
	}
	return serr
}
