package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"time"

	"leci/api"
	"leci/pod"
)

// ErrBusy is returned for an update of a group that is being updated,
// restarted or has not finished its setup.
var ErrBusy = errors.New("container group is not in a state that can be updated")

// ErrCannotResize is returned for an update that changes the group's own
// Cpu or Memory: the group's cgroup is made once, with its sandbox.
var ErrCannotResize = errors.New("the group's Cpu and Memory cannot change in place")

// updates tracks the updates under way, so that a delete waits for one to
// end rather than race it: by engine and group id, a channel closed at the
// end.
var updates sync.Map

type updateKey struct {
	e  *Engine
	id string
}

// Update changes a group to the normalized request req in place, as
// UpdateContainerGroup does: the group goes Updating, its containers are
// stopped (preStop hooks, grace period) and removed, the volumes that are
// new or changed are made (the others keep their contents), the /etc files
// are written again, and the containers of req are created and started,
// in the same sandbox with the same network (the same IP). It returns once
// the update is recorded; the recreation goes on in the background.
//
// The new request is recorded before anything is stopped: a leci killed
// in the middle finishes the update when it adopts the group (Adopt).
// An update that changes only the tags restarts nothing.
func (e *Engine) Update(ctx context.Context, id string, req *api.CreateContainerGroupRequest) error {
	if errs := CheckPrivileged(req, e.opts.AllowPrivileged); len(errs) > 0 {
		return errs
	}
	g, err := e.group(id)
	if err != nil {
		return err
	}
	snap := g.snapshot()
	if sameButTags(snap.Request, req) {
		return e.SetTags(id, req.Tag)
	}
	if req.Cpu != snap.Request.Cpu || req.Memory != snap.Request.Memory {
		return fmt.Errorf("%s: %w: delete the group and create it again", id, ErrCannotResize)
	}
	switch {
	case !snap.ExpiredAt.IsZero():
		return fmt.Errorf("%s: %w", id, ErrExpired)
	case !snap.Host.SetUp, snap.Phase == api.GroupUpdating, snap.Phase == api.GroupRestarting,
		snap.Phase == api.GroupTerminating:
		return fmt.Errorf("%s is %s: %w", id, snap.Phase, ErrBusy)
	}
	if err := e.Available(ctx); err != nil {
		return err
	}
	key := updateKey{e, id}
	done := make(chan struct{})
	if _, busy := updates.LoadOrStore(key, done); busy {
		return fmt.Errorf("%s is being updated: %w", id, ErrBusy)
	}
	g.update(func(st *GroupStatus) {
		st.Phase, st.PendingUpdate = api.GroupUpdating, req
		st.event(e.opts.Now(), "Normal", "Updating", "", "Updating the group: its containers are recreated")
	})
	go func() {
		defer func() { updates.Delete(key); close(done) }()
		e.finishUpdate(g)
	}()
	return nil
}

// sameButTags tells whether two requests differ in their tags at most.
func sameButTags(a, b *api.CreateContainerGroupRequest) bool {
	x, y := *a, *b
	x.Tag, y.Tag = nil, nil
	x.ClientToken, y.ClientToken = "", ""
	return reflect.DeepEqual(x, y)
}

// waitUpdate waits for the update of a group under way, if any, to end
// (Delete, so that it deletes the group the update made).
func (e *Engine) waitUpdate(ctx context.Context, id string) {
	if v, ok := updates.Load(updateKey{e, id}); ok {
		select {
		case <-v.(chan struct{}):
		case <-ctx.Done():
		}
	}
}

// adoptUpdating takes over a group whose update a stopped leci had not
// finished, and finishes it.
func (e *Engine) adoptUpdating(g *group) {
	key := updateKey{e, g.id}
	done := make(chan struct{})
	updates.Store(key, done)
	close(g.done) // no supervisor runs for the old spec
	go func() {
		defer func() { updates.Delete(key); close(done) }()
		e.finishUpdate(g)
	}()
}

// finishUpdate replaces old, whose status carries the pending request, by
// a group of that request on the same host state.
func (e *Engine) finishUpdate(old *group) {
	ctx := context.WithoutCancel(old.ctx)
	snap := old.snapshot()
	req := snap.PendingUpdate
	old.cancel()
	<-old.done
	old.aheads.Wait()
	old.dropAhead()
	e.probes.StopAll(old.id)

	grace := time.Duration(*snap.Request.TerminationGracePeriodSeconds) * time.Second
	containers, err := e.backend.ListContainers(ctx, old.id)
	if err == nil {
		err = eachContainer(containers, func(c pod.ContainerInfo) error {
			if c.Running {
				if err := old.stopContainer(ctx, c.Name, c.Kind, c.ID, grace); err != nil {
					return err
				}
			}
			return nil
		})
	}
	old.recordStopped(2 * time.Second)
	old.removals.Wait()
	if err == nil {
		err = eachContainer(containers, func(c pod.ContainerInfo) error { return e.backend.RemoveContainer(ctx, c.ID) })
	}
	host := snap.Host
	if err == nil {
		host, err = e.updateHost(ctx, old, snap, req)
	}

	ng := newGroup(e, old.id, old.dir, req)
	ng.st.CreatedAt, ng.st.StartedAt, ng.st.IPv4, ng.st.IPv6 = snap.CreatedAt, snap.StartedAt, snap.IPv4, snap.IPv6
	ng.st.Events, ng.st.Host, ng.st.Phase = snap.Events, host, api.GroupUpdating
	now := e.opts.Now()
	if err != nil {
		// The old containers may be gone: the group cannot run either
		// spec, and says why. Delete still removes all of it.
		old.log.Error("update failed", "err", err)
		ng.st.Phase, ng.st.Message, ng.st.FailedAt = api.GroupFailed, "update failed: "+err.Error(), now
		ng.st.event(now, "Warning", "FailedUpdate", "", err.Error())
	} else {
		ng.st.event(now, "Normal", "Updated", "", "The group's containers are recreated with the new spec")
	}
	e.mu.Lock()
	if e.groups[old.id] != old {
		// Gone meanwhile (the engine shut down): the record keeps the
		// pending update for the next leci.
		e.mu.Unlock()
		return
	}
	e.groups[old.id] = ng
	e.mu.Unlock()
	ng.update(func(*GroupStatus) {}) // recorded: the update is no longer pending
	// The old group's watchers end: its supervisor and its delete are
	// done with; the new group is what Watch and Delete find now.
	old.deleteOnce.Do(func() { close(old.gone) })
	if err != nil {
		close(ng.done)
		return
	}
	go ng.resume()
}

// updateHost makes the volumes of req that are new or changed (under new
// directories, so that a changed volume starts afresh; the others keep
// their contents) and writes the /etc files again (DNS, host aliases).
func (e *Engine) updateHost(ctx context.Context, old *group, snap GroupStatus, req *api.CreateContainerGroupRequest) (HostState, error) {
	host := snap.Host
	vols := map[string]string{}
	dir := filepath.Join(old.dir, "volumes")
	for _, v := range req.Volume {
		if src, ok := host.Volumes[v.Name]; ok && slicesContainsVolume(snap.Request.Volume, v) {
			vols[v.Name] = src
			continue
		}
		fresh := v
		fresh.Name = v.Name + "@" + strconv.FormatInt(e.opts.Now().UnixNano(), 36)
		made, err := e.vols.Prepare(ctx, dir, []api.Volume{fresh})
		if err != nil {
			return host, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		vols[v.Name] = made[fresh.Name]
	}
	host.Volumes = vols
	if host.Etc.Hosts != "" {
		etc, err := e.net.WriteEtcFiles(filepath.Join(old.dir, "etc"), etcFiles(req, host.Network))
		if err != nil {
			return host, fmt.Errorf("write /etc files: %w", err)
		}
		host.Etc = etc
	}
	return host, nil
}

func slicesContainsVolume(vols []api.Volume, v api.Volume) bool {
	for _, have := range vols {
		if reflect.DeepEqual(have, v) {
			return true
		}
	}
	return false
}
