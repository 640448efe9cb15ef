package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/grants"
)

func grantsCommand() *cli.Command {
	return &cli.Command{
		Name:  "grants",
		Usage: "print the SQL that creates keyha's database accounts with their least privileges (pipe it into mariadb as root, on one node)",
		Description: "Users and passwords come from the credential files the cluster file names (credentials.monitor, admin, app)\n" +
			"and from --keystone. With a tls section the accounts REQUIRE SSL. The SQL holds the passwords: pipe it, do not keep it\n" +
			"(docs/deploy.md).",
		Flags: []cli.Flag{
			listFlag("host", "HOST: host patterns the accounts may connect from", "%"),
			&cli.StringFlag{Name: "keystone", Usage: "Keystone's credential file (my.cnf form): grant its account Keystone's schema (default: credentials.keystone)"},
			&cli.StringFlag{Name: "server", Value: "mariadb", Usage: "the nodes' server: mariadb, or pxc (Percona XtraDB Cluster 8.0: MySQL 8.0's privilege names)"},
		},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			ks := c.String("keystone")
			if ks == "" {
				ks = cl.Credentials.Keystone
			}
			var accts []grants.Account
			for _, a := range []struct{ role, file string }{
				{"monitor", cl.Credentials.Monitor}, {"admin", cl.Credentials.Admin}, {"app", cl.Credentials.App}, {"keystone", ks},
			} {
				if a.file == "" {
					continue
				}
				cred, err := config.ReadCredential(a.file)
				if err != nil {
					return fmt.Errorf("the %s account: %w", a.role, err)
				}
				accts = append(accts, grants.Account{Role: a.role, User: cred.User, Password: cred.Password})
			}
			sql, err := grants.SQL(accts, list(c, "host"), grants.Target{Galera: cl.Mode != "drbd", RequireSSL: cl.TLS.On(), Server: grants.Server(c.String("server"))})
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, sql)
			return err
		},
	}
}
