package runtime

import (
	"fmt"
	"net/http"
	goruntime "runtime"
	"sync"
	"time"

	"leci/api"
)

// ReasonFieldNotApplied is the reason of the warning event a group gets for
// each cloud-only parameter it sets that leci records without applying.
const ReasonFieldNotApplied = "FieldNotApplied"

// noteUnapplied records a warning event for each parameter of the request
// that leci keeps but does not apply, so that no field is accepted in
// silence.
func noteUnapplied(st *GroupStatus, req *api.CreateContainerGroupRequest, now time.Time) {
	for _, f := range req.NotAppliedLocally() {
		st.event(now, "Warning", ReasonFieldNotApplied, "", api.NotAppliedMessage(f))
	}
}

// CheckHostResources refuses a group that asks for more vCPUs or memory
// than this host has: such a limit would limit nothing.
func CheckHostResources(req *api.CreateContainerGroupRequest) api.Errors {
	return checkResources(req, float64(goruntime.NumCPU()), float64(hostMemory())/bytesPerGiB)
}

func checkResources(req *api.CreateContainerGroupRequest, cpus, memGiB float64) api.Errors {
	var errs api.Errors
	refuse := func(field, format string, args ...any) {
		errs = append(errs, &api.Error{Code: api.CodeInvalidCPUMemory, Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	cpu, mem := req.AllocatedResources()
	if cpu > cpus {
		refuse("Cpu", "the group asks for %g vCPUs and this host has %g", cpu, cpus)
	}
	if memGiB > 0 && mem > memGiB {
		refuse("Memory", "the group asks for %g GiB and this host has %.1f GiB", mem, memGiB)
	}
	return errs
}

// CodeAddressInUse is ECI's answer to a PrivateIpAddress another group has.
const CodeAddressInUse = "PrivateIpAddress.Already.InUse"

// addressBook holds the PrivateIpAddress of every group of the engine from
// its create to its delete, so that two creates asking for one address
// cannot both be accepted before either has it from the network.
type addressBook struct {
	mu    sync.Mutex
	owner map[string]string // address → group
}

// reserve gives addr to group, or says which group has it.
func (b *addressBook) reserve(group, addr string) error {
	if addr == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if other, ok := b.owner[addr]; ok && other != group {
		return api.Errors{{Code: CodeAddressInUse, Status: http.StatusBadRequest, Field: "PrivateIpAddress",
			Message: fmt.Sprintf("%s is the address of group %s", addr, other)}}
	}
	if b.owner == nil {
		b.owner = map[string]string{}
	}
	b.owner[addr] = group
	return nil
}

// release frees what group holds.
func (b *addressBook) release(group string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for addr, g := range b.owner {
		if g == group {
			delete(b.owner, addr)
		}
	}
}
