package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/agent"
)

var optionalSite = &cli.StringFlag{Name: "site", EnvVars: []string{"KEYHA_SITE"}, Usage: "this site's name in the cluster file"}

var siteFlag = &cli.StringFlag{Name: "site", EnvVars: []string{"KEYHA_SITE"}, Usage: "this site's name in the cluster file", Required: true}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run the site's agent: poll the local node, answer HAProxy and Prometheus",
		Flags: []cli.Flag{optionalSite},
		Action: func(c *cli.Context) error {
			if c.String("site") == "" {
				return fmt.Errorf("agent needs --site (or KEYHA_SITE): which site of the cluster file this agent watches")
			}
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			log := slog.Default() // --log-format, --log-level
			if cl.Mode == "drbd" {
				a, err := agent.NewDRBD(cl, c.String("site"), log)
				if err != nil {
					return err
				}
				defer onHangup(func() {
					log.Error("SIGHUP: the DRBD agent does not reload its cluster file; restart it to take a change (docs/deploy.md)")
				})()
				return a.Run(c.Context)
			}
			a, err := agent.New(cl, c.String("site"), log)
			if err != nil {
				return err
			}
			defer onHangup(func() { _ = a.Reload() })() // systemctl reload; Reload logs what it did
			return a.Run(c.Context)
		},
		Subcommands: []*cli.Command{{
			Name:  "maint",
			Usage: "put a site's node in maintenance or bring it back; survives agent restarts",
			Subcommands: []*cli.Command{
				maintCommand(true), maintCommand(false),
			},
		}},
	}
}

func maintCommand(on bool) *cli.Command {
	name, usage := "off", "end maintenance: the agent judges the node again"
	if on {
		name, usage = "on", "start maintenance: HAProxy puts the node in MAINT at every site (DRBD mode: the site is never promoted, a Primary keeps serving)"
	}
	return &cli.Command{
		Name:  name,
		Usage: usage + " (through the site's agent, from any host)",
		Flags: []cli.Flag{siteFlag, &cli.StringFlag{Name: "reason", Usage: "why, recorded with the flag"}},
		Action: func(c *cli.Context) error {
			k, err := controller(c)
			if err != nil {
				return err
			}
			site := c.String("site")
			if err := k.Maint(c.Context, site, on, c.String("reason")); err != nil {
				return fmt.Errorf("maintenance %s for %s: %w", name, site, err)
			}
			fmt.Fprintf(c.App.Writer, "maintenance %s for %s: its agent confirms\n", name, site)
			return nil
		},
	}
}

// onHangup calls reload on every SIGHUP until the returned stop is called.
func onHangup(reload func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				reload()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}
