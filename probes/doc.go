// Package probes runs the liveness and readiness probes and the lifecycle
// hooks of leci's containers, with the kubelet's semantics.
//
// A probe or hook acts on a Target: Exec runs in the container through an
// Execer (the engine passes its backend), while HTTP and TCP connections are
// opened from inside the group's network namespace and go to the group's
// address (or to a hook's Host, still from inside that namespace). So an
// image needs no curl or nc, and 127.0.0.1 in a probe is the group's own
// loopback: a probe can never reach the host's loopback or leci's API.
//
// Run performs one probe and says Success, Failure or Unknown. Unknown means
// the probe could not run (the container is gone, the exec failed to start,
// the namespace cannot be entered); as in the kubelet it is not a failure and
// thresholds ignore it. A command that exits non-zero, an exec that outlives
// TimeoutSeconds, a refused or timed-out connection and an HTTP status
// outside 200–399 are failures.
//
// HTTP probes send GET with "User-Agent: leci-probe/1.0" and no proxy,
// without verifying certificates. A redirect is followed only to the same
// host name (any port), at most 5 times, and always through the namespace;
// a redirect to another host is not followed and, the 3xx being the
// answer, counts as success with a message saying so. At most 10 KiB of a
// body is read.
//
// A Manager runs one worker goroutine per probe (group, container, attempt,
// kind). A worker probes at InitialDelaySeconds after the container started
// and then every PeriodSeconds, counts consecutive results against
// SuccessThreshold and FailureThreshold, keeps the thresholded result in a
// cache (Get) and publishes it on Updates only when it changes. Readiness
// starts as Failure and liveness as Success. After a liveness Failure the
// worker holds: it probes no more until it is stopped, because the engine
// restarts the container as a new attempt with a new key.
//
// RunHandler runs a PostStart or PreStop hook once, bounded by its context.
// As in the kubelet, an HTTP hook fails only when no response arrives: its
// status code is reported in the output but is not judged.
package probes
