package main

import (
	"errors"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
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
