package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/drbd"
	"github.com/keyha/keyha/ops"
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
				if split {
					if advice := fenceAdvice(c); advice != "" {
						fmt.Fprintln(c.App.Writer, advice)
					}
				}
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
		}, {
			Name:  "check-config",
			Usage: "report every link between sites in clear: the agents' HTTP without TLS, DRBD's replication outside WireGuard or without cram-hmac",
			Action: func(c *cli.Context) error {
				k, err := drbdController(c)
				if err != nil {
					return err
				}
				return k.DRBDCheckConfig(c.Context, c.App.Writer)
			},
		}, {
			Name:  "sites",
			Usage: "every site's agent: DRBD role, disk, link, whether HAProxy may send traffic there, fences",
			Action: func(c *cli.Context) error {
				k, err := drbdController(c)
				if err != nil {
					return err
				}
				ops.PrintDRBDSites(c.App.Writer, k.DRBDStatus(c.Context))
				return nil
			},
		}, {
			Name:  "switchover",
			Usage: "move the Primary role to a data site, planned: demote the Primary, promote the target once both disks are UpToDate",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "to", Required: true, Usage: "the data site to promote"},
				&cli.DurationFlag{Name: "timeout", Value: 3 * time.Minute, Usage: "give up after this long"},
			},
			Action: func(c *cli.Context) error {
				k, err := drbdController(c)
				if err != nil {
					return err
				}
				_, err = k.DRBDSwitchover(c.Context, c.String("to"), c.Duration("timeout"))
				return err
			},
		}, {
			Name: "fence-peer",
			Usage: "DRBD's fence-peer handler (handlers { fence-peer \"keyha --config F drbd fence-peer --site S\"; }): " +
				"exits 4 once a majority of agents holds the fence against the peer, 1 otherwise (I/O stays frozen)",
			Flags: []cli.Flag{siteFlag},
			Action: func(c *cli.Context) error {
				k, err := drbdController(c)
				if err != nil {
					return cli.Exit("fence-peer: "+err.Error(), 1)
				}
				ctx, cancel := context.WithTimeout(c.Context, k.Cluster.DRBD.FenceTimeout+5*time.Second)
				defer cancel()
				code, err := k.FencePeer(ctx, c.String("site"))
				if err != nil {
					return cli.Exit("fence-peer: "+err.Error(), code)
				}
				fmt.Fprintln(c.App.Writer, "fence-peer: a majority holds the fence; the peer is outdated")
				return cli.Exit("", code)
			},
		}},
	}
}

// fenceAdvice says, when the agents can be asked (a cluster file is given), which side a fence
// held by a majority says took over: the other side's writes since the split were never
// acknowledged. It only advises; the operator still names the side to discard.
func fenceAdvice(c *cli.Context) string {
	k, err := drbdController(c)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
	defer cancel()
	for _, s := range k.DRBDStatus(ctx) {
		if owner, target, ok := strings.Cut(s.Detail.Ack, ">"); ok {
			return fmt.Sprintf("advice: %s's agent holds %s's fence against %s: %s took over while %s was cut off, and %s's writes since then were never acknowledged; if that is so, resolve with --discard %s",
				s.Site, owner, target, owner, target, target, target)
		}
	}
	return ""
}

func drbdController(c *cli.Context) (*ops.Controller, error) {
	cl, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	if cl.Mode != "drbd" {
		return nil, fmt.Errorf("the cluster file %s has mode %s: these commands are for mode drbd", cl.Path, cl.Mode)
	}
	return ops.NewController(cl, c.App.Writer)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
