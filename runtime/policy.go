package runtime

import (
	"fmt"
	"net/http"

	"leci/api"
)

// CodeForbiddenPrivileged is the error code of a privileged container on a
// leci that does not allow them. ECI has no such code (its privileged
// containers run in their own VM); the Forbidden family and HTTP 403 say it
// is the operator's policy, not a malformed request.
const CodeForbiddenPrivileged = "Forbidden.Privileged"

// ErrForbiddenPrivileged is the errors.Is target for CodeForbiddenPrivileged.
var ErrForbiddenPrivileged = &api.Error{Code: CodeForbiddenPrivileged, Status: http.StatusForbidden}

// CheckPrivileged refuses every container with SecurityContextPrivileged
// unless allow is set (--allow-privileged): a privileged container holds
// every capability, the host's devices and no seccomp profile, which is
// root on the host, so it takes the operator's consent.
func CheckPrivileged(req *api.CreateContainerGroupRequest, allow bool) api.Errors {
	if allow {
		return nil
	}
	var errs api.Errors
	for i, c := range req.Container {
		if c.SecurityContextPrivileged {
			errs = append(errs, &api.Error{
				Code: CodeForbiddenPrivileged, Status: http.StatusForbidden,
				Field:   fmt.Sprintf("Container.%d.SecurityContextPrivileged", i+1),
				Message: "privileged containers are root on the host and are off on this leci; the operator enables them with --allow-privileged (allowPrivileged in the daemon's configuration)",
			})
		}
	}
	return errs
}
