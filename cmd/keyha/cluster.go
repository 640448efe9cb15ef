package main

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/ops"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "every site's node, verdict, writer mark, seqno, gossip membership and config agreement",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON: {cluster, mode, writer, problem, sites: [{site, state, role, reason, error, detail}]}, the same in both modes"}},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			if cl.Mode == "drbd" { // one command for both modes: the DRBD view of every site
				k, err := ops.NewController(cl, c.App.Writer)
				if err != nil {
					return err
				}
				sites := k.DRBDStatus(c.Context)
				if c.Bool("json") {
					enc := json.NewEncoder(c.App.Writer)
					enc.SetIndent("", "  ")
					return enc.Encode(ops.DRBDStatusOf(cl, sites))
				}
				ops.PrintDRBDSites(c.App.Writer, sites)
				return nil
			}
			sts := ops.Fetch(c.Context, cl, 3*time.Second)
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(ops.GaleraStatus(cl, sts))
			}
			ops.PrintStatus(c.App.Writer, cl, sts)
			return nil
		},
	}
}

func switchoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "switchover",
		Usage: "planned move of the writer to a site; waits until every HAProxy agrees",
		Flags: []cli.Flag{&cli.StringFlag{Name: "to", Required: true, Usage: "the site that becomes the writer"}},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			return ops.Switchover(c.Context, cl, c.String("to"), c.App.Writer)
		},
	}
}
