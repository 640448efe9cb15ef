package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
)

// block is one shell block of the runbook and where it runs.
type block struct {
	on   string // "every site", "the operator's host", or a site
	body string
}

// runbook reads docs/deploy.md's runbook: its ```sh blocks, each opened by "# on: WHERE".
func runbook(t *testing.T) []block {
	t.Helper()
	raw, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rb, ok := strings.Cut(string(raw), "\n## Runbook: three Debian hosts")
	if !ok {
		t.Fatal("docs/deploy.md has no runbook section")
	}
	if i := strings.Index(rb, "\n## "); i >= 0 {
		rb = rb[:i]
	}
	var out []block
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(rb, -1) {
		first, _, _ := strings.Cut(m[1], "\n")
		on, ok := strings.CutPrefix(first, "# on: ")
		if !ok {
			t.Fatalf("a runbook block does not say where it runs (first line %q)", first)
		}
		out = append(out, block{on: on, body: m[1]})
	}
	if len(out) < 6 {
		t.Fatalf("the runbook has %d blocks", len(out))
	}
	return out
}

// hostPaths are what a Debian host keeps for itself: each "host" of the test has its own, bound
// over these paths in its mount namespace. Everything else (/usr, dpkg's database) is shared.
var hostPaths = []string{"/etc/keyha", "/etc/mysql", "/var/lib/mysql", "/run/mysqld", "/var/log/mysql", "/var/log/keyha",
	"/etc/haproxy", "/run/haproxy", "/var/lib/keyha", "/etc/systemd/system", "/etc/nftables.d",
	"/etc/keystone", "/var/lib/keystone", "/var/log/keystone", "/run/keystone", "/run/memcached"}

var sites = map[string]string{"lngs": "10.77.0.1", "bari": "10.77.0.2", "padova": "10.77.0.3"}

// The runbook, run as written: three hosts (the lab's namespaces, each with its own /etc and
// /var) go from Debian's packages to a serving cluster, checked by the runbook's own last block
// (one writer, every node running its rendered galera.cnf).
func TestRunbook(t *testing.T) {
	if testing.Short() {
		t.Skip("the runbook builds a cluster from nothing (minutes): not in -short")
	}
	if p := labtest.Prerequisites(); p != "" {
		labtest.SkipOrFail(t, p)
	}
	for _, tool := range []string{"unshare", "apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.SkipOrFail(t, tool+" is missing")
		}
	}
	if err := labtest.Lock(); err != nil {
		labtest.SkipOrFail(t, err.Error())
	}
	defer labtest.Unlock()
	root, err := labtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := runbook(t)

	// The package the runbook installs.
	pkgDir, err := os.MkdirTemp("", "keyha-runbook-pkg-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pkgDir)
	run(t, "../scripts/package", pkgDir)

	// The lab's network only: the bridge and a namespace per site, nothing in them.
	if out, err := labtest.Script(root, "", "down"); err != nil {
		t.Fatalf("scripts/lab down: %v\n%s", err, out)
	}
	if out, err := labtest.Script(root, "", "up", "--net-only"); err != nil {
		t.Fatalf("scripts/lab up --net-only: %v\n%s", err, out)
	}
	defer func() {
		if out, err := labtest.Script(root, "", "down"); err != nil {
			t.Errorf("scripts/lab down: %v\n%s", err, out)
		}
	}()

	// Each host's own folders; mysqld (user mysql) must reach them.
	hosts, err := os.MkdirTemp("/tmp", "keyha-runbook-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(hosts)
	os.Chmod(hosts, 0o755)
	for _, p := range hostPaths {
		if err := os.MkdirAll(p, 0o755); err != nil { // the mount point on the real host
			t.Fatal(err)
		}
	}
	for _, h := range []string{"operator", "lngs", "bari", "padova"} {
		for _, p := range hostPaths {
			if err := os.MkdirAll(filepath.Join(hosts, h, p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// A fresh Debian host after apt-get install mariadb-server keystone: their /etc folders,
		// a datadir with the system tables, Keystone's home and log folder.
		run(t, "cp", "-a", "/etc/mysql/.", filepath.Join(hosts, h, "etc/mysql"))
		run(t, "cp", "-a", "/etc/keystone/.", filepath.Join(hosts, h, "etc/keystone"))
		for _, p := range []string{"var/lib/mysql", "run/mysqld", "var/log/mysql"} {
			run(t, "chown", "mysql:mysql", filepath.Join(hosts, h, p))
		}
		// Debian's postinst makes each host its own keys: the runbook must make them one set.
		for _, repo := range []string{"fernet-keys", "credential-keys"} {
			ownKeys(t, filepath.Join(hosts, h, "etc/keystone", repo))
		}
		run(t, "chown", "keystone:keystone", filepath.Join(hosts, h, "var/lib/keystone"))
		run(t, "chown", "keystone:adm", filepath.Join(hosts, h, "var/log/keystone"))
		run(t, "chmod", "750", filepath.Join(hosts, h, "var/log/keystone"))
		if h != "operator" {
			run(t, "mariadb-install-db", "--user=mysql", "--datadir="+filepath.Join(hosts, h, "var/lib/mysql"), "--skip-test-db")
		}
	}

	// The hosts share this machine's /usr and dpkg database: a keyha package left by an earlier run
	// with the same version would make the runbook's install a no-op, and its binary stale.
	purge := func() {
		if exec.Command("dpkg-query", "-W", "keyha").Run() == nil {
			run(t, "dpkg", "--purge", "keyha")
		}
	}
	purge()
	defer purge()

	// The hosts' apt-get installs what is missing and upgrades nothing: this machine's own
	// packages stay as scripts/setup left them.
	aptConf := filepath.Join(pkgDir, "apt.conf")
	if err := os.WriteFile(aptConf, []byte("APT::Get::Upgrade \"false\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "APT_CONFIG="+aptConf, "LNGS="+sites["lngs"], "BARI="+sites["bari"], "PADOVA="+sites["padova"],
		"OPERATOR=10.77.0.254", "MONITORING=10.77.0.254", "CLIENTS=10.77.0.254",
		"KEYHA_SUPERVISE="+filepath.Join(root, "scripts/supervise"),
		"PATH="+filepath.Join(root, "deploy/testdata/bin")+":"+os.Getenv("PATH"), "DEBIAN_FRONTEND=noninteractive")
	exec1 := func(host string, b block) string {
		t.Helper()
		var binds strings.Builder
		for _, p := range hostPaths {
			binds.WriteString("mount --bind " + filepath.Join(hosts, host, p) + " " + p + "\n")
		}
		args := []string{"unshare", "--mount", "--propagation", "private", "bash", "-c", binds.String() + "exec bash -euo pipefail -s"}
		if host != "operator" {
			args = append([]string{"ip", "netns", "exec", "kh-" + host}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir, cmd.Env, cmd.Stdin = pkgDir, append(env, "SITE="+host), strings.NewReader(b.body)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			for _, log := range []string{"var/log/mysql/error.log", "var/log/keyha/agent.log", "var/log/keystone/keystone.log", "var/log/keystone/uwsgi.log"} {
				if tail, err := exec.Command("tail", "-n", "20", filepath.Join(hosts, host, log)).Output(); err == nil && len(tail) > 0 {
					out.WriteString("\n--- " + host + ":/" + log + "\n" + string(tail))
				}
			}
			t.Fatalf("runbook block on %s failed: %v\n%s\n--- output:\n%s", host, err, b.body, out.String())
		}
		t.Logf("on %s: %s (%.1fs)", host, strings.SplitN(strings.TrimSpace(strings.SplitN(b.body, "\n", 3)[1]), "\n", 2)[0], time.Since(start).Seconds())
		return out.String()
	}

	t0 := time.Now()
	copied := false
	var last string
	for _, b := range blocks {
		var where []string
		switch b.on {
		case "every site":
			where = []string{"lngs", "bari", "padova"}
		case "the operator's host":
			where = []string{"operator"}
		default:
			if _, ok := sites[b.on]; !ok {
				t.Fatalf("a runbook block runs on %q: not a site of the runbook", b.on)
			}
			where = []string{b.on}
		}
		// "Copy /etc/keyha to every site": the operator's part done, before the sites use it.
		if !copied && where[0] != "operator" && strings.Contains(b.body, "/etc/keyha/keyha.yaml") {
			for _, s := range []string{"lngs", "bari", "padova"} {
				// "DIR/." (not cleaned by filepath.Join): the folder's contents, modes kept.
				run(t, "cp", "-a", filepath.Join(hosts, "operator/etc/keyha")+"/.", filepath.Join(hosts, s, "etc/keyha"))
			}
			copied = true
		}
		for _, h := range where {
			last = exec1(h, b)
		}
	}
	t.Logf("the runbook: three hosts to a serving cluster in %.0fs; its last block printed:\n%s", time.Since(t0).Seconds(), last)
	if !copied {
		t.Error("no runbook block used the cluster file at a site")
	}
	// The last block ran keyha status: one writer, every node Synced in the Primary component.
	if strings.Count(last, "Synced  Primary") != 3 || !strings.Contains(last, "WRITER") || !strings.Contains(last, "writer: lngs") {
		t.Errorf("keyha status at the end of the runbook:\n%s", last)
	}
	// Every agent ran in its unit's sandbox, and the agents of bari and padova replaced their
	// host's own keys with lngs's (keys sync) from inside it.
	for _, h := range []string{"lngs", "bari", "padova"} {
		b, _ := os.ReadFile(filepath.Join(hosts, h, "var/log/keyha/agent.log"))
		if !strings.Contains(string(b), "keyha-sandbox: ProtectSystem=strict ") {
			t.Errorf("%s: the agent did not run in its unit's sandbox:\n%s", h, b)
		}
		if h != "lngs" && strings.Count(string(b), "keystone keys replaced") != 2 {
			t.Errorf("%s: the agent did not replace both key repositories:\n%s", h, b)
		}
	}
	// keyha keystone tokens: each site's token valid at every site.
	if !regexp.MustCompile(`(?m)^token of +valid at lngs +at bari +at padova\n(\w+ +ok +ok +ok\n){3}`).MatchString(last) {
		t.Errorf("Keystone's tokens at the end of the runbook are not valid at every site:\n%s", last)
	}
	if !strings.Contains(last, "runs what keyha render writes for it") {
		t.Errorf("check-config at the end of the runbook does not find the rendered files running:\n%s", last)
	}
}

// ownKeys gives a host's key repository keys of its own (0 and 1, as keystone-manage writes them).
func ownKeys(t *testing.T, dir string) {
	t.Helper()
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0", "1"} {
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(base64.URLEncoding.EncodeToString(key)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
