package volumes

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"leci/api"
	"leci/pod"
)

// Usage measures the disk EmptyDir volumes of a group that have a
// SizeLimit (dir is the directory given to Prepare) and returns those over
// it, in the order of vols. It walks each volume as du does: symbolic links
// are not followed, files with several links count once, and mounts inside
// the volume (propagated from a container) are not entered. A volume it
// cannot measure is left out. It is meant to be polled, every 30 s or so.
func (m Manager) Usage(dir string, vols []api.Volume) []pod.Overuse {
	var out []pod.Overuse
	for _, v := range vols {
		e := v.EmptyDirVolume
		if v.Type != api.VolumeEmptyDir || e == nil || e.SizeLimit == "" || strings.EqualFold(e.Medium, api.MediumMemory) {
			continue
		}
		limit, err := api.ParseSizeLimit(e.SizeLimit)
		if err != nil {
			continue
		}
		used, err := diskUsage(filepath.Join(dir, v.Name))
		if err != nil {
			continue
		}
		if used > limit {
			out = append(out, pod.Overuse{Volume: v.Name, Used: used, Limit: limit})
		}
	}
	return out
}

// diskUsage is the space the files under root take on its filesystem.
func diskUsage(root string) (int64, error) {
	var total int64
	var rootDev uint64
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // gone meanwhile, or unreadable: not counted
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if path == root {
			rootDev = uint64(st.Dev)
		} else if uint64(st.Dev) != rootDev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if st.Nlink > 1 && !d.IsDir() {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}
