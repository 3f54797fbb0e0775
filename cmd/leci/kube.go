package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"leci/api"
	"leci/kube"
)

// kubeInput is what a Kubernetes manifest given to run, create or validate
// needs beside itself: the ConfigMaps and Secrets a cluster would keep, and
// where to say what was left out.
type kubeInput struct {
	fromFiles []string
	warn      io.Writer
}

func addKubeInputFlags(f *pflag.FlagSet, k *kubeInput) {
	f.StringArrayVar(&k.fromFiles, "from-file", nil,
		"for a Kubernetes Pod file: a file of ConfigMaps and Secrets its volumes, env and imagePullSecrets name (repeatable)")
}

// to gives the input with warnings going to w.
func (k kubeInput) to(w io.Writer) kubeInput {
	k.warn = w
	return k
}

// isKubeManifest tells a Kubernetes manifest from an ECI request.
func isKubeManifest(data []byte) bool { return kube.IsManifest(data) }

// decodeKubeRequest makes the request of a Pod, Deployment or Job manifest.
// Problems with the --from-file files are usage errors; problems of the
// manifest are *api.Error values, as for an ECI request.
func decodeKubeRequest(data []byte, in []kubeInput) (*api.CreateContainerGroupRequest, error) {
	var k kubeInput
	if len(in) > 0 {
		k = in[0]
	}
	var sources kube.Sources
	for _, path := range k.fromFiles {
		src, err := readFileLimited(path)
		if err != nil {
			return nil, usageErrorf("read --from-file: %w", err)
		}
		if len(src) > maxRequestFile {
			return nil, usageErrorf("--from-file %s is larger than %d bytes", path, maxRequestFile)
		}
		if err := sources.Add(src); err != nil {
			return nil, usageErrorf("--from-file %s: %w", path, err)
		}
	}
	res, err := kube.Decode(data, &sources)
	if err != nil {
		return nil, err
	}
	if k.warn != nil {
		for _, w := range res.Warnings {
			fmt.Fprintf(k.warn, "WARNING %s\n", w)
		}
	}
	return res.Request, nil
}

func newKubeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kube",
		Short: "Take Kubernetes Pods to groups and groups to Pods, as ECI's virtual node maps them",
		Long: `leci run, create and validate take a Kubernetes v1 Pod (or the Pod template of an
apps/v1 Deployment or batch/v1 Job) wherever they take a request: a file whose
top has apiVersion and kind is a manifest. Its ConfigMaps and Secrets may sit in
the same file (YAML documents apart) or be given with --from-file.
"leci kube generate" writes the Pod of a group, with the k8s.aliyun.com/eci-*
annotations ECI's virtual node reads, for a cluster to run as it is.

Fields only a cluster's scheduler or API server reads are left out with a
WARNING. Every other field leci has no request field for is refused, naming it.
These are refused for a reason of their own:

  ` + strings.Join(kube.RefusedFields(), "\n  ") + `

and these are left out with a warning:

  ` + strings.Join(kube.IgnoredFields(), "\n  "),
	}
	cmd.AddCommand(newKubeGenerateCommand())
	return cmd
}

type kubeGenerateOptions struct {
	file, format, host string
}

func newKubeGenerateCommand() *cobra.Command {
	var opts kubeGenerateOptions
	cmd := &cobra.Command{
		Use:   "generate ID|NAME | generate -f FILE",
		Short: "Print the Kubernetes Pod of a group, with ECI's annotations",
		Long: `Print the Pod manifest that ECI's virtual node turns into the group: of the
request in FILE, or of a group of the daemon as DescribeContainerGroups shows it.
ConfigFileVolumes become ConfigMaps and registry logins a dockerconfigjson Secret,
printed before the Pod in the same YAML stream ("kubectl apply -f" takes it).

What a Pod cannot carry is listed on standard error as NOTE lines (cloud-only
parameters with no annotation, DiskVolumes, EnvironmentVarHide, ...); a group
read from the daemon also lacks what DescribeContainerGroups does not show.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return kubeGenerateAction(cmd, args, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	f.StringVar(&opts.format, "format", "", "form of the request: json, yaml or rpc (default: from the file name)")
	f.StringVar(&opts.host, "host", "", "the daemon, for a group given by ID or NAME (as for leci describe)")
	return cmd
}

func kubeGenerateAction(cmd *cobra.Command, args []string, opts kubeGenerateOptions) error {
	stderr := cmd.ErrOrStderr()
	var req *api.CreateContainerGroupRequest
	switch {
	case len(args) == 1 && opts.file != "":
		return usageErrorf("give a group or -f FILE, not both")
	case len(args) == 1:
		o := clientOptions{host: opts.host}
		_, g, err := o.clientFor(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		var missing []string
		req, missing = kube.FromDetail(g)
		for _, m := range missing {
			fmt.Fprintf(stderr, "NOTE not shown by DescribeContainerGroups, so not in the Pod: %s\n", m)
		}
	case opts.file != "":
		r, err := readCreateRequest(cmd.InOrStdin(), opts.file, opts.format)
		if err == nil {
			// Validate a copy: the Pod says what the request says, not
			// the defaults leci fills in.
			var check api.CreateContainerGroupRequest
			if data, merr := json.Marshal(r); merr != nil {
				err = merr
			} else if err = json.Unmarshal(data, &check); err == nil {
				err = check.Normalize()
			}
		}
		if err != nil {
			if _, usage := err.(*exitError); usage {
				return err
			}
			printAPIErrors(stderr, err)
			return silentExit(exitUsage)
		}
		req = r
	default:
		return usageErrorf("give a group (ID or NAME) or -f FILE")
	}
	m, err := kube.Generate(req)
	if err != nil {
		return err
	}
	for _, lost := range m.Lost {
		fmt.Fprintf(stderr, "NOTE %s: no Pod field or ECI annotation carries it; left out\n", lost)
	}
	data, err := m.YAML()
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(data)
	return err
}
