package runtime

import (
	"fmt"
	"net/http"
	goruntime "runtime"
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
