package server

import (
	"fmt"
	"net/http"

	"leci/api"
)

// unsupportedActions are the actions of the ECI SDK that leci answers as
// unsupported, each with why: they act on cloud resources a single host
// does not have. The README's table of actions says the same; a test
// checks that every action of the SDK is served or listed here.
var unsupportedActions = map[string]string{
	"CreateDataCache":            dataCacheWhy,
	"DescribeDataCaches":         dataCacheWhy,
	"UpdateDataCache":            dataCacheWhy,
	"DeleteDataCache":            dataCacheWhy,
	"CopyDataCache":              dataCacheWhy,
	"CreateVirtualNode":          virtualNodeWhy,
	"DescribeVirtualNodes":       virtualNodeWhy,
	"UpdateVirtualNode":          virtualNodeWhy,
	"DeleteVirtualNode":          virtualNodeWhy,
	"CreateInstanceOpsTask":      "instance operations tasks (core dumps, ...) write to the cloud's OSS buckets; on this host use the container's files, `leci exec` and the host's tools",
	"DescribeInstanceOpsRecords": "instance operations tasks (core dumps, ...) write to the cloud's OSS buckets; leci runs none, so it has no records",
	"ResizeContainerGroupVolume": "it grows cloud disks (DiskVolume), which leci does not have; its volumes live on the host's file systems",
}

const (
	dataCacheWhy   = "data caches are cloud disk snapshots of data, which need cloud disks; leci's groups mount the host's directories (HostPathVolume, EmptyDirVolume) instead"
	virtualNodeWhy = "virtual nodes register ECI with a Kubernetes cluster (virtual-kubelet); leci is one host and runs no node agent"
)

// unsupported is the answer to an action of the ECI SDK that leci does not
// serve: ECI's <Thing>.NotSupport shape (as DiskVolume.NotSupport), naming
// the action, HTTP 400.
func unsupported(action, why string) error {
	return &api.Error{Code: action + ".NotSupport", Status: http.StatusBadRequest,
		Message: fmt.Sprintf("the action %s is not supported by leci: %s", action, why)}
}
