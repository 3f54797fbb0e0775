package main

import (
	"errors"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"leci/host"
)

// daemonRuntimeSettings takes the runtime, the Docker address and
// allowPrivileged from the daemon's configuration file, where the flags do
// not give them.
func daemonRuntimeSettings(path string, g *globalOptions, runtimeSet, dockerHostSet, allowPrivilegedSet bool) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return usageErrorf("read --config: %w", err)
	}
	defer f.Close()
	var cfg daemonConfig
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return usageErrorf("config %s: %w", path, err)
	}
	switch cfg.Runtime {
	case "", host.RuntimeContainerd, host.RuntimeDocker, host.RuntimeAuto:
	default:
		return usageErrorf("config %s: runtime %q: want containerd, docker or auto", path, cfg.Runtime)
	}
	if cfg.Runtime != "" && !runtimeSet {
		g.runtime = cfg.Runtime
	}
	if cfg.DockerHost != "" && !dockerHostSet {
		g.dockerHost = cfg.DockerHost
	}
	if cfg.AllowPrivileged && !allowPrivilegedSet {
		g.allowPrivileged = true
	}
	return nil
}
