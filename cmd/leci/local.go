package main

import (
	"net/http"

	"leci/api"
	"leci/runtime"
)

// checkLocal refuses, before anything is made, a valid request that this
// host cannot honour, saying exactly what it cannot do: cloud disks, a
// HostPath outside what leci may mount, a privileged container leci was not
// allowed to run, Windows.
func (o *globalOptions) checkLocal(req *api.CreateContainerGroupRequest) error {
	errs := o.hostConfig(runtime.Backoff{}).Check(req)
	if req.OsType == "Windows" {
		errs = append(errs, &api.Error{Code: "OsType.NotSupport", Status: http.StatusBadRequest, Field: "OsType",
			Message: "Windows groups cannot run on a Linux host"})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
