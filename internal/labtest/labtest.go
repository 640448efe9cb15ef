// Package labtest gives integration tests the real lab of scripts/lab: three sites in network
// namespaces, each with MariaDB + Galera, HAProxy and a keyha agent. A test package calls Main from
// TestMain; tests call Get. Without root or packages the tests skip, except under CI=true, where a
// missing prerequisite is a failure.
package labtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/internal/prereq"
	"github.com/keyha/keyha/pki"
)

// Sites are the lab's sites, in priority order.
var Sites = []string{"lngs", "bari", "padova"}

// Lab is a running lab as `scripts/lab info` describes it.
type Lab struct {
	Root   string          `json:"-"` // the repository
	Bin    string          `json:"-"` // the keyha binary the lab's agents run
	Config string          `json:"config"`
	Dir    string          `json:"dir"`
	Sites  map[string]Site `json:"sites"`
	// KeystoneAdminPassword is set when the lab runs Keystone (scripts/lab up --keystone).
	KeystoneAdminPassword string `json:"keystone_admin_password"`
	// WAN is set when the sites talk through the router VM (scripts/lab up --wan).
	WAN *WAN `json:"wan"`
}

// WAN is the lab's WAN profile and the settings in force on each pair of sites.
type WAN struct {
	Profile string `json:"profile"`
	Links   []struct {
		A      string  `json:"a"`
		B      string  `json:"b"`
		RTTms  float64 `json:"rtt_ms"`
		Jitter float64 `json:"jitter_ms"`
		Loss   float64 `json:"loss_pct"`
	} `json:"links"`
}

// Site is one site's addresses.
type Site struct {
	SQL           string `json:"sql"`
	HAProxyDB     string `json:"haproxy_db"`
	HAProxySocket string `json:"haproxy_socket"`
	Agent         string `json:"agent"`
	HTTP          string `json:"http"`
	Metrics       string `json:"metrics"`
	Namespace     string `json:"namespace"`
	Keystone      string `json:"keystone"` // the site's HAProxy front for Keystone's API
	Swift         string `json:"swift"`    // the site's Swift proxy (scripts/lab up --swift)
}

var (
	shared   *Lab
	problem  string // why the lab could not be had; tests skip or fail with it
	lockFile *os.File
)

// Main brings the lab up once for a test package, runs its tests and takes the lab down. env
// (KEY=VALUE) goes to `scripts/lab up`, e.g. KEYHA_LAB_WRITER_MODE=all. With KEYHA_LAB_REUSE=1 a
// lab that is already up is used and left up.
func Main(m *testing.M, env ...string) {
	os.Exit(run(m, env))
}

func run(m *testing.M, env []string) (code int) {
	flag.Parse()
	if testing.Short() {
		problem = "integration tests are skipped with -short"
		return m.Run()
	}
	root, err := RepoRoot()
	if err != nil {
		problem = err.Error()
		return m.Run()
	}
	if p := Prerequisites(env...); p != "" {
		problem = p
		return m.Run()
	}
	if err := Lock(); err != nil {
		problem = err.Error()
		return m.Run()
	}
	defer Unlock()
	// Under -race the lab's agents and commands are race-built too (Galera lab only: the DRBD and
	// WAN VMs need a static binary), and a race any of them reports fails the package.
	race := raceBuild && !needsVMs(env)
	bin, err := buildKeyha(root, race)
	if err != nil {
		problem = err.Error()
		return m.Run()
	}
	reuse := os.Getenv("KEYHA_LAB_REUSE") == "1"
	if !reuse { // a reused lab's agents go on running this binary after the tests
		defer os.RemoveAll(filepath.Dir(bin))
	}
	if race {
		raced, err := raceLogs()
		if err != nil {
			problem = err.Error()
			return m.Run()
		}
		defer func() {
			if raced() && code == 0 {
				code = 1
			}
		}()
	}
	if l, err := Info(root, bin); reuse && err == nil {
		shared = l
		return m.Run()
	}
	if _, err := Script(root, bin, "down"); err != nil {
		problem = "clear an old lab: " + err.Error()
		return m.Run()
	}
	start := time.Now()
	if out, err := ScriptEnv(root, bin, env, "up"); err != nil {
		problem = fmt.Sprintf("scripts/lab up: %v\n%s", err, out)
		Script(root, bin, "down")
		return m.Run()
	}
	fmt.Fprintf(os.Stderr, "labtest: lab up in %.1fs\n", time.Since(start).Seconds())
	shared, err = Info(root, bin)
	if err != nil {
		problem = err.Error()
	}
	code = m.Run()
	if !reuse {
		if out, err := Script(root, bin, "down"); err != nil {
			fmt.Fprintf(os.Stderr, "labtest: scripts/lab down: %v\n%s", err, out)
		}
	}
	return code
}

// Get returns the package's lab, or skips the test (fails it under CI=true) saying why there is none.
func Get(t testing.TB) *Lab {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if shared == nil {
		if problem == "" {
			problem = "labtest.Main was not called from TestMain"
		}
		SkipOrFail(t, problem)
	}
	return shared
}

// SkipOrFail skips a test that lacks a prerequisite, except under CI=true, where it fails it
// (prereq.SkipOrFail: the project's one rule).
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	prereq.SkipOrFail(t, "lab not available: "+why)
}

// Prerequisites says what is missing for the lab to run here, or "" when nothing is.
func Prerequisites(env ...string) string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, nftables)"
	}
	var missing []string
	for _, b := range []string{"mariadbd", "mariadb", "mariadb-install-db", "haproxy", "nft", "ip", "rsync", "socat", "python3"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if _, err := os.Stat("/usr/lib/galera/libgalera_smm.so"); err != nil {
		missing = append(missing, "galera-4")
	}
	if needsVMs(env) {
		for _, b := range []string{"qemu-system-x86_64", "busybox", "/usr/lib/drbd/drbdsetup-84"} {
			if _, err := exec.LookPath(b); err != nil {
				missing = append(missing, b)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("missing %v: run scripts/setup as root", missing)
	}
	return ""
}

// needsVMs says whether the lab runs qemu VMs: over the WAN, or in DRBD mode.
func needsVMs(env []string) bool {
	return os.Getenv("KEYHA_LAB_WAN") != "" || os.Getenv("KEYHA_LAB_MODE") == "drbd" ||
		slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "KEYHA_LAB_WAN=") || e == "KEYHA_LAB_MODE=drbd" })
}

// Lock serialises test packages that use the lab: there is one set of namespaces per machine.
func Lock() error {
	if err := os.MkdirAll("/run/keyha-lab", 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile("/run/keyha-lab/tests.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("lock the lab for tests: %w", err)
	}
	lockFile = f
	return nil
}

// Unlock releases Lock.
func Unlock() {
	if lockFile != nil {
		lockFile.Close()
		lockFile = nil
	}
}

// RepoRoot finds the repository from the test's working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "lab")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/lab not found above the test's directory")
		}
		dir = parent
	}
}

// BuildKeyha builds the current code's keyha for the lab's agents.
func BuildKeyha(root string) (string, error) { return buildKeyha(root, false) }

// buildKeyha builds keyha, static as `make build` does (the lab's VMs run it too), or with the
// race detector (which needs cgo).
func buildKeyha(root string, race bool) (string, error) {
	dir, err := os.MkdirTemp("", "keyha-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "keyha")
	args, cgo := []string{"build", "-o", bin}, "CGO_ENABLED=0"
	if race {
		args, cgo = append(args, "-race"), "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", append(args, "./cmd/keyha")...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build keyha: %v\n%s", err, out)
	}
	return bin, nil
}

// Script runs scripts/lab with the given verb and arguments and returns its combined output.
func Script(root, bin string, args ...string) (string, error) {
	return ScriptEnv(root, bin, nil, args...)
}

// ScriptEnv is Script with extra environment (KEY=VALUE).
func ScriptEnv(root, bin string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "lab"), args...)
	cmd.Env = append(append(os.Environ(), "KEYHA_BIN="+bin), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Info reads `scripts/lab info` of the lab that is up.
func Info(root, bin string) (*Lab, error) {
	out, err := Script(root, bin, "info")
	if err != nil {
		return nil, fmt.Errorf("scripts/lab info: %v: %s", err, out)
	}
	l := &Lab{Root: root, Bin: bin}
	if err := json.Unmarshal([]byte(out), l); err != nil {
		return nil, fmt.Errorf("decode scripts/lab info: %w", err)
	}
	return l, nil
}

// Lab runs a scripts/lab verb and fails the test if it fails.
func (l *Lab) Lab(t testing.TB, args ...string) string {
	t.Helper()
	out, err := Script(l.Root, l.Bin, args...)
	if err != nil {
		t.Fatalf("scripts/lab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Cluster loads the lab's cluster file.
func (l *Lab) Cluster(t testing.TB) *config.Cluster {
	t.Helper()
	c, err := config.Load(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Agent returns a client for site's agent and its base URL: https with the lab's operator
// certificate when the lab runs TLS (it does with the keyha binary).
func (l *Lab) Agent(t testing.TB, site string) (*http.Client, string) {
	t.Helper()
	hc, base, err := pki.AgentClient(l.Cluster(t), site, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return hc, base
}

// AgentStatus decodes site's agent's /status into v.
func (l *Lab) AgentStatus(t testing.TB, site string, v any) error {
	t.Helper()
	hc, base := l.Agent(t, site)
	resp, err := hc.Get(base + "/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// DB opens a connection pool to addr (a site's SQL or HAProxy address) with one of the lab's
// credentials ("lab": all powers, for faults and checks; "admin", "monitor", "app": keyha's least-privilege accounts).
func (l *Lab) DB(t testing.TB, addr, cred string) *sql.DB {
	t.Helper()
	c, err := l.Cluster(t).ReadCredential(filepath.Join(l.Dir, "secrets", cred+".cnf")) // TLS when the lab has it
	if err != nil {
		t.Fatal(err)
	}
	db, err := galera.Open(addr, c, 3*time.Second, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Status reads one wsrep status variable at a site's node, "" when the node does not answer.
func (l *Lab) Status(t testing.TB, db *sql.DB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z') {
			t.Fatalf("status variable %q: only a-z and _ allowed", name)
		}
	}
	// SHOW STATUS cannot be a server-side prepared statement: the name goes in literally.
	var k, v string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
		return ""
	}
	return v
}

// Eventually polls cond until it reports true or the deadline passes; then the test fails with
// cond's last description of what it saw. It returns how long the condition took.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last string
	for {
		ok, seen := cond()
		if ok {
			return time.Since(start)
		}
		last = seen
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s; last seen: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HAProxy is the runtime API of a site's HAProxy.
func (l *Lab) HAProxy(site string) haproxy.Runtime {
	return haproxy.Runtime{Socket: l.Sites[site].HAProxySocket}
}

// Server reads one server's row of the galera backend in a site's HAProxy.
func (l *Lab) Server(site, server string) (haproxy.ServerStat, error) {
	rows, err := l.HAProxy(site).ShowStat(context.Background(), "galera")
	if err != nil {
		return haproxy.ServerStat{}, err
	}
	for _, r := range rows {
		if r.Server == server {
			return r, nil
		}
	}
	return haproxy.ServerStat{}, fmt.Errorf("no server %s in %s's galera backend", server, site)
}

// WaitServer waits until server has status want in the HAProxy of every site in at, and returns
// how long that took.
func (l *Lab) WaitServer(t testing.TB, at []string, server, want string, timeout time.Duration) time.Duration {
	t.Helper()
	return Eventually(t, timeout, fmt.Sprintf("%s is %s in the HAProxies of %v", server, want, at), func() (bool, string) {
		var seen []string
		ok := true
		for _, s := range at {
			r, err := l.Server(s, server)
			if err != nil {
				return false, err.Error()
			}
			seen = append(seen, fmt.Sprintf("%s:%s(%s)", s, r.Status, r.LastAgent))
			ok = ok && r.Status == want
		}
		return ok, strings.Join(seen, " ")
	})
}
