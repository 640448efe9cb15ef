package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/render"
)

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "write every file a site runs, from the cluster file: galera.cnf, haproxy.cfg and its start state, firewall.nft, the agent's unit and environment, Keystone's [database] and [cache]",
		Description: "Each file is written only when its content changed, and says which cluster file (and its sha256) it came from.\n" +
			"The listing gives where each belongs on the site's host (docs/deploy.md).",
		Flags: []cli.Flag{
			siteFlag,
			&cli.StringFlag{Name: "out", Required: true, Usage: "the folder to write into (made if missing)"},
			&cli.StringFlag{Name: "binary", Value: "/usr/bin/keyha", Usage: "keyha on the site's host, for the unit's ExecStart"},
			&cli.StringFlag{Name: "config-path", Value: "/etc/keyha/keyha.yaml", Usage: "the cluster file on the site's host, for the agent's environment"},
			&cli.StringFlag{Name: "env-file", Value: "/etc/keyha/agent.env", Usage: "the agent's environment file on the site's host, for the unit"},
		},
		Action: func(c *cli.Context) error {
			cl, err := loadConfig(c)
			if err != nil {
				return err
			}
			o := render.Options{Binary: c.String("binary"), ConfigPath: c.String("config-path"), EnvFile: c.String("env-file")}
			if s, err := cl.Site(c.String("site")); err == nil && s.Keystone.API != "" && cl.Credentials.Keystone != "" {
				cred, err := cl.ReadCredential(cl.Credentials.Keystone)
				if err != nil {
					return fmt.Errorf("read Keystone's account (credentials.keystone) for its [database]: %w", err)
				}
				o.Keystone = &cred
			}
			if s, err := cl.Site(c.String("site")); err == nil && cl.Mode == "drbd" && !s.Witness && cl.DRBD.SecretFile != "" {
				secret, err := readSecret(cl.DRBD.SecretFile)
				if err != nil {
					return fmt.Errorf("read DRBD's shared secret (drbd.secret_file) for the resource file: %w", err)
				}
				o.DRBDSecret = secret
			}
			files, err := render.Site(cl, c.String("site"), o)
			if err != nil {
				return err
			}
			return writeRendered(c.App.Writer, c.String("out"), files)
		},
	}
}

// writeRendered writes each file that changed, in order, and lists them all.
func writeRendered(w io.Writer, dir string, files []render.File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make the output folder: %w", err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		what := "unchanged"
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, f.Body) {
			o := atomicfile.Options{Mode: f.Mode}
			if f.Mode&0o077 == 0 { // a secret: never more readable, whatever the old file was
				o.Max = f.Mode
			}
			if err := atomicfile.WriteFile(path, f.Body, o); err != nil {
				return fmt.Errorf("write %s: %w", f.Name, err)
			}
			what = "written"
		}
		fmt.Fprintf(w, "%-9s %s\t(install at %s)\n", what, path, orInstall(f.Install, path))
	}
	return nil
}

func orInstall(install, path string) string {
	if install == "" {
		return path
	}
	return install
}
