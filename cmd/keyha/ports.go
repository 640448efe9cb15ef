package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/ports"
)

func portsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ports",
		Usage: "the port plan: every port each site listens on, who must reach it and why (--nft: the site's firewall from it)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "site", Usage: "one site only (required with --nft)"},
			&cli.BoolFlag{Name: "json", Usage: "a list of objects: port, protocol, site, addr, from, from_sites, why"},
			&cli.BoolFlag{Name: "nft", Usage: "print the site's nftables input rules: policy drop, each planned port open to who needs it"},
			listFlag("operator", "ADDR: the operator hosts' addresses (--nft; default: firewall.operator, or any)"),
			listFlag("monitoring", "ADDR: Prometheus's addresses (--nft; default: firewall.monitoring, or any)"),
			listFlag("clients", "ADDR: the clients' networks, for the HAProxy and Keystone fronts (--nft; default: firewall.clients, or any)"),
		},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			site := c.String("site")
			if site != "" {
				if _, err := cl.Site(site); err != nil {
					return err
				}
			}
			if c.Bool("nft") {
				if site == "" {
					return fmt.Errorf("--nft renders one site's firewall: give --site")
				}
				src := ports.SourcesOf(cl) // the flags, where given, override the cluster file's firewall section
				if c.IsSet("operator") {
					src.Operator = list(c, "operator")
				}
				if c.IsSet("monitoring") {
					src.Monitoring = list(c, "monitoring")
				}
				if c.IsSet("clients") {
					src.Clients = list(c, "clients")
				}
				rules, err := ports.NFT(cl, site, src)
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(c.App.Writer, rules)
				return err
			}
			plan := ports.Plan(cl, site)
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(plan)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE\tADDR\tPORT\tPROTO\tFROM\tWHY")
			for _, p := range plan {
				from := strings.Join(p.From, ",")
				if len(p.Sites) > 0 {
					from = strings.Replace(from, "sites", strings.Join(p.Sites, "+"), 1)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Site, p.Addr, p.Port, p.Protocol, from, p.Why)
			}
			return tw.Flush()
		},
	}
}
