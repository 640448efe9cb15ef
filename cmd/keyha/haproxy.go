package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/internal/atomicfile"
)

func haproxyCommand() *cli.Command {
	return &cli.Command{
		Name:  "haproxy",
		Usage: "HAProxy configuration and runtime control",
		Subcommands: []*cli.Command{{
			Name:  "config",
			Usage: "write a site's haproxy.cfg: the galera backend with every site's node, checked by the agents; with --out, also the server-state file that makes every node start DOWN",
			Flags: []cli.Flag{siteFlag, &cli.StringFlag{Name: "out", Usage: "file to write (atomically); default: standard output"}},
			Action: func(c *cli.Context) error {
				cl, err := loadConfig(c)
				if err != nil {
					return err
				}
				b, err := haproxy.Config(cl, c.String("site"), haproxy.ClusterTimings(cl))
				if err != nil {
					return err
				}
				out := c.String("out")
				if out == "" {
					_, err = c.App.Writer.Write(b)
					return err
				}
				// The state file first: a config naming a state file that is missing would start
				// every server UP.
				site, _ := cl.Site(c.String("site"))
				st, err := haproxy.StartState(cl, site.Name, haproxy.ClusterTimings(cl))
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(site.HAProxyState, st, atomicfile.Options{Mode: 0o644}); err != nil {
					return fmt.Errorf("write HAProxy's server-state file (haproxy_state): %w", err)
				}
				return atomicfile.WriteFile(out, b, atomicfile.Options{Mode: 0o644})
			},
		}},
	}
}
