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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
)

// block is one shell block of the runbook and where it runs.
type block struct {
	on   string // "every site", "the operator's host", or a site
	part string // "keystone" when its second line says "# part: keystone"; "" otherwise
	body string
}

// timeout bounds a block: Keystone's, on the DRBD runbook's emulated hosts, wait for workers
// that take minutes to load.
func (b block) timeout() time.Duration {
	if b.part == "keystone" {
		return 40 * time.Minute
	}
	return 5 * time.Minute
}

// runbook reads a runbook of docs/deploy.md, the section under heading: its ```sh blocks, each
// opened by "# on: WHERE".
func runbook(t *testing.T, heading string) []block {
	t.Helper()
	raw, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rb, ok := strings.Cut(string(raw), "\n## "+heading)
	if !ok {
		t.Fatalf("docs/deploy.md has no section %q", heading)
	}
	if i := strings.Index(rb, "\n## "); i >= 0 {
		rb = rb[:i]
	}
	var out []block
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(rb, -1) {
		first, rest, _ := strings.Cut(m[1], "\n")
		on, ok := strings.CutPrefix(first, "# on: ")
		if !ok {
			t.Fatalf("a runbook block does not say where it runs (first line %q)", first)
		}
		second, _, _ := strings.Cut(rest, "\n")
		part, ok := strings.CutPrefix(second, "# part: ")
		if !ok {
			part = ""
		}
		out = append(out, block{on: on, part: part, body: m[1]})
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

// kit is what both runbook tests set up: the package the runbook installs, the lab's network, a
// folder per host, and the environment every block runs in.
type kit struct {
	root, pkgDir, hosts string
	env                 []string
}

// prepare checks the prerequisites, takes the lab, builds the package, brings up the lab's
// network only (mode galera: a namespace per site; drbd: the witness's) and gives each host its
// own folders at hostPaths. Everything is undone at the test's end. tools are what the mode's
// runbook needs besides apt-get, dpkg-deb and unshare (scripts/setup installs them).
func prepare(t *testing.T, mode string, hosts, tools []string, env ...string) *kit {
	if testing.Short() {
		t.Skip("the runbook builds a cluster from nothing (minutes): not in -short")
	}
	if p := labtest.Prerequisites("KEYHA_LAB_MODE=" + mode); p != "" {
		labtest.SkipOrFail(t, p)
	}
	for _, tool := range append([]string{"unshare", "apt-get", "dpkg-deb"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.SkipOrFail(t, tool+" is missing: run scripts/setup")
		}
	}
	if err := labtest.Lock(); err != nil {
		labtest.SkipOrFail(t, err.Error())
	}
	t.Cleanup(labtest.Unlock)
	root, err := labtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	k := &kit{root: root}

	// The package the runbook installs.
	if k.pkgDir, err = os.MkdirTemp("", "keyha-runbook-pkg-"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(k.pkgDir, 0o755) // the VMs' hosts read it as their own /tmp
	t.Cleanup(func() { os.RemoveAll(k.pkgDir) })
	run(t, "../scripts/package", k.pkgDir)

	// The lab's network only.
	if out, err := labtest.Script(root, "", "down"); err != nil {
		t.Fatalf("scripts/lab down: %v\n%s", err, out)
	}
	if out, err := labtest.Script(root, "", "up", "--net-only", "--mode", mode); err != nil {
		t.Fatalf("scripts/lab up --net-only: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := labtest.Script(root, "", "down"); err != nil {
			t.Errorf("scripts/lab down: %v\n%s", err, out)
		}
	})

	// Each host's own folders; mysqld (user mysql) must reach them.
	if k.hosts, err = os.MkdirTemp("/tmp", "keyha-runbook-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(k.hosts) })
	os.Chmod(k.hosts, 0o755)
	for _, p := range hostPaths {
		if err := os.MkdirAll(p, 0o755); err != nil { // the mount point on the real host
			t.Fatal(err)
		}
	}
	for _, h := range hosts {
		for _, p := range hostPaths {
			if err := os.MkdirAll(filepath.Join(k.hosts, h, p), 0o755); err != nil {
				t.Fatal(err)
			}
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
	t.Cleanup(purge)

	// The hosts' apt-get installs what is missing and upgrades nothing: this machine's own
	// packages stay as scripts/setup left them.
	aptConf := filepath.Join(k.pkgDir, "apt.conf")
	if err := os.WriteFile(aptConf, []byte("APT::Get::Upgrade \"false\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.env = append([]string{"APT_CONFIG=" + aptConf, "LNGS=" + sites["lngs"], "BARI=" + sites["bari"], "PADOVA=" + sites["padova"],
		"OPERATOR=10.77.0.254", "MONITORING=10.77.0.254", "CLIENTS=10.77.0.254",
		"KEYHA_SUPERVISE=" + filepath.Join(root, "scripts/supervise"),
		"PATH=" + filepath.Join(root, "deploy/testdata/bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive"}, env...)
	return k
}

// envFor is the environment of a block on host: its own copy, as blocks run side by side.
func (k *kit) envFor(host string) []string {
	return append(slices.Clone(k.env), "SITE="+host)
}

// inNS runs block b on host (the operator's: this machine's root namespace; a site: its lab
// namespace), with the host's own folders bound over hostPaths.
func (k *kit) inNS(t *testing.T, host string, b block) string {
	t.Helper()
	var binds strings.Builder
	for _, p := range hostPaths {
		binds.WriteString("mount --bind " + filepath.Join(k.hosts, host, p) + " " + p + "\n")
	}
	args := []string{"unshare", "--mount", "--propagation", "private", "bash", "-c", binds.String() + "exec bash -euo pipefail -s"}
	if host != "operator" {
		args = append([]string{"ip", "netns", "exec", "kh-" + host}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout())
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdin = k.pkgDir, append(os.Environ(), k.envFor(host)...), strings.NewReader(b.body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		out.WriteString(k.logs(host, func(f string) string {
			tail, _ := exec.Command("tail", "-n", "20", filepath.Join(k.hosts, host, f)).Output()
			return string(tail)
		}))
		t.Fatalf("runbook block on %s failed: %v\n%s\n--- output:\n%s", host, err, b.body, out.String())
	}
	t.Logf("on %s: %s (%.1fs)", host, firstStep(b), time.Since(start).Seconds())
	return out.String()
}

// logs gathers the tails of a host's logs, read by tail (a path under /).
func (k *kit) logs(host string, tail func(string) string) string {
	var b strings.Builder
	for _, log := range []string{"var/log/mysql/error.log", "var/log/keyha/agent.log", "var/log/keystone/keystone.log", "var/log/keystone/uwsgi.log"} {
		if s := tail(log); s != "" {
			b.WriteString("\n--- " + host + ":/" + log + "\n" + s)
		}
	}
	return b.String()
}

// firstStep is a block's first command, for the log.
func firstStep(b block) string {
	for _, l := range strings.Split(b.body, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "# on: ") && !strings.HasPrefix(l, "# part: ") {
			return l
		}
	}
	return ""
}

// where lists the hosts a block runs on.
func where(t *testing.T, b block, data []string) []string {
	switch b.on {
	case "every site":
		return []string{"lngs", "bari", "padova"}
	case "the operator's host":
		return []string{"operator"}
	case "the data sites":
		if data != nil {
			return data
		}
	default:
		if _, ok := sites[b.on]; ok {
			return []string{b.on}
		}
	}
	t.Fatalf("a runbook block runs on %q: not a host of this runbook", b.on)
	return nil
}

// The runbook, run as written: three hosts (the lab's namespaces, each with its own /etc and
// /var) go from Debian's packages to a serving cluster, checked by the runbook's own last block
// (one writer, every node running its rendered galera.cnf).
func TestRunbook(t *testing.T) {
	blocks := runbook(t, "Runbook: three Debian hosts")
	k := prepare(t, "galera", []string{"operator", "lngs", "bari", "padova"}, nil)
	for _, h := range []string{"operator", "lngs", "bari", "padova"} {
		// A fresh Debian host after apt-get install mariadb-server keystone: their /etc folders,
		// a datadir with the system tables, Keystone's home and log folder.
		run(t, "cp", "-a", "/etc/mysql/.", filepath.Join(k.hosts, h, "etc/mysql"))
		for _, p := range []string{"var/lib/mysql", "run/mysqld", "var/log/mysql"} {
			run(t, "chown", "mysql:mysql", filepath.Join(k.hosts, h, p))
		}
		k.freshKeystone(t, h)
		if h != "operator" {
			run(t, "mariadb-install-db", "--user=mysql", "--datadir="+filepath.Join(k.hosts, h, "var/lib/mysql"), "--skip-test-db")
		}
	}

	t0 := time.Now()
	copied := false
	var last string
	for _, b := range blocks {
		hs := where(t, b, nil)
		// "Copy /etc/keyha to every site": the operator's part done, before the sites use it.
		if !copied && hs[0] != "operator" && strings.Contains(b.body, "/etc/keyha/keyha.yaml") {
			for _, s := range []string{"lngs", "bari", "padova"} {
				// "DIR/." (not cleaned by filepath.Join): the folder's contents, modes kept.
				run(t, "cp", "-a", filepath.Join(k.hosts, "operator/etc/keyha")+"/.", filepath.Join(k.hosts, s, "etc/keyha"))
			}
			copied = true
		}
		for _, h := range hs {
			last = k.inNS(t, h, b)
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
		b, _ := os.ReadFile(filepath.Join(k.hosts, h, "var/log/keyha/agent.log"))
		if !strings.Contains(string(b), "keyha-sandbox: ProtectSystem=strict ") {
			t.Errorf("%s: the agent did not run in its unit's sandbox:\n%s", h, b)
		}
		if h != "lngs" && strings.Count(string(b), "keystone keys replaced") != 2 {
			t.Errorf("%s: the agent did not replace both key repositories:\n%s", h, b)
		}
	}
	// keyha keystone tokens: each site's token valid at every site.
	if !tokensValidEverywhere.MatchString(last) {
		t.Errorf("Keystone's tokens at the end of the runbook are not valid at every site:\n%s", last)
	}
	if !strings.Contains(last, "runs what keyha render writes for it") {
		t.Errorf("check-config at the end of the runbook does not find the rendered files running:\n%s", last)
	}
}

// tokensValidEverywhere is what keyha keystone tokens prints when each of the lab's three sites'
// tokens is valid at every site.
var tokensValidEverywhere = regexp.MustCompile(`(?m)^token of +valid at lngs +at bari +at padova\n(\w+ +ok +ok +ok\n){3}`)

// freshKeystone gives namespace host h Keystone's folders as apt-get install keystone leaves them:
// /etc/keystone with key repositories of its own (Debian's postinst makes each host its own keys:
// the runbook must make them one set), Keystone's home and its log folder.
func (k *kit) freshKeystone(t *testing.T, h string) {
	run(t, "cp", "-a", "/etc/keystone/.", filepath.Join(k.hosts, h, "etc/keystone"))
	for _, repo := range []string{"fernet-keys", "credential-keys"} {
		ownKeys(t, filepath.Join(k.hosts, h, "etc/keystone", repo))
	}
	run(t, "chown", "keystone:keystone", filepath.Join(k.hosts, h, "var/lib/keystone"))
	run(t, "chown", "keystone:adm", filepath.Join(k.hosts, h, "var/log/keystone"))
	run(t, "chmod", "750", filepath.Join(k.hosts, h, "var/log/keystone"))
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
