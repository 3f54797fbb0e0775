package runtime

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"leci/api"
	"leci/internal/gpu"
)

// CodeNoStock is ECI's answer when the resources asked for cannot be had:
// here, more GPUs than are free.
const CodeNoStock = "OperationDenied.NoStock"

// NoGPUs is the error of a group asking for more GPUs than are free.
func NoGPUs(err error) *api.Error {
	return &api.Error{Code: CodeNoStock, Status: http.StatusForbidden, Field: "Gpu", Message: err.Error()}
}

// GPUsAsked is how many devices a group holds: enough for its app
// containers together, or for its largest init container, which runs
// alone before them.
func GPUsAsked(req *api.CreateContainerGroupRequest) int {
	apps, inits := 0, 0
	for _, c := range req.Container {
		apps += c.Gpu
	}
	for _, c := range req.InitContainer {
		inits = max(inits, c.Gpu)
	}
	return max(apps, inits)
}

// reserveGPUs gives the group the devices its containers ask for, each
// app container its own, each init container the first of the group's,
// and records them in its status (with an event per container, which
// Describe shows). The devices are held until the group is deleted.
func (e *Engine) reserveGPUs(g *group) error {
	n := GPUsAsked(g.req)
	if n == 0 {
		return nil
	}
	if e.opts.GPUs == nil {
		return NoGPUs(fmt.Errorf("%w: %d asked, this leci offers none", gpu.ErrNotEnough, n))
	}
	devs, err := e.opts.GPUs.Reserve(g.id, n)
	if err != nil {
		return NoGPUs(err)
	}
	now := e.opts.Now()
	g.st.GPUs = map[string][]string{}
	give := func(name string, held []string) {
		if len(held) == 0 {
			return
		}
		g.st.GPUs[name] = held
		g.st.event(now, "Normal", "AssignedGPUs", name, "Assigned "+strings.Join(held, ", "))
	}
	for _, c := range g.req.InitContainer {
		give(c.Name, slices.Clone(devs[:c.Gpu]))
	}
	next := 0
	for _, c := range g.req.Container {
		give(c.Name, slices.Clone(devs[next:next+c.Gpu]))
		next += c.Gpu
	}
	return nil
}

// releaseGPUs frees the devices of a group.
func (e *Engine) releaseGPUs(id string) {
	if e.opts.GPUs != nil {
		e.opts.GPUs.Release(id)
	}
}

// gpusOf are the devices a container of the group holds.
func (g *group) gpusOf(name string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.GPUs[name]
}
