// Package gpu gives containers whole devices of one kind (nvidia.com/gpu by
// default) described by Container Device Interface specs, as containerd,
// podman and the NVIDIA container toolkit do: the CDI library reads the
// specs and resolves each device's edits (device nodes, mounts,
// environment, hooks). A device is held by one group at a time; the
// holdings are files under a state directory, so that every leci process
// on one root (a daemon, `leci run`) sees them.
package gpu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	oci "github.com/opencontainers/runtime-spec/specs-go"
	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// DefaultKind is the kind of device a container's Gpu counts.
const DefaultKind = "nvidia.com/gpu"

// DefaultSpecDirs are where CDI specs are read from: /etc/cdi and
// /var/run/cdi.
func DefaultSpecDirs() []string { return slices.Clone(cdi.DefaultSpecDirs) }

// ErrNotEnough is returned when fewer devices are free than asked for.
var ErrNotEnough = errors.New("not enough free GPUs")

// Pool is the devices of one kind that the CDI specs of SpecDirs describe.
type Pool struct {
	SpecDirs []string
	// Kind is vendor/class (nvidia.com/gpu).
	Kind string
	// StateDir holds one file per held device, naming its group.
	StateDir string
	// Owned reports whether a group still exists; a device held by a group
	// that does not is free again (a leci that died did not release it).
	Owned func(group string) bool
}

func (p Pool) cache() (*cdi.Cache, error) {
	c, err := cdi.NewCache(cdi.WithSpecDirs(p.SpecDirs...), cdi.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("read CDI specs: %w", err)
	}
	return c, nil
}

// Devices lists the qualified names (nvidia.com/gpu=0) of the pool's
// devices, in order.
func (p Pool) Devices() ([]string, error) {
	c, err := p.cache()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range c.ListDevices() {
		vendor, class, _, err := parser.ParseQualifiedName(name)
		if err == nil && vendor+"/"+class == p.Kind {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// stateFile is where the holder of a device is written.
func (p Pool) stateFile(device string) string {
	return filepath.Join(p.StateDir, strings.NewReplacer("/", "_", "=", "@").Replace(device))
}

// holder is the group holding a device, "" when it is free.
func (p Pool) holder(device string) string {
	path := p.stateFile(device)
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	group := strings.TrimSpace(string(b))
	if p.Owned != nil && !p.Owned(group) {
		// Written just now by a create under way, or left by a leci that
		// died: only the latter is free.
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Minute {
			return ""
		}
	}
	return group
}

// Free lists the devices no group holds, and how many there are in all.
func (p Pool) Free() (free []string, total int, err error) {
	devs, err := p.Devices()
	if err != nil {
		return nil, 0, err
	}
	for _, d := range devs {
		if p.holder(d) == "" {
			free = append(free, d)
		}
	}
	return free, len(devs), nil
}

// Check tells whether n devices are free now.
func (p Pool) Check(n int) error {
	if n <= 0 {
		return nil
	}
	free, total, err := p.Free()
	if err != nil {
		return err
	}
	if len(free) < n {
		return fmt.Errorf("%w: %d asked, %d of %d %s free", ErrNotEnough, n, len(free), total, p.Kind)
	}
	return nil
}

// Reserve gives group n free devices, or none and ErrNotEnough.
func (p Pool) Reserve(group string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := os.MkdirAll(p.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("GPU state: %w", err)
	}
	devs, err := p.Devices()
	if err != nil {
		return nil, err
	}
	var got []string
	for _, d := range devs {
		if len(got) == n {
			break
		}
		path := p.stateFile(d)
		if p.holder(d) == "" {
			os.Remove(path) // a stale holding, if any
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			p.Release(group)
			return nil, fmt.Errorf("GPU state: %w", err)
		}
		_, err = f.WriteString(group + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			p.Release(group)
			return nil, fmt.Errorf("GPU state: %w", err)
		}
		got = append(got, d)
	}
	if len(got) < n {
		p.Release(group)
		return nil, fmt.Errorf("%w: %d asked, %d of %d %s free", ErrNotEnough, n, len(got), len(devs), p.Kind)
	}
	return got, nil
}

// Release frees every device group holds.
func (p Pool) Release(group string) {
	entries, err := os.ReadDir(p.StateDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(p.StateDir, e.Name())
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == group {
			os.Remove(path)
		}
	}
}

// Inject applies the devices' edits to an OCI spec through the CDI library.
func (p Pool) Inject(spec *oci.Spec, devices []string) error {
	c, err := p.cache()
	if err != nil {
		return err
	}
	if _, err := c.InjectDevices(spec, devices...); err != nil {
		return err
	}
	return nil
}

// Edits are the devices' edits for a runtime that takes no OCI spec
// (Docker): what the CDI library resolved, spec-wide edits first.
type Edits struct {
	Env     []string
	Devices []Device
	Mounts  []Mount
	// Hooks counts the OCI hooks the specs ask for, which such a runtime
	// cannot run.
	Hooks int
}

// Device is a device node: HostPath on the host at Path in the container.
type Device struct {
	Path, HostPath, Permissions string
}

// Mount is a bind mount of the host's HostPath at ContainerPath.
type Mount struct {
	HostPath, ContainerPath, Type string
	Options                       []string
}

// Resolve returns the edits of devices.
func (p Pool) Resolve(devices []string) (Edits, error) {
	c, err := p.cache()
	if err != nil {
		return Edits{}, err
	}
	var e Edits
	seen := map[*cdi.Spec]bool{}
	for _, name := range devices {
		d := c.GetDevice(name)
		if d == nil {
			return Edits{}, fmt.Errorf("CDI device %s: not found", name)
		}
		if s := d.GetSpec(); !seen[s] {
			seen[s] = true
			e.add(&s.ContainerEdits)
		}
		e.add(&d.ContainerEdits)
	}
	return e, nil
}

func (e *Edits) add(ce *cdispec.ContainerEdits) {
	e.Env = append(e.Env, ce.Env...)
	for _, n := range ce.DeviceNodes {
		host, perm := n.HostPath, n.Permissions
		if host == "" {
			host = n.Path
		}
		if perm == "" {
			perm = "rwm"
		}
		e.Devices = append(e.Devices, Device{Path: n.Path, HostPath: host, Permissions: perm})
	}
	for _, m := range ce.Mounts {
		e.Mounts = append(e.Mounts, Mount{HostPath: m.HostPath, ContainerPath: m.ContainerPath, Type: m.Type, Options: m.Options})
	}
	e.Hooks += len(ce.Hooks)
}
