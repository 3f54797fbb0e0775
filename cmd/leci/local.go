package main

import (
	"fmt"
	"net/http"

	"leci/api"
)

// checkLocal refuses, before anything is made, a valid request that this
// host cannot honour, saying exactly what it cannot do.
func checkLocal(req *api.CreateContainerGroupRequest) error {
	var errs api.Errors
	for i, v := range req.Volume {
		switch v.Type {
		case api.VolumeDisk, api.VolumeFlex, api.VolumeNFS:
			errs = append(errs, &api.Error{
				Code: v.Type[:len(v.Type)-len("Volume")] + "Volume.NotSupport", Status: http.StatusBadRequest,
				Field:   fmt.Sprintf("Volume.%d.Type", i+1),
				Message: fmt.Sprintf("%s volumes are not available on a local host", v.Type),
			})
		}
	}
	if req.OsType == "Windows" {
		errs = append(errs, &api.Error{Code: "OsType.NotSupport", Status: http.StatusBadRequest, Field: "OsType",
			Message: "Windows groups cannot run on a Linux host"})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
