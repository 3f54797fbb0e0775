package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"leci/api"
)

type validateOptions struct {
	file   string
	format string
	output string
	kube   kubeInput
	fields bool
}

func newValidateCommand() *cobra.Command {
	var opts validateOptions
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a CreateContainerGroup request without running it",
		Long: `Decode a CreateContainerGroup request (JSON, YAML, or with --input-format rpc a query
string as the SDKs send it), apply the defaults and check every rule of the API.

A valid request prints "valid" (or, with -o json, the request with its defaults
applied) and exits 0. An invalid one prints one line per problem on standard
error, "ERROR <Code>: <message>", and exits 2, as every leci command does
with an invalid request or command line. Parameters that only mean something
in Alibaba Cloud and that leci records without applying are listed as NOTE
lines, one per parameter set; the same words become a warning event
(FieldNotApplied) of the group.

--fields prints, instead, every cloud-only parameter and what leci does with
it: "recorded" (kept and echoed back, not applied) or "analogy" (applied by
its local meaning). Every other parameter is applied as ECI applies it.

Units: Cpu in vCPUs and Memory in GiB, as ECI offers them (a group's pair is
one of ECI's sizes, the containers' add up to no more than the group's, and
the host must have them); IngressBandwidth and EgressBandwidth in bytes per
second (Bps, as ECI's documentation says: 1024000 is 8.192 Mbit/s).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return validateAction(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	addInputFormatFlag(cmd, &opts.format)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "print the normalized request instead of \"valid\": json")
	addKubeInputFlags(cmd.Flags(), &opts.kube)
	cmd.Flags().BoolVar(&opts.fields, "fields", false, "list the cloud-only parameters and what leci does with each, and exit")
	return cmd
}

func validateAction(stdin io.Reader, stdout, stderr io.Writer, opts validateOptions) error {
	if opts.output != "" && opts.output != "json" {
		return usageErrorf("unknown --output %q: want json", opts.output)
	}
	if opts.fields {
		return printCloudFields(stdout)
	}
	req, err := readCreateRequest(stdin, opts.file, opts.format, opts.kube.to(stderr))
	if err == nil {
		err = req.Normalize()
	}
	if err != nil {
		if _, usage := err.(*exitError); usage {
			return err
		}
		printAPIErrors(stderr, err)
		return silentExit(exitUsage)
	}
	for _, f := range req.NotAppliedLocally() {
		fmt.Fprintf(stderr, "NOTE %s\n", api.NotAppliedMessage(f))
	}
	if opts.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(req)
	}
	_, err = fmt.Fprintln(stdout, "valid")
	return err
}

// printAPIErrors prints one line per problem, as every command reports a
// refused request.
func printAPIErrors(w io.Writer, err error) {
	for _, e := range api.AsErrors(err) {
		fmt.Fprintf(w, "ERROR %s: %s\n", e.Code, e.Text())
	}
}

// printCloudFields prints api.CloudFields, one parameter a line.
func printCloudFields(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARAMETER\tUSE\tWHAT LECI DOES")
	for _, f := range api.CloudFields {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Use, f.How)
	}
	return tw.Flush()
}
