package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/load"
)

func loadCommand() *cli.Command {
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print the report as JSON on stdout"}
	reportFlag := &cli.StringFlag{Name: "report", Usage: "also write the report as JSON to this file"}
	viaFlag := listFlag("via", "haproxy (every site's HAProxy), SITE (that site's node directly) or SITE=HOST:PORT (another front for that site, e.g. a second HAProxy to compare with)", "haproxy")
	return &cli.Command{
		Name:  "load",
		Usage: "the load-and-check harness: write rows under faults, then prove none was lost",
		Subcommands: []*cli.Command{
			{
				Name:  "run",
				Usage: "write --rows rows, journaling every acknowledged id",
				Flags: []cli.Flag{
					&cli.Uint64Flag{Name: "rows", Value: 100000, Usage: "rows to write"},
					&cli.IntFlag{Name: "concurrency", Value: 16, Usage: "concurrent writers (spread over the targets)"},
					&cli.IntFlag{Name: "batch", Value: 1, Usage: "rows per INSERT (one transaction)"},
					viaFlag,
					&cli.StringFlag{Name: "journal", Required: true, Usage: "new file for the acknowledged ids (never overwritten)"},
					listFlag("faults", "schedule like kill:bari@20s,start:bari@35s,partition:padova@40s,heal:padova@55s"),
					&cli.StringFlag{Name: "nemesis", Usage: "instead of --faults, a random schedule drawn from SEED (a number, or \"random\": the seed is printed) for --nemesis-for"},
					&cli.DurationFlag{Name: "nemesis-for", Value: 2 * time.Minute, Usage: "how long the nemesis breaks things"},
					&cli.DurationFlag{Name: "for", Usage: "stop handing out rows after this long (0: write all --rows); --nemesis sets it to --nemesis-for and 15 s"},
					&cli.StringFlag{Name: "lab", Value: "scripts/lab", EnvVars: []string{"KEYHA_LAB_SCRIPT"}, Usage: "the lab script that injects --faults"},
					&cli.BoolFlag{Name: "reset", Usage: "drop an existing keyha_load database first"},
					&cli.DurationFlag{Name: "retry-for", Value: load.DefaultRetryFor, Usage: "how long one batch is retried before it is given up (left unacknowledged)"},
					&cli.DurationFlag{Name: "backoff-max", Value: time.Second, Usage: "cap on the wait between a batch's attempts (it doubles from 25 ms); lower it to time a failover, not the back-off"},
					&cli.DurationFlag{Name: "timeout", Value: load.DefaultTimeout, Usage: "bound on the whole run"},
					jsonFlag, reportFlag,
				},
				Action: loadRun,
			},
			{
				Name:  "check",
				Usage: "compare every node with each other and with a run's journal; exit 2 on any loss, corruption or divergence",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "journal", Required: true, Usage: "the journal of the run to check"},
					&cli.Uint64Flag{Name: "chunk", Value: 10000, Usage: "ids per checksum chunk"},
					listFlag("at", "SITE: read only these sites' nodes (DRBD mode: the Primary, the only database running)"),
					jsonFlag, reportFlag,
				},
				Action: loadCheck,
			},
			{
				Name:  "bank",
				Usage: "concurrent transfers between accounts; the total must be the same on every node at every read",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "accounts", Value: 100, Usage: "accounts"},
					&cli.IntFlag{Name: "concurrency", Value: 4, Usage: "concurrent transfer clients"},
					viaFlag,
					&cli.DurationFlag{Name: "duration", Usage: "how long to run (0: until interrupted)"},
					&cli.DurationFlag{Name: "audit-every", Value: load.DefaultAuditEvery, Usage: "how often each node's total is read"},
					&cli.BoolFlag{Name: "reset", Usage: "drop an existing keyha_bank database first"},
					jsonFlag, reportFlag,
				},
				Action: loadBank,
			},
		},
	}
}

// targets resolves --via into addresses: each site's HAProxy, or the named sites' nodes.
func targets(cl *config.Cluster, via []string) ([]load.Target, error) {
	var out []load.Target
	if len(via) == 1 && via[0] == "haproxy" {
		for _, s := range cl.Sites {
			if s.HAProxyDB == "" {
				return nil, fmt.Errorf("--via haproxy: site %s has no haproxy_db address in %s", s.Name, cl.Path)
			}
			out = append(out, load.Target{Site: s.Name, Addr: s.HAProxyDB})
		}
		return out, nil
	}
	for _, v := range via {
		name, addr, explicit := strings.Cut(v, "=")
		s, err := cl.Site(name)
		if err != nil {
			return nil, fmt.Errorf("--via: %w", err)
		}
		if !explicit {
			addr = s.SQL
		} else if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--via %s: %q is not HOST:PORT: %w", v, addr, err)
		}
		out = append(out, load.Target{Site: s.Name, Addr: addr})
	}
	return out, nil
}

// nodes lists every site's database node (a DRBD witness has none).
func nodes(cl *config.Cluster) []load.Target {
	var out []load.Target
	for _, s := range cl.Sites {
		if s.SQL != "" {
			out = append(out, load.Target{Site: s.Name, Addr: s.SQL})
		}
	}
	return out
}

// atNodes is nodes narrowed to the sites of --at; every site when it is empty.
func atNodes(cl *config.Cluster, at []string) ([]load.Target, error) {
	if len(at) == 0 {
		return nodes(cl), nil
	}
	var out []load.Target
	for _, name := range at {
		s, err := cl.Site(name)
		if err != nil || s.SQL == "" {
			return nil, fmt.Errorf("--at: %s is not a site with a database (sites: %v)", name, cl.SiteNames())
		}
		out = append(out, load.Target{Site: s.Name, Addr: s.SQL})
	}
	return out, nil
}

// loadApp loads the cluster file and the application user's credential the harness uses.
func loadApp(c *cli.Context) (*config.Cluster, config.Credential, error) {
	cl, err := loadConfig(c)
	if err != nil {
		return nil, config.Credential{}, err
	}
	cred, err := cl.Credential("app")
	return cl, cred, err
}

// isTerminal: a terminal, not merely a character device (/dev/null is one too).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// emit prints a report as JSON when asked, and writes it to --report.
func emit(c *cli.Context, v any, human func(io.Writer)) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if p := c.String("report"); p != "" {
		if err := atomicfile.WriteFile(p, append(b, '\n'), atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if c.Bool("json") {
		_, err = fmt.Fprintln(c.App.Writer, string(b))
		return err
	}
	human(c.App.Writer)
	return nil
}

func loadRun(c *cli.Context) error {
	cl, cred, err := loadApp(c)
	if err != nil {
		return err
	}
	ts, err := targets(cl, list(c, "via"))
	if err != nil {
		return err
	}
	faults, err := load.ParseSchedule(strings.Join(list(c, "faults"), ","), cl.SiteNames())
	if err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	rc := load.RunConfig{
		Rows: c.Uint64("rows"), Concurrency: c.Int("concurrency"), Batch: c.Int("batch"), Targets: ts, Cred: cred,
		Journal: c.String("journal"), Reset: c.Bool("reset"), Faults: faults, RetryFor: c.Duration("retry-for"), BackoffMax: c.Duration("backoff-max"),
		Timeout: c.Duration("timeout"), For: c.Duration("for"), Progress: c.App.ErrWriter, TTY: isTerminal(os.Stderr),
	}
	if n := c.String("nemesis"); n != "" {
		if len(faults) > 0 {
			return errors.New("--nemesis and --faults: give one schedule, not both")
		}
		seed, err := nemesisSeed(n)
		if err != nil {
			return err
		}
		d := c.Duration("nemesis-for")
		// Loss bursts when the lab has a WAN to lose packets on.
		wan, err := load.LabScript{Path: c.String("lab")}.WAN(c.Context)
		if err != nil {
			return fmt.Errorf("--nemesis: asking the lab whether it has a WAN: %w (set --lab or KEYHA_LAB_SCRIPT)", err)
		}
		if cl.Mode == "drbd" {
			var witness string
			for _, s := range cl.Sites {
				if s.Witness {
					witness = s.Name
				}
			}
			if witness == "" || len(cl.DataSites()) != 2 {
				return fmt.Errorf("--nemesis in DRBD mode needs two data sites and a witness; the cluster file %s has %v and witness %q", cl.Path, cl.DataSites(), witness)
			}
			faults = load.NemesisDRBD(seed, d, cl.DataSites(), witness, wan)
		} else {
			faults = load.Nemesis(seed, d, cl.SiteNames(), wan)
		}
		rc.Faults, rc.NemesisSeed = faults, seed
		if rc.For == 0 {
			rc.For = d + 15*time.Second // the last break's repair, and writes resuming after it, are measured too
		}
		fmt.Fprintf(c.App.ErrWriter, "nemesis: seed %d, %d faults in %v (replay: --nemesis %d --nemesis-for %v)\n", seed, len(faults), d, seed, d)
	}
	if len(faults) > 0 {
		if _, err := os.Stat(c.String("lab")); err != nil {
			return fmt.Errorf("--faults needs the lab script: %w (set --lab or KEYHA_LAB_SCRIPT)", err)
		}
		rc.Injector = load.LabScript{Path: c.String("lab")}
		for _, u := range load.Unfinished(faults) {
			fmt.Fprintf(c.App.ErrWriter, "warning: the schedule leaves %s: the check will not be able to read it\n", u)
		}
	}
	r, runErr := load.Run(c.Context, rc)
	if r != nil {
		if err := emit(c, r, func(w io.Writer) { load.PrintRun(w, r) }); err != nil {
			return err
		}
	}
	return runErr
}

// nemesisSeed reads --nemesis: a seed, or "random" for a new one.
func nemesisSeed(s string) (uint64, error) {
	if s == "random" {
		return rand.Uint64N(1<<31) + 1, nil // short enough to type back
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seed == 0 {
		return 0, fmt.Errorf("--nemesis %q: give a seed (a number from 1) or \"random\"", s)
	}
	return seed, nil
}

func loadCheck(c *cli.Context) error {
	cl, cred, err := loadApp(c)
	if err != nil {
		return err
	}
	at, err := atNodes(cl, list(c, "at"))
	if err != nil {
		return err
	}
	r, err := load.Check(c.Context, load.CheckConfig{Journal: c.String("journal"), Nodes: at, Cred: cred, Chunk: c.Uint64("chunk")})
	if err != nil {
		return err
	}
	if err := emit(c, r, func(w io.Writer) { load.PrintCheck(w, r) }); err != nil {
		return err
	}
	if !r.OK {
		return found("check failed: %s", strings.Join(r.Problems, "; "))
	}
	return nil
}

func loadBank(c *cli.Context) error {
	cl, cred, err := loadApp(c)
	if err != nil {
		return err
	}
	ts, err := targets(cl, list(c, "via"))
	if err != nil {
		return err
	}
	r, err := load.Bank(c.Context, load.BankConfig{Accounts: c.Int("accounts"), Concurrency: c.Int("concurrency"), Targets: ts,
		Nodes: nodes(cl), Cred: cred, Duration: c.Duration("duration"), AuditEvery: c.Duration("audit-every"),
		Reset: c.Bool("reset"), Progress: c.App.ErrWriter})
	if err != nil {
		return err
	}
	if err := emit(c, r, func(w io.Writer) { load.PrintBank(w, r) }); err != nil {
		return err
	}
	if !r.OK {
		return found("bank failed: %s", strings.Join(r.Problems, "; "))
	}
	return nil
}
