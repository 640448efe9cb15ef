package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/keyha/keyha/config"
)

// run runs keyha's app as main does, and says what main would print and exit with.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errw bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errw
	err := app.RunContext(context.Background(), append([]string{"keyha"}, args...))
	if err != nil {
		fmt.Fprintln(&errw, "keyha:", err)
	}
	return out.String(), errw.String(), exitCode(err)
}

func TestVersionFlag(t *testing.T) {
	version = "v9.9.9-test"
	defer func() { version = "dev" }()
	out, _, code := run("--version")
	if code != 0 || !strings.Contains(out, "v9.9.9-test") {
		t.Fatalf("keyha --version: exit %d, %q; want the version", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("dial tcp: connection refused"), 1},
		{found("check failed: %s", "site bari lacks 3 acknowledged rows"), 2},
		{fmt.Errorf("load check: %w", found("check failed")), 2},
		{cli.Exit("", 0), 1}, // an error is never success
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestLogFlags(t *testing.T) {
	for _, c := range []struct {
		format, level string
		ok            bool
		debug         bool
	}{
		{"text", "info", true, false},
		{"json", "debug", true, true},
		{"JSON", "warn", true, false},
		{"xml", "info", false, false},
		{"text", "loud", false, false},
	} {
		var buf bytes.Buffer
		l, err := newLogger(&buf, c.format, c.level)
		if (err == nil) != c.ok {
			t.Errorf("newLogger(%s, %s): err %v, want ok %v", c.format, c.level, err, c.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "--log-") {
				t.Errorf("error %q does not name the flag", err)
			}
			continue
		}
		l.Debug("memberlist: probe", "peer", "bari")
		if got := buf.Len() > 0; got != c.debug {
			t.Errorf("%s/%s: debug line written %v, want %v", c.format, c.level, got, c.debug)
		}
		if c.format == "json" && !strings.HasPrefix(buf.String(), "{") {
			t.Errorf("json log line %q", buf.String())
		}
	}
	if _, errOut, code := run("--log-format", "xml", "version"); code != 1 || !strings.Contains(errOut, "--log-format") {
		t.Errorf("keyha --log-format xml: exit %d, %q; want 1 and the flag named", code, errOut)
	}
}

func TestListFlags(t *testing.T) {
	var got []string
	app := &cli.App{
		Flags:  []cli.Flag{listFlag("at", "sites")},
		Action: func(c *cli.Context) error { got = list(c, "at"); return nil },
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"--at", "lngs,bari"}, []string{"lngs", "bari"}},
		{[]string{"--at", "lngs", "--at", "bari"}, []string{"lngs", "bari"}},
		{[]string{"--at", "lngs, bari", "--at", "padova"}, []string{"lngs", "bari", "padova"}},
	} {
		got = nil
		if err := app.Run(append([]string{"x"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.args, got, c.want)
		}
	}
}

func TestViaDefault(t *testing.T) {
	var got []string
	app := &cli.App{
		Flags:  []cli.Flag{listFlag("via", "targets", "haproxy")},
		Action: func(c *cli.Context) error { got = list(c, "via"); return nil },
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"haproxy"}},
		{[]string{"--via", "bari", "--via", "padova"}, []string{"bari", "padova"}}, // the default is replaced, not added to
	} {
		if err := app.Run(append([]string{"x"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.args, got, c.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	out, _, code := run("completion", "bash")
	if code != 0 || !strings.Contains(out, "complete ") || !strings.Contains(out, "--generate-bash-completion") {
		t.Fatalf("keyha completion bash: exit %d, %q", code, out)
	}
	// urfave/cli reads the word before the cursor from os.Args, not from Run's arguments.
	defer func(args []string) { os.Args = args }(os.Args)
	os.Args = []string{"keyha", "--generate-bash-completion"}
	out, _, _ = run("--generate-bash-completion")
	for _, want := range []string{"status", "switchover", "load", "galera"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("completion of keyha lacks %q:\n%s", want, out)
		}
	}
}

// /dev/null is a character device, not a terminal: no progress bar is drawn into it.
func TestDevNullIsNoTerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("isTerminal(/dev/null) = true")
	}
}

// An unsafe cluster file is refused, naming the key to fix, by `config check` and by the agent.
func TestUnsafeClusterFileRefused(t *testing.T) {
	base := "cluster: t\ncredentials: {monitor: /nonexistent/monitor.cnf}\ngossip: {key_file: /nonexistent/k}\nsites:\n" +
		"  - {name: lngs, sql: 127.0.0.1:1, gossip: 127.0.0.1:2}\n"
	for _, c := range []struct{ name, site, want string }{
		{"a site without gossip", "  - {name: bari, sql: 127.0.0.1:3}\n", "sites[1] (bari).gossip: missing"},
		{"a node name that cannot match", "  - {name: bari, sql: 127.0.0.1:3, gossip: 127.0.0.1:4, node_name: lngs}\n", "sites[1] (bari).node_name"},
	} {
		f := t.TempDir() + "/keyha.yaml"
		if err := os.WriteFile(f, []byte(base+c.site), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"config", "check"}, {"agent", "--site", "bari"}} {
			_, errOut, code := run(append([]string{"--config", f}, args...)...)
			if code != 1 || !strings.Contains(errOut, c.want) {
				t.Errorf("%s: keyha %v: exit %d, %q; want 1 naming %s", c.name, args, code, errOut, c.want)
			}
		}
	}
}

func TestPortsCommand(t *testing.T) {
	f := t.TempDir() + "/keyha.yaml"
	file := "cluster: t\ncredentials: {monitor: /m.cnf}\ngossip: {key_file: /k}\nsites:\n" +
		"  - {name: lngs, sql: 10.0.0.1:3306, gossip: 10.0.0.1:7946, metrics: 10.0.0.1:6001}\n" +
		"  - {name: bari, sql: 10.0.0.2:3306, gossip: 10.0.0.2:7946}\n"
	if err := os.WriteFile(f, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run("--config", f, "ports", "--site", "bari", "--json")
	var plan []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || len(plan) != 3 {
		t.Fatalf("ports --json: exit %d, %q %q; want bari's 3 ports", code, out, errOut)
	}
	for _, k := range []string{"port", "protocol", "site", "from", "why"} {
		if _, ok := plan[0][k]; !ok {
			t.Errorf("ports --json: no %q in %v", k, plan[0])
		}
	}
	if _, errOut, code := run("--config", f, "ports", "--nft"); code != 1 || !strings.Contains(errOut, "--site") {
		t.Errorf("ports --nft without a site: exit %d, %q", code, errOut)
	}
	if out, _, code := run("--config", f, "config", "check"); code != 0 || !strings.Contains(out, "WARN sites (lngs): port 6001 is in X11's range") {
		t.Errorf("config check does not warn of port 6001: exit %d, %q", code, out)
	}
}

// --via names every site's HAProxy, a site's node, or an explicit front for a site; a front that is
// not HOST:PORT, or an unknown site, is refused with what was wrong.
func TestTargets(t *testing.T) {
	cl := &config.Cluster{Sites: []config.Site{{Name: "lngs", SQL: "10.0.0.1:3306", HAProxyDB: "10.0.0.1:3307"}, {Name: "bari", SQL: "10.0.0.2:3306", HAProxyDB: "10.0.0.2:3307"}}}
	for _, c := range []struct {
		via        []string
		want, fail string
	}{
		{[]string{"haproxy"}, "lngs=10.0.0.1:3307 bari=10.0.0.2:3307", ""},
		{[]string{"bari"}, "bari=10.0.0.2:3306", ""},
		{[]string{"lngs=10.0.0.1:3308", "bari=10.0.0.2:3308"}, "lngs=10.0.0.1:3308 bari=10.0.0.2:3308", ""},
		{[]string{"lngs=10.0.0.1"}, "", "is not HOST:PORT"},
		{[]string{"rome=10.0.0.9:3308"}, "", `no site "rome"`},
	} {
		ts, err := targets(cl, c.via)
		var got []string
		for _, x := range ts {
			got = append(got, x.Site+"="+x.Addr)
		}
		if c.fail != "" && (err == nil || !strings.Contains(err.Error(), c.fail)) || c.fail == "" && (err != nil || strings.Join(got, " ") != c.want) {
			t.Errorf("%v: %v %v, want %q / error %q", c.via, got, err, c.want, c.fail)
		}
	}
}
