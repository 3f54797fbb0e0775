package main

import (
	"leci/pod"
	"leci/runtime"
	"leci/runtime/containerd"
	"leci/runtime/docker"
)

// What the engine asks of each backend, checked where both meet: a backend
// imports pod, never runtime, so it cannot say so itself.
var (
	_ runtime.Backend       = (*containerd.Backend)(nil)
	_ runtime.StartPreparer = (*containerd.Backend)(nil)
	_ runtime.Committer     = (*containerd.Backend)(nil)
	_ pod.Pinger            = (*containerd.Backend)(nil)
	_ runtime.StdinOpener   = (*containerd.Backend)(nil)

	_ runtime.Backend     = (*docker.Backend)(nil)
	_ runtime.NetNSOwner  = (*docker.Backend)(nil)
	_ runtime.Committer   = (*docker.Backend)(nil)
	_ pod.Pinger          = (*docker.Backend)(nil)
	_ runtime.StdinOpener = (*docker.Backend)(nil)
)
