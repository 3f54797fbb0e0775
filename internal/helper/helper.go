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

// embedded is leci-helper's name in bin.
const embedded = "bin/" + Name

// Path returns the leci-helper to run, written out to dir by Install, or
// fallback (the leci binary, which takes the same command lines) when this
// leci was built without the program. The build also embeds the program's
// SHA-256 (leci-helper.sha256), so that a leci start need not hash it:
// that takes milliseconds, comparing the file written out a fraction of
// one.
func Path(dir, fallback string) (string, error) {
	if _, err := fs.Stat(bin, embedded); err != nil {
		return fallback, nil
	}
	sum, _ := fs.ReadFile(bin, embedded+".sha256")
	return Install(dir, bin, embedded, strings.TrimSpace(string(sum)))
}

// Install writes the program at name in fsys to dir as
// leci-helper-<first 16 hex digits of its SHA-256>, mode 0755, and returns
// the file's path; sum is that SHA-256 in hex, computed here when it is
// not one. A file already there with the program's content is used as it
// is; any other file by that name (cut short by a crash, changed) is
// replaced. The file is written under a temporary name and renamed into
// place, so that a process started from the path never finds a file half
// written. The program is read in pieces, never whole: embedded, it would
// be copied to the heap, which in a leci daemon stays.
//
// Files of other leci builds are left alone: a leci of another version may
// run on the same state directory at the same time, and is about to run
// its own.
func Install(dir string, fsys fs.FS, name, sum string) (string, error) {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		if sum, err = HashFile(fsys, name); err != nil {
			return "", fmt.Errorf("install %s: %w", Name, err)
		}
	}
	path := filepath.Join(dir, Name+"-"+sum[:16])
	if same, err := sameFile(path, fsys, name); err != nil {
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
	err = copyFile(tmp, fsys, name)
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

// HashFile is the hex SHA-256 of file name in fsys: what names an
// installed leci-helper, and the Docker backend's sandbox image.
func HashFile(fsys fs.FS, name string) (string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(dst io.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(dst, f)
	return err
}

// sameFile tells whether path is a regular file, mode 0755, with the
// content of the program at name in fsys.
func sameFile(path string, fsys fs.FS, name string) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("install %s: %w", Name, err)
	}
	want, err := fs.Stat(fsys, name)
	if err != nil {
		return false, fmt.Errorf("install %s: %w", Name, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 || fi.Size() != want.Size() {
		return false, nil
	}
	prog, err := fsys.Open(name)
	if err != nil {
		return false, fmt.Errorf("install %s: %w", Name, err)
	}
	defer prog.Close()
	f, err := os.Open(path)
	if err != nil {
		return false, nil // unreadable: written anew
	}
	defer f.Close()
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		n, errA := io.ReadFull(prog, a)
		m, errB := io.ReadFull(f, b)
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false, nil
		}
		if errA != nil || errB != nil {
			// Both ended at once (the sizes are equal), or one failed.
			return (errA == io.EOF || errA == io.ErrUnexpectedEOF) && errA == errB, nil
		}
	}
}
