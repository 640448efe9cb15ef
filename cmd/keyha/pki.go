package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/pki"
)

func pkiCommand() *cli.Command {
	dir := &cli.StringFlag{Name: "dir", Required: true, Usage: "the PKI directory (ca.crt, ca.key and the issued NAME.crt, NAME.key)"}
	return &cli.Command{
		Name:  "pki",
		Usage: "the cluster's own certificate authority: the agents' and operators' TLS certificates",
		Subcommands: []*cli.Command{{
			Name:  "init",
			Usage: "create the cluster CA in --dir (ca.key mode 0600: keep it off the sites)",
			Flags: []cli.Flag{dir, &cli.StringFlag{Name: "cluster", Usage: "the cluster's name in the CA's subject; default: from the cluster file"}},
			Action: func(c *cli.Context) error {
				name := c.String("cluster")
				if name == "" {
					cl, err := loadConfig(c)
					if err != nil {
						return fmt.Errorf("name the cluster (--cluster) or give the cluster file: %w", err)
					}
					name = cl.Name
				}
				if err := pki.Init(c.String("dir"), name, time.Now()); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "CA for cluster %s in %s (ca.crt to every site and operator; ca.key stays here)\n", name, c.String("dir"))
				return nil
			},
		}, {
			Name:  "issue",
			Usage: "sign a site's certificate (valid for the site's name and every address in its entry) or an operator's",
			Flags: []cli.Flag{dir, &cli.StringFlag{Name: "site", Usage: "the site whose agent gets it"}, &cli.StringFlag{Name: "operator", Usage: "an operator's name"}},
			Action: func(c *cli.Context) error {
				site, op := c.String("site"), c.String("operator")
				if (site == "") == (op == "") {
					return errors.New("give --site SITE or --operator NAME")
				}
				name, hosts := "operator-"+op, []string{"operator-" + op}
				if site != "" {
					cl, err := loadConfig(c)
					if err != nil {
						return err
					}
					s, err := cl.Site(site)
					if err != nil {
						return err
					}
					name, hosts = s.Name, []string{s.Name}
					seen := map[string]bool{s.Name: true}
					for _, a := range []string{s.HTTP, s.Agent, s.Metrics, s.GossipAt, s.SQL, s.Galera} {
						if h, _, err := net.SplitHostPort(a); err == nil && !seen[h] {
							seen[h] = true
							hosts = append(hosts, h)
						}
					}
				}
				crt, key, err := pki.Issue(c.String("dir"), name, hosts, time.Now())
				if err != nil {
					return err
				}
				until, _ := pki.Expiry(crt)
				fmt.Fprintf(c.App.Writer, "%s: %s and %s (mode 0600), valid until %s for %v\n", name, crt, key, until.Format(time.DateOnly), hosts)
				return nil
			},
		}},
	}
}
