package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"leci/host"
	"leci/network"
	"leci/runtime"
)

func newInfoCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "info", Short: "Show the runtime, network and cgroup settings leci uses", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			images, err := g.openImages(cmd.Context(), g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			defer images.Close()
			var (
				runtimeName, runtimeLine string
				ci, di                   any
			)
			switch st := images.(type) {
			case containerdImages:
				info, err := st.Info(cmd.Context())
				if err != nil {
					return err
				}
				ci, runtimeName = info, host.RuntimeContainerd
				runtimeLine = fmt.Sprintf("containerd:  %s (version %s, namespace %s, own %v)", info.Address, info.Version, info.Namespace, info.Own)
			case dockerImages:
				di, runtimeName = map[string]string{"host": st.Host(), "version": st.Version()}, host.RuntimeDocker
				runtimeLine = fmt.Sprintf("docker:      %s (version %s)", st.Host(), st.Version())
			}
			nm, err := network.New(g.hostConfig(runtime.Backoff{}).NetworkConfig(), g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			info := struct {
				Root       string         `json:"root"`
				Runtime    string         `json:"runtime"`
				Containerd any            `json:"containerd,omitempty"`
				Docker     any            `json:"docker,omitempty"`
				Network    network.Info   `json:"network"`
				Cgroup     map[string]any `json:"cgroup"`
			}{g.root, runtimeName, ci, di, nm.Info(), map[string]any{"driver": "cgroupfs", "version": cgroupVersion()}}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "root:        %s\n", g.root)
			fmt.Fprintf(w, "runtime:     %s\n", runtimeName)
			fmt.Fprintln(w, runtimeLine)
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
