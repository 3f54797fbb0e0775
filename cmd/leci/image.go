package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"leci/internal/pullprogress"
	"leci/internal/testimage"
	"leci/runtime/containerd"
)

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage the images leci runs groups from"}
	cmd.AddCommand(newImageCacheCommand())
	cmd.AddCommand(
		&cobra.Command{
			Use: "import FILE", Short: "Import an OCI layout tar or a docker-archive (- for standard input)",
			Args: exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var r io.Reader = cmd.InOrStdin()
				if args[0] != "-" {
					f, err := os.Open(args[0])
					if err != nil {
						return usageErrorf("%v", err)
					}
					defer f.Close()
					r = f
				}
				return importImage(cmd, g, r)
			},
		},
		&cobra.Command{
			Use:   "import-busybox [REF]",
			Short: "Build an image from this host's static busybox and import it (default " + testimage.DefaultRef + ")",
			Args:  maxArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ref := testimage.DefaultRef
				if len(args) == 1 {
					ref = args[0]
				}
				name, err := containerd.NormalizeRef(ref)
				if err != nil {
					return usageErrorf("%v", err)
				}
				images, err := g.openImages(cmd.Context(), g.logger(cmd.ErrOrStderr()))
				if err != nil {
					return err
				}
				defer images.Close()
				var buf bytes.Buffer
				if err := images.BuildBusybox(&buf, name); err != nil {
					return err
				}
				names, err := images.Import(cmd.Context(), &buf)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(names, "\n"))
				return nil
			},
		},
		newImagePullCommand(g),
		newImageListCommand(g),
		&cobra.Command{
			Use: "rm REF...", Short: "Remove images", Args: minArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				conn, err := g.openImages(cmd.Context(), g.logger(cmd.ErrOrStderr()))
				if err != nil {
					return err
				}
				defer conn.Close()
				for _, ref := range args {
					if err := conn.Remove(cmd.Context(), ref); err != nil {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), ref)
				}
				return nil
			},
		},
	)
	return cmd
}

func newImagePullCommand(g *globalOptions) *cobra.Command {
	var reg registryOptions
	cmd := &cobra.Command{
		Use: "pull REF", Short: "Pull an image from a registry",
		Long: `Pull an image from its registry, with the registry settings the daemon and
leci run use: --config's registries:, --registry-config-dir's hosts.toml
directories and docker's config.json (its credential helpers, then its auths).
Each layer's progress shows on standard error (bars on a terminal, a line per
change otherwise); the image's name and digest are printed on standard output.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log := g.logger(cmd.ErrOrStderr())
			settings, err := reg.load(reg.config, log)
			if err != nil {
				return err
			}
			conn, err := g.openImages(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer conn.Close()
			progress := pullprogress.NewDisplay(cmd.ErrOrStderr())
			name, digest, err := conn.Pull(cmd.Context(), args[0], settings, progress)
			progress.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", name, digest)
			return nil
		},
	}
	reg.register(cmd, true)
	return cmd
}

func importImage(cmd *cobra.Command, g *globalOptions, r io.Reader) error {
	conn, err := g.openImages(cmd.Context(), g.logger(cmd.ErrOrStderr()))
	if err != nil {
		return err
	}
	defer conn.Close()
	names, err := conn.Import(cmd.Context(), r)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), strings.Join(names, "\n"))
	return nil
}

func newImageListCommand(g *globalOptions) *cobra.Command {
	var out *outputOptions
	cmd := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List images", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(cmd); err != nil {
				return err
			}
			conn, err := g.openImages(cmd.Context(), g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			defer conn.Close()
			imgs, err := conn.List(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.format != "" {
				return writeTemplate(w, out.format, imgs)
			}
			if imgs == nil {
				imgs = []containerd.ImageSummary{}
			}
			return out.writeOutput(w, imgs, func(string) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REF\tDIGEST\tSIZE")
				for _, i := range imgs {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", i.Ref, i.Digest, i.Size)
				}
				return tw.Flush()
			})
		},
	}
	out = addOutputFlags(cmd, true, "table", "json", "yaml")
	return cmd
}
