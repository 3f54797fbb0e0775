package main

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"leci/api"
)

func newTopCommand(o *clientOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "top ID|NAME",
		Short: "Print a container group's latest CPU, memory and network usage",
		Long: `Print the latest record of DescribeContainerGroupMetric: the CPU (in cores,
against the limit), memory and traffic of the group, then of each running
container. The daemon samples every 15 s, and once more when asked.`,
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var resp api.DescribeContainerGroupMetricResponse
			if err := c.call(cmd.Context(), "DescribeContainerGroupMetric", url.Values{"ContainerGroupId": {g.ContainerGroupID}}, &resp); err != nil {
				return err
			}
			if len(resp.Records) == 0 {
				return fmt.Errorf("%s has no usage to show: it is %s", g.ContainerGroupID, g.Status)
			}
			r := resp.Records[len(resp.Records)-1]
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), r)
			}
			return printTop(cmd.OutOrStdout(), g.ContainerGroupName, r)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json (the record as the API sends it)")
	return cmd
}

// printTop writes a record as two tables: CPU and memory of the group and
// its containers, then the traffic of each interface.
func printTop(w io.Writer, groupName string, r api.MetricRecord) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "AT %s\n", r.Timestamp)
	fmt.Fprintln(tw, "NAME\tCPU(cores)\tCPU LIMIT\tMEMORY\tWORKING SET\tAVAILABLE")
	row := func(name string, cpu api.CPUMetric, mem api.MemoryMetric) {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%s\t%s\t%s\n", name, float64(cpu.UsageNanoCores)/1e9, float64(cpu.Limit)/1000,
			mebibytes(mem.UsageBytes), mebibytes(mem.WorkingSet), mebibytes(mem.AvailableBytes))
	}
	row("group/"+groupName, r.CPU, r.Memory)
	for _, c := range r.Containers {
		row(c.Name, c.CPU, c.Memory)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INTERFACE\tRX BYTES\tTX BYTES\tRX PACKETS\tTX PACKETS\tERRORS\tDROPS")
	for _, i := range r.Network.Interfaces {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", i.Name, i.RxBytes, i.TxBytes, i.RxPackets, i.TxPackets,
			i.RxErrors+i.TxErrors, i.RxDrops+i.TxDrops)
	}
	return tw.Flush()
}

func mebibytes(n int64) string {
	return fmt.Sprintf("%.1fMi", float64(n)/(1<<20))
}
