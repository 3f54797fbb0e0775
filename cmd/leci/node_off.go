//go:build !leci_node

package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"leci/host"
)

// nodeOptions, in a leci built without the Kubernetes node (the default
// build: `make build-node` builds it in, see package node): the client
// libraries it needs would double the binary and add tens of milliseconds
// to the start of every leci command, leci run's included. --kubeconfig
// is kept, to say so.
type nodeOptions struct {
	kubeconfig string
}

func (o *nodeOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "join the Kubernetes cluster of this kubeconfig as a node (needs a leci built with make build-node)")
}

func (o *nodeOptions) check() error {
	if o.kubeconfig != "" {
		return usageErrorf("--kubeconfig: this leci is built without the Kubernetes node; build it with make build-node (see the README's \"Join a Kubernetes cluster\")")
	}
	return nil
}

func (o *nodeOptions) start(context.Context, *globalOptions, *host.Host, *slog.Logger) (<-chan error, error) {
	return nil, nil
}
