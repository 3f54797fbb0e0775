package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// outputOptions are a listing command's -o and --format: the output
// forms it knows, and a Go template over the objects -o json prints.
type outputOptions struct {
	output, format string
	forms          []string
}

// addOutputFlags gives cmd -o (one of forms, the first the default) and,
// with template, --format.
func addOutputFlags(cmd *cobra.Command, template bool, forms ...string) *outputOptions {
	o := &outputOptions{forms: forms}
	cmd.Flags().StringVarP(&o.output, "output", "o", forms[0], strings.Join(forms, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(forms, cobra.ShellCompDirectiveNoFileComp))
	if template {
		cmd.Flags().StringVar(&o.format, "format", "",
			`print each object with a Go template over the fields -o json shows, e.g. '{{.ContainerGroupId}} {{.Status}}' ('{{json .}}' for one JSON line)`)
	}
	return o
}

// check refuses an unknown -o, or -o given with --format, as usage errors.
func (o *outputOptions) check(cmd *cobra.Command) error {
	if o.format != "" && cmd.Flags().Changed("output") {
		return usageErrorf("give -o or --format, not both")
	}
	return checkOutput(o.output, o.forms...)
}

// templateFuncs are the functions --format templates have besides Go's, as
// docker's: json, join, upper, lower, truncate.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
}

// writeTemplate prints each item with the template text, one line each.
// The template sees an item as -o json prints it (its wire field names),
// not as a Go value.
func writeTemplate[T any](w io.Writer, text string, items []T) error {
	t, err := template.New("format").Funcs(templateFuncs).Option("missingkey=zero").Parse(text)
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	var buf bytes.Buffer
	for _, item := range items {
		tree, err := jsonTree(item)
		if err != nil {
			return err
		}
		if err := t.Execute(&buf, tree); err != nil {
			return usageErrorf("--format: %v", err)
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// jsonTree is v as JSON decodes it into maps and lists, numbers kept as
// written: what YAML and templates show, under the wire names.
func jsonTree(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return tree, nil
}

// writeYAMLOut prints v as YAML under its JSON (wire) names.
func writeYAMLOut(w io.Writer, v any) error {
	tree, err := jsonTree(v)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNumbers(tree)); err != nil {
		return err
	}
	return enc.Close()
}

// yamlNumbers turns json.Number values back into numbers YAML prints bare.
func yamlNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = yamlNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = yamlNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
	}
	return v
}

// writeOutput prints items as -o says (the template of --format is the
// caller's), with table for the tabular forms.
func (o *outputOptions) writeOutput(w io.Writer, items any, table func(form string) error) error {
	switch {
	case o.output == "json":
		return writeJSONOut(w, items)
	case o.output == "yaml":
		return writeYAMLOut(w, items)
	case slices.Contains(o.forms, o.output):
		return table(o.output)
	}
	return checkOutput(o.output, o.forms...)
}

// addInputFormatFlag gives a command that reads a request --input-format,
// and --format as its deprecated name: --format is the output's elsewhere.
func addInputFormatFlag(cmd *cobra.Command, format *string) {
	const usage = "form of the request: json, yaml or rpc (default: from the file name)"
	f := cmd.Flags()
	f.StringVar(format, "input-format", "", usage)
	f.StringVar(format, "format", "", usage)
	_ = f.MarkHidden("format")
	// cobra's own deprecation notice would go to standard output.
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if cmd.Flags().Changed("format") {
			fmt.Fprintln(cmd.ErrOrStderr(), "leci: --format is deprecated here, use --input-format (--format is to mean the output's form, as elsewhere)")
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("input-format", cobra.FixedCompletions([]string{"json", "yaml", "rpc"}, cobra.ShellCompDirectiveNoFileComp))
}

// clientUsageTemplate is cobra's usage template for cmd with, of the
// "Global Flags", only --root: where foreground runs are found.
func clientUsageTemplate(cmd *cobra.Command) string {
	t := cmd.UsageTemplate()
	start := strings.Index(t, "{{if .HasAvailableInheritedFlags}}")
	if start < 0 {
		return t
	}
	end := strings.Index(t[start:], "{{end}}")
	if end < 0 {
		return t
	}
	root := `{{with .Root.PersistentFlags.Lookup "root"}}

Global Flags:
      --{{.Name}} string   {{.Usage}}; its foreground runs (leci run) are found too (default "{{.DefValue}}"){{end}}`
	return t[:start] + root + t[start+end+len("{{end}}"):]
}
