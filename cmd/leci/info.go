package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"leci/network"
	"leci/runtime"
)

func newInfoCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "info", Short: "Show containerd, network and cgroup settings leci uses", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := g.connect(cmd.Context(), g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			defer conn.Close()
			ci, err := conn.Info(cmd.Context())
			if err != nil {
				return err
			}
			nm, err := network.New(g.hostConfig(runtime.Backoff{}).NetworkConfig(), g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			info := struct {
				Root       string         `json:"root"`
				Containerd any            `json:"containerd"`
				Network    network.Info   `json:"network"`
				Cgroup     map[string]any `json:"cgroup"`
			}{g.root, ci, nm.Info(), map[string]any{"driver": "cgroupfs", "version": cgroupVersion()}}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "root:        %s\n", g.root)
			fmt.Fprintf(w, "containerd:  %s (version %s, namespace %s, own %v)\n", ci.Address, ci.Version, ci.Namespace, ci.Own)
			fmt.Fprintf(w, "network:     %s on bridge %s, subnet %s, plugins in %v\n", nm.Info().NetworkName, nm.Info().Bridge, nm.Info().Subnet, nm.Info().BinDirs)
			fmt.Fprintf(w, "cgroup:      cgroupfs, v%d\n", cgroupVersion())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for machine-readable output")
	return cmd
}

// cgroupVersion is 2 on a unified hierarchy, else 1.
func cgroupVersion() int {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return 2
	}
	return 1
}
