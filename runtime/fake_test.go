package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"

	"leci/api"
	"leci/internal/pullprogress"
	"leci/pod"
)

// fakeBackend runs no process: each container exits with the next code of
// its script (by name), or runs until stopped when the script says -1.
type fakeBackend struct {
	mu         sync.Mutex
	scripts    map[string][]int
	runs       map[string]int // starts per container name
	order      []string       // names in start order
	startedAt  []time.Time    // when each start in order was asked
	live       map[string]*fakeContainer
	pullErr    map[string]error
	sandboxes  int
	removed    []string
	stopped    []string
	createFail map[string]error
	created    []string // names in create order
	prepared   []string // names in PrepareStart order
	// hold, by container name, keeps a run from exiting until closed.
	hold map[string]chan struct{}
	// holdWait, by container name, keeps the next WaitContainer from
	// returning until its ctx is done (containerd slow to answer).
	holdWait map[string]bool
	// usage, when set, answers Usage.
	usage func(groupID string) (pod.GroupUsage, error)
}

type fakeContainer struct {
	cfg  pod.ContainerConfig
	exit chan pod.Exit
	stop chan struct{}
	done chan struct{} // closed at exit, with code set
	code int
	// started is set by StartContainer: with done still open, the
	// container runs, as ListContainers reports.
	started bool
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{scripts: map[string][]int{}, runs: map[string]int{}, live: map[string]*fakeContainer{},
		pullErr: map[string]error{}, createFail: map[string]error{}}
}

func (f *fakeBackend) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if show := pullprogress.SinkFrom(ctx, nil); show != nil {
		show.Message(jsonmessage.JSONMessage{ID: ref, Status: "Pull complete"})
	}
	return f.pullErr[ref]
}

func (f *fakeBackend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sandboxes++
	return pod.Sandbox{GroupID: cfg.GroupID, PID: 1}, nil
}

func (f *fakeBackend) RemoveSandbox(ctx context.Context, groupID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sandboxes--
	return nil
}

func (f *fakeBackend) CreateContainer(ctx context.Context, sb pod.Sandbox, cfg pod.ContainerConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.createFail[cfg.Name]; err != nil {
		return err
	}
	f.created = append(f.created, cfg.Name)
	f.live[cfg.ID] = &fakeContainer{cfg: cfg, exit: make(chan pod.Exit, 1), stop: make(chan struct{}), done: make(chan struct{})}
	return nil
}

// PrepareStart is what containerd's does for the engine: nothing of the
// container runs, but its log writer starts and makes its log file.
func (f *fakeBackend) PrepareStart(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.live[id]
	if !ok {
		return errors.New("no such container")
	}
	f.prepared = append(f.prepared, c.cfg.Name)
	if p := c.cfg.LogPath; p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		return os.WriteFile(p, nil, 0o600)
	}
	return nil
}

func (f *fakeBackend) StartContainer(ctx context.Context, id string) (<-chan pod.Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.live[id]
	if !ok {
		return nil, errors.New("no such container")
	}
	c.started = true
	name := c.cfg.Name
	run := f.runs[name]
	f.runs[name]++
	f.order = append(f.order, name)
	f.startedAt = append(f.startedAt, time.Now())
	code := -1
	if s := f.scripts[name]; run < len(s) {
		code = s[run]
	} else if len(s) > 0 {
		code = s[len(s)-1]
	}
	hold := f.hold[name]
	go func() {
		if hold != nil {
			<-hold
		}
		if code < 0 {
			<-c.stop
			code = 137
		}
		c.code = code
		close(c.done)
		c.exit <- pod.Exit{Code: code, FinishedAt: time.Now()}
		close(c.exit)
	}()
	return c.exit, nil
}

func (f *fakeBackend) WaitContainer(ctx context.Context, id string) (<-chan pod.Exit, error) {
	f.mu.Lock()
	c, ok := f.live[id]
	var hold bool
	if ok {
		hold = f.holdWait[c.cfg.Name]
		delete(f.holdWait, c.cfg.Name)
	}
	f.mu.Unlock()
	if !ok {
		return nil, errors.New("no such container")
	}
	if hold {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ch := make(chan pod.Exit, 1)
	go func() {
		<-c.done
		ch <- pod.Exit{Code: c.code, FinishedAt: time.Now()}
		close(ch)
	}()
	return ch, nil
}

func (f *fakeBackend) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	if c, ok := f.live[id]; ok {
		select {
		case <-c.stop:
		default:
			close(c.stop)
		}
	}
	return nil
}

func (f *fakeBackend) RemoveContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.live[id]; ok {
		select {
		case <-c.stop:
		default:
			close(c.stop)
		}
		delete(f.live, id)
		f.removed = append(f.removed, id)
	}
	return nil
}

func (f *fakeBackend) ListContainers(ctx context.Context, groupID string) ([]pod.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []pod.ContainerInfo
	for id, c := range f.live {
		if c.cfg.GroupID == groupID {
			running := c.started
			select {
			case <-c.done:
				running = false
			default:
			}
			// As the real backends do (from their labels and task):
			// the run's attempt, and its process while it runs.
			info := pod.ContainerInfo{ID: id, GroupID: groupID, Name: c.cfg.Name, Kind: c.cfg.Kind, Attempt: c.cfg.Attempt, Running: running}
			if running {
				info.PID = 1000 + len(out)
			}
			out = append(out, info)
		}
	}
	return out, nil
}

func (f *fakeBackend) Exec(ctx context.Context, id string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	return pod.ExecResult{}, errors.New("exec is not faked")
}

func (f *fakeBackend) ExecAttach(ctx context.Context, id string, eio pod.ExecIO) (int, error) {
	return 0, errors.New("interactive exec is not faked")
}

func (f *fakeBackend) Usage(ctx context.Context, groupID string) (pod.GroupUsage, error) {
	f.mu.Lock()
	usage := f.usage
	f.mu.Unlock()
	if usage == nil {
		return pod.GroupUsage{}, errors.New("usage is not faked")
	}
	return usage(groupID)
}

// release ends every run still going and lets held ones exit, so that no
// goroutine of the fake outlives its test.
func (f *fakeBackend) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.live {
		select {
		case <-c.stop:
		default:
			close(c.stop)
		}
	}
	for name, h := range f.hold {
		select {
		case <-h:
		default:
			close(h)
		}
		delete(f.hold, name)
	}
}

func (f *fakeBackend) starts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

type fakeNet struct {
	mu        sync.Mutex
	setups    int
	teardowns int
	fail      error
	// usage, when set, answers Usage.
	usage func(groupID string) ([]pod.InterfaceUsage, error)
	// setupIns are the namespaces SetupIn was given.
	setupIns []string
	// gate, when set, holds Setup until it is closed; entered is then
	// closed when Setup is entered.
	gate, entered chan struct{}
	// checkErr is what Check answers, as CNI CHECK does for a network
	// whose interface or address is gone.
	checkErr error
}

func (n *fakeNet) Setup(ctx context.Context, groupID string, opts pod.NetworkOptions) (pod.Network, error) {
	if n.gate != nil {
		close(n.entered)
		<-n.gate
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return pod.Network{}, n.fail
	}
	n.setups++
	return pod.Network{NetNSPath: "/run/netns/" + groupID, IPv4: "10.89.0.7"}, nil
}

func (n *fakeNet) SetupIn(ctx context.Context, groupID string, opts pod.NetworkOptions, nsPath string) (pod.Network, error) {
	n.mu.Lock()
	n.setupIns = append(n.setupIns, nsPath)
	n.mu.Unlock()
	return n.Setup(ctx, groupID, opts)
}

func (n *fakeNet) Teardown(ctx context.Context, groupID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.teardowns++
	return nil
}

func (n *fakeNet) Check(ctx context.Context, groupID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.checkErr
}

func (n *fakeNet) NetNSPath(groupID string) string { return "/run/netns/" + groupID }

func (n *fakeNet) WriteEtcFiles(dir string, f pod.EtcFiles) (pod.EtcPaths, error) {
	return pod.EtcPaths{Hosts: dir + "/hosts", Hostname: dir + "/hostname", Resolv: dir + "/resolv.conf"}, nil
}

func (n *fakeNet) FillEtcFiles(dir string, f pod.EtcFiles) (pod.EtcPaths, error) {
	return n.WriteEtcFiles(dir, f)
}

func (n *fakeNet) Usage(ctx context.Context, groupID string) ([]pod.InterfaceUsage, error) {
	n.mu.Lock()
	usage := n.usage
	n.mu.Unlock()
	if usage == nil {
		return nil, errors.New("network usage is not faked")
	}
	return usage(groupID)
}

type fakeVolumes struct{}

func (fakeVolumes) Prepare(ctx context.Context, dir string, vols []api.Volume) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vols {
		out[v.Name] = dir + "/" + v.Name
	}
	return out, nil
}

func (fakeVolumes) Mount(source string, vol api.Volume, m api.VolumeMount) (pod.Mount, error) {
	if source == "" {
		return pod.Mount{}, fmt.Errorf("no volume %s", m.Name)
	}
	return pod.Mount{Source: source, Destination: m.MountPath, Type: "bind", ReadOnly: m.ReadOnly}, nil
}

func (fakeVolumes) Cleanup(ctx context.Context, dir string) error { return nil }

func (fakeVolumes) Usage(dir string, vols []api.Volume) []pod.Overuse { return nil }
