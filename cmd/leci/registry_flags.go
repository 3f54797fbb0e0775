package main

import (
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"leci/internal/registries"
)

// defaultRegistryConfigDirs are where containerd and docker keep per-host
// registry settings (hosts.toml, CA files, client certificates): the
// directories nerdctl reads too.
const defaultRegistryConfigDirs = "/etc/containerd/certs.d:/etc/docker/certs.d"

// registryOptions say where a pull finds the host's registry settings:
// leci run, leci image pull and the daemon read the same ones.
type registryOptions struct {
	// config is a daemon configuration file whose registries: are used
	// (run and image pull; the daemon has its own --config).
	config string
	// hostDirs is --registry-config-dir: directories in containerd's
	// hosts.toml layout, separated by colons.
	hostDirs string
}

// register adds --registry-config-dir, and with withConfig --config.
func (r *registryOptions) register(cmd *cobra.Command, withConfig bool) {
	f := cmd.Flags()
	f.StringVar(&r.hostDirs, "registry-config-dir", defaultRegistryConfigDirs,
		"directories of per-registry settings in containerd's hosts.toml layout (<dir>/<host[:port]>/hosts.toml, or ca.crt, client.cert and client.key as docker's certs.d), separated by colons; the first that has the host wins")
	if withConfig {
		f.StringVar(&r.config, "config", "", "leci daemon configuration file (YAML) whose registries: settings the pulls use, as the daemon does")
	}
}

// load reads the registry configuration: the registries: of configFile
// (none when ""), the hosts.toml directories and docker's config.json.
func (r *registryOptions) load(configFile string, log *slog.Logger) (*registries.Config, error) {
	var hosts map[string]registries.Host
	if configFile != "" {
		cfg, err := readDaemonConfig(configFile)
		if err != nil {
			return nil, err
		}
		hosts = cfg.Registries
	}
	reg, err := registries.New(hosts, registries.DockerConfigPath(), filepath.SplitList(r.hostDirs), log)
	if err != nil {
		return nil, usageErrorf("config %s: %w", configFile, err)
	}
	return reg, nil
}
