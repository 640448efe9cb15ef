package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/drbd"
)

func drbdCommand() *cli.Command {
	return &cli.Command{
		Name:  "drbd",
		Usage: "DRBD mode: this node's resources",
		Subcommands: []*cli.Command{{
			Name:  "status",
			Usage: "this node's DRBD resources (8.4: /proc/drbd; 9: drbdsetup status --json), and what to know about them",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "proc", Value: "/proc/drbd", Usage: "DRBD's proc file"},
				&cli.BoolFlag{Name: "json", Usage: "print the model as JSON"},
			},
			Action: func(c *cli.Context) error {
				rs, src, err := drbd.ReadLocal(c.Context, drbd.Exec, c.String("proc"))
				if err != nil {
					return err
				}
				if c.Bool("json") {
					b, _ := json.MarshalIndent(rs, "", "  ")
					fmt.Fprintln(c.App.Writer, string(b))
					return nil
				}
				fmt.Fprintf(c.App.Writer, "from %s\n", src)
				tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "RESOURCE\tMINOR\tROLE\tDISK\tPEER\tCONNECTION\tPEER ROLE\tPEER DISK\tOUT OF SYNC")
				for _, r := range rs {
					if len(r.Peers) == 0 {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t-\t-\t-\t-\t-\n", r.Name, r.Minor, r.Role, r.Disk)
					}
					for _, p := range r.Peers {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d KiB\n", r.Name, r.Minor, r.Role, r.Disk, orDash(p.Name), p.Connection, p.Role, p.Disk, p.OutOfSync)
					}
				}
				tw.Flush()
				for _, r := range rs {
					for _, f := range drbd.Findings(r) {
						fmt.Fprintf(c.App.Writer, "%s: %s\n", r.Name, f)
					}
				}
				return nil
			},
		}, {
			Name: "split-brain",
			Usage: "on a DRBD node: say whether the resource is split; with --discard SITE (the operator's choice), reconnect it: " +
				"that site throws away its writes since the split, the other resyncs it",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "resource", Value: "r0", Usage: "the DRBD resource"},
				&cli.StringFlag{Name: "site", Usage: "this node's site name (as in the DRBD resource's 'on' sections)"},
				&cli.StringFlag{Name: "discard", Usage: "the site whose changes since the split are discarded; without it nothing is changed"},
				&cli.StringFlag{Name: "proc", Value: "/proc/drbd", Usage: "DRBD's proc file"},
			},
			Action: func(c *cli.Context) error {
				rs, _, err := drbd.ReadLocal(c.Context, drbd.Exec, c.String("proc"))
				if err != nil {
					return err
				}
				var res *drbd.Resource
				for i := range rs {
					if rs[i].Name == c.String("resource") {
						res = &rs[i]
					}
				}
				if res == nil {
					return fmt.Errorf("no DRBD resource %q on this node", c.String("resource"))
				}
				split, why := drbd.SplitBrain(*res)
				fmt.Fprintf(c.App.Writer, "split brain: %v: %s\n", split, why)
				if c.String("discard") == "" {
					return nil
				}
				if c.String("site") == "" {
					return fmt.Errorf("--site: say which site this node is, so keyha knows whether its changes are the ones discarded")
				}
				plan, err := drbd.ResolvePlan(*res, c.String("site"), c.String("discard"))
				if err != nil {
					return err
				}
				for _, step := range plan {
					fmt.Fprintf(c.App.Writer, "running: %s\n", strings.Join(step, " "))
					if _, err := drbd.Exec(c.Context, step[0], step[1:]...); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
