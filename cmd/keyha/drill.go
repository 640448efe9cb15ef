package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/load"
)

func drillCommand() *cli.Command {
	return &cli.Command{
		Name:  "drill",
		Usage: "Keystone failover drill on the lab: token clients at every site while the writer's mysqld (DRBD: the Primary's VM) is killed and restarted and a site is cut off and healed",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "user", Value: "admin", Usage: "Keystone user (domain Default, project admin)"},
			&cli.StringFlag{Name: "password-file", Required: true, Usage: "file holding that user's password (mode 0600)"},
			&cli.StringFlag{Name: "svg", Value: "keyha-drill.svg", Usage: "where to write the timeline picture"},
			&cli.StringFlag{Name: "lab", Value: "scripts/lab", EnvVars: []string{"KEYHA_LAB_SCRIPT"}, Usage: "the lab script that injects the faults"},
			&cli.DurationFlag{Name: "hold", Value: 15e9, Usage: "how long the partition lasts"},
			&cli.StringFlag{Name: "report", Usage: "also write the result as JSON to this file"},
			&cli.BoolFlag{Name: "swift", Usage: "also run a Swift client at every site, through the proxies the lab runs (scripts/lab up --keystone --swift)"},
		},
		Action: func(c *cli.Context) error {
			cl, pw, err := keystoneLogin(c)
			if err != nil {
				return err
			}
			if _, err := os.Stat(c.String("lab")); err != nil {
				return fmt.Errorf("the drill injects faults with the lab script: %w (set --lab or KEYHA_LAB_SCRIPT)", err)
			}
			var proxies map[string]string
			if c.Bool("swift") {
				if proxies, err = labSwift(c.Context, c.String("lab")); err != nil {
					return err
				}
			}
			r, err := drill.Run(c.Context, drill.Config{Cluster: cl, User: c.String("user"), Password: pw,
				Injector: load.LabScript{Path: c.String("lab")}, Out: c.App.Writer, Hold: c.Duration("hold"), Swift: proxies})
			if err != nil {
				return err
			}
			if err := drill.Print(c.App.Writer, r, c.String("svg")); err != nil {
				return err
			}
			if p := c.String("report"); p != "" {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(p, append(b, '\n'), atomicfile.Options{Mode: 0o644}); err != nil {
					return fmt.Errorf("write the drill report: %w", err)
				}
			}
			if len(r.Problems) > 0 {
				return errors.New("drill failed: " + strings.Join(r.Problems, "; "))
			}
			return nil
		},
	}
}

// readSecret reads a password or secret file that only its owner may read.
// keystoneLogin loads the cluster file and the Keystone user's --password-file.
func keystoneLogin(c *cli.Context) (*config.Cluster, string, error) {
	cl, err := loadConfig(c)
	if err != nil {
		return nil, "", err
	}
	pw, err := readSecret(c.String("password-file"))
	return cl, pw, err
}

func readSecret(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s has mode %04o: others can read it; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return pw, nil
}

// labSwift asks the lab script (its info verb) for each site's Swift proxy.
func labSwift(ctx context.Context, lab string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, lab, "info").Output()
	if err != nil {
		return nil, fmt.Errorf("--swift: %s info: %w", lab, err)
	}
	var info struct {
		Sites map[string]struct {
			Swift string `json:"swift"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("--swift: %s info: %w", lab, err)
	}
	proxies := map[string]string{}
	for s, v := range info.Sites {
		if v.Swift != "" {
			proxies[s] = v.Swift
		}
	}
	if len(proxies) == 0 {
		return nil, errors.New("--swift: the lab runs no Swift: start it with scripts/lab up --keystone --swift")
	}
	return proxies, nil
}
