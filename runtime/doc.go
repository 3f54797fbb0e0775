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
package runtime
