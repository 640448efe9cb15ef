// Command keyha keeps OpenStack Keystone's database available across sites: the per-site agent,
// the operator commands and the load-and-check harness, as one binary. main only wires flags into
// config structs; the work lives in the packages.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/agent"
	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/ports"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	agent.Version = version
	// The driver logs every broken connection itself; keyha returns and reports those errors.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "keyha:", err)
		os.Exit(exitCode(err))
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "keyha",
		Usage:                "keep Keystone's database available across sites (Galera or DRBD)",
		Version:              version,
		EnableBashCompletion: true,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{config.EnvConfig},
				Usage: "the cluster file, identical at every site"},
		}, logFlags...),
		Before: func(c *cli.Context) error {
			l, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
			if err != nil {
				return err
			}
			slog.SetDefault(l)
			return nil
		},
		// main prints the error and picks the exit code; urfave would exit from inside Run.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{
				Name:  "version",
				Usage: "print keyha's version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, "keyha", version)
					return nil
				},
			},
			completionCommand(),
			{
				Name:  "config",
				Usage: "check the cluster file",
				Subcommands: []*cli.Command{{
					Name:  "check",
					Usage: "load and validate the cluster file; print its hash",
					Action: func(c *cli.Context) error {
						cl, err := loadConfig(c)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "%s: cluster %q, %d sites %v, sha256 %s\n", cl.Path, cl.Name, len(cl.Sites), cl.SiteNames(), cl.Hash)
						for _, w := range ports.X11(cl) {
							fmt.Fprintln(c.App.Writer, "WARN", w)
						}
						return nil
					},
				}},
			},
			agentCommand(),
			drbdCommand(),
			haproxyCommand(),
			statusCommand(),
			switchoverCommand(),
			loadCommand(),
			galeraCommand(),
			drillCommand(),
			keystoneCommand(),
			pkiCommand(),
			grantsCommand(),
			portsCommand(),
			renderCommand(),
		},
	}
}

func loadConfig(c *cli.Context) (*config.Cluster, error) {
	return config.Load(c.String("config"))
}
