// Package volumes prepares a group's volumes on the host, under the group's
// directory, and turns a container's VolumeMounts into mounts: EmptyDir (a
// directory, or a size-limited tmpfs with Medium memory), ConfigFile (files
// written from the request, read-only in the container) and HostPath.
// Paths inside a volume are resolved through os.Root, so neither a
// ConfigFile path nor a SubPath can lead outside the volume.
package volumes

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/internal/mountinfo"
	"leci/pod"
)

// ErrNotSupported is wrapped by the errors for volumes that cannot exist on
// a local host (DiskVolume, FlexVolume) or are not supported yet.
var ErrNotSupported = errors.New("volume type not supported locally")

// Manager prepares volumes. Its zero value is ready to use.
type Manager struct{}

// Prepare makes every volume under dir and returns each one's host path.
func (Manager) Prepare(ctx context.Context, dir string, vols []api.Volume) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("volumes directory: %w", err)
	}
	out := make(map[string]string, len(vols))
	for _, v := range vols {
		src, err := prepare(dir, v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		out[v.Name] = src
	}
	return out, nil
}

func prepare(dir string, v api.Volume) (string, error) {
	path := filepath.Join(dir, v.Name)
	switch v.Type {
	case api.VolumeEmptyDir:
		if err := os.Mkdir(path, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		// The mode is set after the umask had its say: every container
		// user may write an EmptyDir.
		if err := os.Chmod(path, 0o777); err != nil {
			return "", err
		}
		if e := v.EmptyDirVolume; e != nil && strings.EqualFold(e.Medium, api.MediumMemory) {
			opts := "mode=0777"
			if e.SizeLimit != "" {
				size, err := api.ParseSizeLimit(e.SizeLimit)
				if err != nil {
					return "", err
				}
				opts += ",size=" + strconv.FormatInt(size, 10)
			}
			if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
				return "", fmt.Errorf("mount tmpfs: %w", err)
			}
		}
		return path, nil
	case api.VolumeConfigFile:
		return path, writeConfigFiles(path, v.ConfigFileVolume)
	case api.VolumeHostPath:
		return v.HostPathVolume.Path, checkHostPath(v.HostPathVolume)
	}
	return "", fmt.Errorf("%s: %w", v.Type, ErrNotSupported)
}

// writeConfigFiles writes the files of a ConfigFile volume inside dir,
// through os.Root so that no path leaves it, with their modes exactly.
func writeConfigFiles(dir string, cf *api.ConfigFileVolume) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if cf == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
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
		if d := filepath.Dir(f.Path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		if err := root.WriteFile(f.Path, data, mode.Perm()); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if err := root.Chmod(f.Path, mode.Perm()); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	return nil
}

func checkHostPath(h *api.HostPathVolume) error {
	switch h.Type {
	case "", "DirectoryOrCreate", "FileOrCreate":
		if h.Type == "DirectoryOrCreate" {
			return os.MkdirAll(h.Path, 0o755)
		}
		if h.Type == "FileOrCreate" {
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return nil
	}
	fi, err := os.Stat(h.Path)
	if err != nil {
		return fmt.Errorf("host path %s (type %s): %w", h.Path, h.Type, err)
	}
	ok := false
	switch h.Type {
	case "Directory":
		ok = fi.IsDir()
	case "File":
		ok = fi.Mode().IsRegular()
	case "Socket":
		ok = fi.Mode()&fs.ModeSocket != 0
	case "CharDevice":
		ok = fi.Mode()&fs.ModeCharDevice != 0
	case "BlockDevice":
		ok = fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0
	}
	if !ok {
		return fmt.Errorf("host path %s is not a %s", h.Path, h.Type)
	}
	return nil
}

var propagation = map[string]string{
	"": "rprivate", api.PropagationNone: "rprivate",
	api.PropagationHostToContainer: "rslave", api.PropagationBidirectional: "rshared",
}

// Mount returns the container's mount for one VolumeMount of a volume
// prepared at source. A SubPath is resolved inside the volume (and created
// in an EmptyDir); one that leads outside is refused.
func (Manager) Mount(source string, vol api.Volume, m api.VolumeMount) (pod.Mount, error) {
	if source == "" {
		return pod.Mount{}, fmt.Errorf("volume %s was not prepared", m.Name)
	}
	src := source
	if sub := strings.Trim(m.SubPath, "/"); sub != "" {
		root, err := os.OpenRoot(source)
		if err != nil {
			return pod.Mount{}, err
		}
		defer root.Close()
		if vol.Type == api.VolumeEmptyDir {
			if err := root.MkdirAll(sub, 0o777); err != nil {
				return pod.Mount{}, fmt.Errorf("sub path %s: %w", m.SubPath, err)
			}
		}
		// Stat through the root fails for a path that escapes it, by a
		// symlink or otherwise.
		if _, err := root.Stat(sub); err != nil {
			return pod.Mount{}, fmt.Errorf("sub path %s: %w", m.SubPath, err)
		}
		src = filepath.Join(source, sub)
	}
	return pod.Mount{
		Source: src, Destination: m.MountPath, Type: "bind",
		ReadOnly:    m.ReadOnly || vol.Type == api.VolumeConfigFile,
		Propagation: propagation[m.MountPropagation],
	}, nil
}

// Cleanup unmounts whatever is mounted under dir, deepest first, and
// removes dir.
func (Manager) Cleanup(ctx context.Context, dir string) error {
	mounts, err := mountinfo.Under(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
