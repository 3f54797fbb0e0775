package volumes

import (
	"encoding/base64"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"leci/api"
)

// writeConfigFiles writes the files of a ConfigFile volume inside dir. Each
// path is resolved below dir by openat2 without following any symbolic link;
// each file is made new (O_EXCL), and files and the directories made for
// them get their modes by fchmod, so the umask has no say. Directories are
// 0755.
func writeConfigFiles(dir string, cf *api.ConfigFileVolume) error {
	if cf == nil {
		return nil
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(root)
	def := api.DefaultConfigFileMode
	if cf.DefaultMode != nil {
		def = *cf.DefaultMode
	}
	for _, f := range cf.ConfigFileToPath {
		data, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		mode := def
		if f.Mode != nil {
			mode = *f.Mode
		}
		if err := writeConfigFile(root, f.Path, data, uint32(mode.Perm())); err != nil {
			return fmt.Errorf("config file %s: %s", f.Path, resolveReason(err))
		}
	}
	return nil
}

func writeConfigFile(root int, rel string, data []byte, perm uint32) error {
	if d := path.Dir(rel); d != "." {
		if err := mkdirAllBeneath(root, d, 0o755, resolveNoSymlinks); err != nil {
			return err
		}
	}
	fd, err := openBeneath(root, rel, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, resolveNoSymlinks)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if err := unix.Fchmod(fd, perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Close()
}
