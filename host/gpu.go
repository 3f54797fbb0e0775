package host

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"

	"leci/api"
	"leci/internal/gpu"
	"leci/runtime"
)

// GPUs is the pool of CDI devices a container's Gpu counts: the kind
// GPUKind (default nvidia.com/gpu) of the specs in CDISpecDirs (default
// /etc/cdi and /var/run/cdi), held under <Root>/gpus.
func (c Config) GPUs() *gpu.Pool {
	dirs := c.CDISpecDirs
	if len(dirs) == 0 {
		dirs = gpu.DefaultSpecDirs()
	}
	kind := c.GPUKind
	if kind == "" {
		kind = gpu.DefaultKind
	}
	groups := filepath.Join(c.Root, "groups")
	return &gpu.Pool{SpecDirs: dirs, Kind: kind, StateDir: filepath.Join(c.Root, "gpus"),
		Owned: func(group string) bool {
			_, err := os.Stat(filepath.Join(groups, group))
			return err == nil
		}}
}

// checkGPUs refuses a request for more GPUs than are free now.
func (c Config) checkGPUs(req *api.CreateContainerGroupRequest) api.Errors {
	n := runtime.GPUsAsked(req)
	if n == 0 {
		return nil
	}
	err := c.GPUs().Check(n)
	switch {
	case errors.Is(err, gpu.ErrNotEnough):
		return api.Errors{runtime.NoGPUs(err)}
	case err != nil:
		return api.Errors{{Code: "InternalError", Status: http.StatusInternalServerError, Message: err.Error()}}
	}
	return nil
}
