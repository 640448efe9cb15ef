package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/haproxy"
)

func haproxyCommand() *cli.Command {
	return &cli.Command{
		Name:  "haproxy",
		Usage: "HAProxy configuration and runtime control",
		Subcommands: []*cli.Command{{
			Name:  "config",
			Usage: "write a site's haproxy.cfg: the galera backend with every site's node, checked by the agents",
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
				return writeAtomic(out, b, 0o644)
			},
		}},
	}
}

// writeAtomic replaces path with data so a reader sees the old file or the new one, never half.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
