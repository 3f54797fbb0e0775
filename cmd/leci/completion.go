package main

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// completeGroups completes the group arguments of a command with the ids
// and names of the groups the daemon has; exec completes its first only.
func (o *clientOptions) completeGroups(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if cmd.Name() == "exec" && len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	groups, err := o.listGroups(cmd.Context(), url.Values{"WithEvent": {"false"}})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, g := range groups {
		if strings.HasPrefix(g.ContainerGroupID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(g.ContainerGroupID, g.ContainerGroupName+" "+string(g.Status)))
		}
		if g.ContainerGroupName != "" && strings.HasPrefix(g.ContainerGroupName, toComplete) {
			out = append(out, cobra.CompletionWithDesc(g.ContainerGroupName, g.ContainerGroupID))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeContainerFlag completes the flag name of cmd with the names of
// the containers of the group its first argument names.
func (o *clientOptions) completeContainerFlag(cmd *cobra.Command, name string) {
	_ = cmd.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		_, g, err := o.clientFor(cmd.Context(), args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, c := range g.Containers {
			names = append(names, c.Name)
		}
		for _, c := range g.InitContainers {
			names = append(names, c.Name)
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}
