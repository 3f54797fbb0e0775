// Package helper carries leci-helper, the small program leci runs for each
// container as its log writer and for each group as its sandbox process
// (see ./cmd/leci-helper), and writes it out where those processes are run
// from.
//
// Why a program of its own: such a process lives as long as its container
// or group, and the leci binary (the CLI, the daemon, containerd's and
// Docker's clients) takes tens of milliseconds to start and holds over
// 17 MiB once started, where leci-helper starts in a quarter of that time
// and holds about 2.5 MiB, most of it its binary's pages, which all of its
// processes share. Why it is carried inside leci: the user installs one
// binary.
package helper

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Name is the program's name, the prefix of the files Install writes.
const Name = "leci-helper"

// bin holds leci-helper when the build put it there (make build does, with
// go build -overlay), and otherwise only its README. The pattern names the
// directory rather than the program so that it always matches something:
// a pattern matching no file fails the build, and a plain
// "go build ./cmd/leci" must still work.
//
//go:embed bin
var bin embed.FS

// Embedded returns the leci-helper program this leci was built with, nil
// if it was built without one, and the hex SHA-256 of the program, which
// the build computes (leci-helper.sha256 beside it) so that a leci start
// need not: hashing takes milliseconds, comparing a file a fraction of one.
func Embedded() (prog []byte, sum string) {
	prog, err := bin.ReadFile("bin/" + Name)
	if err != nil {
		return nil, ""
	}
	b, _ := bin.ReadFile("bin/" + Name + ".sha256")
	return prog, strings.TrimSpace(string(b))
}

// Path returns the leci-helper to run, written out to dir by Install, or
// fallback (the leci binary, which takes the same command lines) when this
// leci was built without the program.
func Path(dir, fallback string) (string, error) {
	prog, sum := Embedded()
	if prog == nil {
		return fallback, nil
	}
	return Install(dir, prog, sum)
}

// Install writes prog to dir as leci-helper-<first 16 hex digits of its
// SHA-256>, mode 0755, and returns the file's path; sum is that SHA-256 in
// hex, computed here when it is not one. A file already there with prog's
// content is used as it is; any other file by that name (cut short by a
// crash, changed) is replaced. The file is written under a temporary name
// and renamed into place, so that a process started from the path never
// finds a file half written.
//
// Files of other leci builds are left alone: a leci of another version may
// run on the same state directory at the same time, and is about to run
// its own.
func Install(dir string, prog []byte, sum string) (string, error) {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		h := sha256.Sum256(prog)
		sum = hex.EncodeToString(h[:])
	}
	path := filepath.Join(dir, Name+"-"+sum[:16])
	if same, err := sameFile(path, prog); err != nil {
		return "", err
	} else if same {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", Name, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("install %s: %w", Name, err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	_, err = tmp.Write(prog)
	if err == nil {
		// CreateTemp makes the file 0600; Chmod is not narrowed by the umask.
		err = tmp.Chmod(0o755)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("install %s: %w", Name, err)
	}
	return path, nil
}

// sameFile tells whether path is a regular file, mode 0755, holding prog.
func sameFile(path string, prog []byte) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("install %s: %w", Name, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 || fi.Size() != int64(len(prog)) {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, nil // unreadable: written anew
	}
	defer f.Close()
	// In pieces: reading the whole file into fresh memory costs more than
	// the comparison.
	buf := make([]byte, 64<<10)
	for rest := prog; ; {
		n, err := f.Read(buf)
		if n > len(rest) || !bytes.Equal(buf[:n], rest[:n]) {
			return false, nil
		}
		rest = rest[n:]
		if err != nil {
			return errors.Is(err, io.EOF) && len(rest) == 0, nil
		}
	}
}
