package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"leci/api"
)

type validateOptions struct {
	file   string
	format string
	output string
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
in Alibaba Cloud are listed as NOTE lines: leci keeps them but does not apply
them.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return validateAction(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	addInputFormatFlag(cmd, &opts.format)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "print the normalized request instead of \"valid\": json")
	return cmd
}

func validateAction(stdin io.Reader, stdout, stderr io.Writer, opts validateOptions) error {
	if opts.output != "" && opts.output != "json" {
		return usageErrorf("unknown --output %q: want json", opts.output)
	}
	req, err := readCreateRequest(stdin, opts.file, opts.format)
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
	for _, field := range req.NotAppliedLocally() {
		fmt.Fprintf(stderr, "NOTE %s: accepted and kept, but only meaningful in Alibaba Cloud; not applied locally\n", field)
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
