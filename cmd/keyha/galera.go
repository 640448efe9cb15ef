package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/ops"
)

// controller loads the cluster file and the key that signs requests to the agents.
func controller(c *cli.Context) (*ops.Controller, error) {
	cl, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	return ops.NewController(cl, c.App.Writer)
}

func galeraCommand() *cli.Command {
	desync := func(on bool) cli.ActionFunc {
		return func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			return ops.Desync(c.Context, cl, c.String("site"), on, c.App.Writer)
		}
	}
	return &cli.Command{
		Name:  "galera",
		Usage: "operate the Galera cluster: recover after a full outage, rolling restart, desync for backups, config checks",
		Subcommands: []*cli.Command{
			{
				Name:  "recover",
				Usage: "when no Primary component exists: bootstrap the most advanced node, start the others, wait until all are Synced",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "print the positions and the plan; change nothing"},
					listFlag("force-without", "SITE: proceed although these sites cannot be asked (what only they hold is lost)"),
					&cli.DurationFlag{Name: "timeout", Value: ops.DefaultStepTimeout, Usage: "bound on each wait for Synced"},
				},
				Action: func(c *cli.Context) error {
					k, err := controller(c)
					if err != nil {
						return err
					}
					return k.Recover(c.Context, ops.RecoverOptions{DryRun: c.Bool("dry-run"), ForceWithout: list(c, "force-without"), Timeout: c.Duration("timeout")})
				},
			},
			{
				Name:  "rolling-restart",
				Usage: "restart every site's mysqld one at a time, out of HAProxy meanwhile; the writer last, after a switchover",
				Flags: []cli.Flag{&cli.DurationFlag{Name: "timeout", Value: ops.DefaultStepTimeout, Usage: "bound on each wait for Synced"}},
				Action: func(c *cli.Context) error {
					k, err := controller(c)
					if err != nil {
						return err
					}
					return k.RollingRestart(c.Context, c.Duration("timeout"))
				},
			},
			{Name: "desync", Usage: "set wsrep_desync=ON at a site (before a backup); the agent reports the node drained", Flags: []cli.Flag{siteFlag}, Action: desync(true)},
			{Name: "resync", Usage: "set wsrep_desync=OFF at a site", Flags: []cli.Flag{siteFlag}, Action: desync(false)},
			{
				Name:  "check-config",
				Usage: "judge every node's Galera settings: arbitrator, timeouts for the RTTs between sites, differences between sites",
				Action: func(c *cli.Context) error {
					cl, err := loadConfig(c)
					if err != nil {
						return err
					}
					return ops.CheckConfig(c.Context, cl, c.App.Writer)
				},
			},
		},
	}
}

func keystoneCommand() *cli.Command {
	return &cli.Command{
		Name:  "keystone",
		Usage: "what Keystone needs identical at every site",
		Subcommands: []*cli.Command{tokensCommand(), {
			Name:  "keys",
			Usage: "Keystone's fernet and credential key repositories",
			Subcommands: []*cli.Command{
				{
					Name:  "check",
					Usage: "compare every site's keys with the first site's, by digest; exit 1 on drift",
					Action: func(c *cli.Context) error {
						k, err := controller(c)
						if err != nil {
							return err
						}
						return k.KeysCheck(c.Context)
					},
				},
				{
					Name:  "sync",
					Usage: "copy one site's keys to every other site (sealed in transit, atomic per file, modes kept)",
					Flags: []cli.Flag{&cli.StringFlag{Name: "from", Required: true, Usage: "the site whose keys are right"}},
					Action: func(c *cli.Context) error {
						k, err := controller(c)
						if err != nil {
							return err
						}
						return k.KeysSync(c.Context, c.String("from"))
					},
				},
			},
		}},
	}
}

func tokensCommand() *cli.Command {
	return &cli.Command{
		Name: "tokens",
		Usage: "issue a token at every site's Keystone front and validate each at every site (one database, one set of keys); " +
			"exit 2 if any fails",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Value: "admin", Usage: "Keystone user (domain Default, project admin)"},
			&cli.StringFlag{Name: "password-file", Required: true, Usage: "file holding that user's password (mode 0600)"},
			&cli.DurationFlag{Name: "wait", Usage: "ask again, once a second, until every site passes or this long has passed (a Keystone just started)"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "bound on each request (a Keystone on a loaded host takes seconds to issue a token: its password hash)"},
			&cli.BoolFlag{Name: "own", Usage: "each site's token must be issued by that site's own Keystone, not another site's standing in through its HAProxy (after a deployment: every Keystone serves)"},
		},
		Action: func(c *cli.Context) error {
			cl, pw, err := keystoneLogin(c)
			if err != nil {
				return err
			}
			x, err := drill.WaitCrossTokens(c.Context, cl, c.String("user"), pw, c.Duration("wait"), c.Duration("timeout"), c.Bool("own"))
			if err != nil {
				return err
			}
			x.Print(c.App.Writer)
			if n := x.Failed(); n > 0 {
				return found("%d of the %d tokens and validations failed", n, len(x.Sites)*len(x.Sites))
			}
			if o := x.NotOwn(); c.Bool("own") && len(o) > 0 {
				return found("tokens issued by another site's Keystone: %s; is each site's own Keystone running and UP in its HAProxy?", strings.Join(o, ", "))
			}
			return nil
		},
	}
}
