// Package runtime is leci's group engine: it turns a validated
// CreateContainerGroup request into a running group and keeps it running
// (or lets it finish) as ECI defines: images pulled per policy, a sandbox
// with the group's network, volumes, init containers one at a time and in
// order, then every app container, restarted per the restart policy with
// backoff; and on delete, everything removed.
//
// Each group has one supervisor goroutine that owns its status. It works in
// rounds: Plan, a pure function of the request, the status and the time,
// says what to start next and what phase the group is in; the supervisor
// carries that out through the Backend and Networker interfaces (declared
// here, implemented by runtime/containerd and network), then waits for a
// container to exit, a backoff to end, or the group to be deleted.
//
// The files, by concern:
//
//   - engine.go: the Engine, its Options, and the calls on groups (Create,
//     Adopt, Get, List, Watch, Delete, Restart, Exec, Shutdown); update.go, annotate.go,
//     commit.go and available.go the smaller calls (Update, tags and
//     events, Commit and EnsureImage, Available).
//   - backend.go and interfaces.go: what the engine needs from a backend,
//     the network and the volumes (Backend, StartPreparer, NetNSOwner,
//     Networker, Volumes).
//   - plan.go: Plan, AfterExit and DecideProbe, the pure decisions; status.go
//     the GroupStatus they read and write; describe.go its ECI description.
//   - config.go: the request made concrete: the sandbox's and containers'
//     configurations, resources, /etc files, log paths; fields.go and
//     policy.go the checks and notes on fields; gpu.go the GPUs a group
//     holds; metrics.go the usage samples.
//   - group.go: a group's supervisor: its state, its rounds, resume after a
//     restart of leci, the deadline, the restart of the whole group.
//   - group_sandbox.go: the group's setup: sandbox, network, /etc files and
//     volumes, and their renewal when lost.
//   - group_image.go: the group's image pulls, started at setup and awaited
//     by each start.
//   - group_ahead.go: containers created (and prepared) ahead of their starts.
//   - group_container.go: a container's start, stop, exit and removal.
//   - group_probes.go: probes and lifecycle hooks of app containers.
//   - group_delete.go: delete, and the teardown of what setup made.
package runtime
