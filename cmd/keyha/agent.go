package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/agent"
)

var siteFlag = &cli.StringFlag{Name: "site", EnvVars: []string{"KEYHA_SITE"}, Usage: "this site's name in the cluster file", Required: true}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run the site's agent: poll the local node, answer HAProxy and Prometheus",
		Flags: []cli.Flag{siteFlag},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			a, err := agent.New(cl, c.String("site"), log)
			if err != nil {
				return err
			}
			return a.Run(c.Context)
		},
		Subcommands: []*cli.Command{{
			Name:      "maint",
			Usage:     "put a site's node in maintenance (on) or bring it back (off); survives agent restarts",
			ArgsUsage: "on|off",
			Flags:     []cli.Flag{siteFlag, &cli.StringFlag{Name: "reason", Usage: "why, recorded with the flag"}},
			Action: func(c *cli.Context) error {
				var on bool
				switch c.Args().First() {
				case "on":
					on = true
				case "off":
				default:
					return fmt.Errorf("maint takes on or off, not %q", c.Args().First())
				}
				cl, err := loadConfig(c)
				if err != nil {
					return err
				}
				s, err := cl.Site(c.String("site"))
				if err != nil {
					return err
				}
				m := agent.NewMaint(cl.Agent.StateDir, s.Name)
				if err := m.Set(on, c.String("reason")); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "maintenance %s for %s (%s)\n", c.Args().First(), s.Name, m.Path())
				return nil
			},
		}},
	}
}
