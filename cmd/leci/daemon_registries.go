package main

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"go.yaml.in/yaml/v3"

	"leci/internal/registries"
)

// readDaemonConfig reads the daemon's YAML configuration file; unknown keys
// are errors.
func readDaemonConfig(path string) (daemonConfig, error) {
	var cfg daemonConfig
	f, err := os.Open(path)
	if err != nil {
		return cfg, usageErrorf("read --config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, usageErrorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// daemonRegistries is the registry configuration of the daemon: the
// registries of its configuration file (none without --config) and the
// logins of docker's config.json ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json), which a pull uses where its request has no
// ImageRegistryCredential for the registry.
func daemonRegistries(path string, log *slog.Logger) (*registries.Config, error) {
	var hosts map[string]registries.Host
	if path != "" {
		cfg, err := readDaemonConfig(path)
		if err != nil {
			return nil, err
		}
		hosts = cfg.Registries
	}
	reg, err := registries.New(hosts, registries.DockerConfigPath(), nil, log)
	if err != nil {
		return nil, usageErrorf("config %s: %w", path, err)
	}
	return reg, nil
}
