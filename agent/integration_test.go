package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
)

// Agent timings in the lab's cluster file: poll every 250 ms with a 1 s deadline; HAProxy asks
// the agent every 500 ms.
const (
	pollInterval = 250 * time.Millisecond
	pollTimeout  = time.Second
	agentInter   = 500 * time.Millisecond
)

var all = labtest.Sites

// These tests judge each node's health, so the lab runs in writer mode "all" (every healthy node
// serves); the single-writer role is tested in writer/.
func TestMain(m *testing.M) { labtest.Main(m, "KEYHA_LAB_WRITER_MODE=all") }

func status(t *testing.T, l *labtest.Lab, site string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := l.AgentStatus(t, site, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mysqldPid(t *testing.T, l *labtest.Lab, site string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Dir, site, "mysqld.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	return pid
}

func TestHealthyClusterIsUp(t *testing.T) {
	l := labtest.Get(t)
	for _, s := range all {
		l.WaitServer(t, all, s, "UP", 10*time.Second)
	}
	r, err := l.Server("lngs", "bari")
	if err != nil {
		t.Fatal(err)
	}
	if r.CheckStatus != "L7OK" || !strings.Contains(r.LastAgent, "synced") {
		t.Errorf("bari as lngs sees it: %+v", r)
	}
}

func TestDesyncDrainsEverywhere(t *testing.T) {
	l := labtest.Get(t)
	l.Lab(t, "sql", "bari", "SET GLOBAL wsrep_desync=ON")
	t.Cleanup(func() { labtest.Script(l.Root, l.Bin, "sql", "bari", "SET GLOBAL wsrep_desync=OFF") })
	took := l.WaitServer(t, all, "bari", "DRAIN", 10*time.Second)
	t.Logf("desync -> DRAIN in all HAProxies: %v", took)
	if limit := 2*agentInter + pollInterval + 250*time.Millisecond; took > limit {
		t.Errorf("DRAIN took %v, more than two agent intervals (+ one poll): %v", took, limit)
	}
	if st := status(t, l, "bari"); st["state"] != "drain" || !strings.Contains(st["reason"].(string), "wsrep_desync=ON") {
		t.Errorf("bari /status: %v", st)
	}
	l.Lab(t, "sql", "bari", "SET GLOBAL wsrep_desync=OFF")
	took = l.WaitServer(t, all, "bari", "UP", 10*time.Second)
	t.Logf("resync -> UP in all HAProxies: %v", took)
}

// FLUSH TABLES WITH READ LOCK desyncs a Galera node (it shows as Donor/Desynced, like a state
// transfer donor): the agent drains it.
func TestReadLockDrains(t *testing.T) {
	l := labtest.Get(t)
	db := l.DB(t, l.Sites["padova"].SQL, "lab")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		t.Fatal(err)
	}
	took := l.WaitServer(t, all, "padova", "DRAIN", 10*time.Second)
	t.Logf("FTWRL -> DRAIN: %v", took)
	conn.ExecContext(ctx, "UNLOCK TABLES")
	conn.Close()
	l.WaitServer(t, all, "padova", "UP", 10*time.Second)
}

func TestKilledNodeIsDown(t *testing.T) {
	l := labtest.Get(t)
	l.Lab(t, "kill", "padova")
	took := l.WaitServer(t, all, "padova", "DOWN", 10*time.Second)
	t.Logf("kill -9 -> DOWN in all HAProxies: %v", took)
	if limit := pollInterval + agentInter + 500*time.Millisecond; took > limit {
		t.Errorf("DOWN took %v, want at most %v", took, limit)
	}
	if st := status(t, l, "padova"); !strings.Contains(st["reason"].(string), "unreachable") {
		t.Errorf("padova /status reason: %v", st["reason"])
	}
	for _, s := range []string{"lngs", "bari"} {
		l.WaitServer(t, all, s, "UP", 10*time.Second)
	}
	start := time.Now()
	l.Lab(t, "start", "padova")
	l.WaitServer(t, all, "padova", "UP", 60*time.Second)
	t.Logf("restart -> UP in all HAProxies: %v", time.Since(start))
}

func TestPartitionedSiteIsDownEverywhere(t *testing.T) {
	l := labtest.Get(t)
	l.Lab(t, "partition", "padova")
	healed := false
	t.Cleanup(func() {
		if !healed {
			labtest.Script(l.Root, l.Bin, "heal", "padova")
		}
	})
	took := l.WaitServer(t, []string{"lngs", "bari"}, "padova", "DOWN", 30*time.Second)
	t.Logf("partition -> padova DOWN at lngs and bari: %v", took)
	// Its own HAProxy too: the cut-off node leaves the Primary component.
	took = l.WaitServer(t, []string{"padova"}, "padova", "DOWN", 30*time.Second)
	t.Logf("partition -> padova DOWN in its own HAProxy: %v", took)
	for _, s := range []string{"lngs", "bari"} {
		l.WaitServer(t, []string{"lngs", "bari"}, s, "UP", 5*time.Second)
		l.WaitServer(t, []string{"padova"}, s, "DOWN", 10*time.Second) // unreachable from the cut site
	}
	l.Lab(t, "heal", "padova")
	healed = true
	for _, s := range all {
		l.WaitServer(t, all, s, "UP", 60*time.Second)
	}
}

func TestStoppedProcessIsDownWithinPollDeadline(t *testing.T) {
	l := labtest.Get(t)
	pid := mysqldPid(t, l, "bari")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	continued := false
	cont := func() {
		if !continued {
			syscall.Kill(pid, syscall.SIGCONT)
			continued = true
		}
	}
	t.Cleanup(cont)
	took := l.WaitServer(t, all, "bari", "DOWN", 10*time.Second)
	t.Logf("SIGSTOP -> DOWN in all HAProxies: %v", took)
	if limit := pollTimeout + pollInterval + agentInter + 500*time.Millisecond; took > limit {
		t.Errorf("DOWN took %v, want within the poll deadline (%v) plus one agent interval: %v", took, pollTimeout, limit)
	}
	if st := status(t, l, "bari"); !strings.Contains(st["reason"].(string), "timeout") {
		t.Errorf("bari /status reason: %v", st["reason"])
	}
	cont()
	took = l.WaitServer(t, all, "bari", "UP", 60*time.Second)
	t.Logf("SIGCONT -> UP: %v", took)
}

func TestWrongPasswordIsDownWithReason(t *testing.T) {
	l := labtest.Get(t)
	path := filepath.Join(l.Dir, "secrets", "monitor.cnf")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var password string
	for _, line := range strings.Split(string(good), "\n") {
		if v, ok := strings.CutPrefix(line, "password="); ok {
			password = v
		}
	}
	bad := strings.Replace(string(good), "password="+password, "password=not-the-password", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			os.WriteFile(path, good, 0o600)
			restored = true
		}
	}
	t.Cleanup(restore)

	took := l.WaitServer(t, all, "lngs", "DOWN", 10*time.Second)
	t.Logf("wrong password -> DOWN: %v", took)
	// Every agent reads the same file; each says why in its log, once its next poll has met the
	// refusal (lngs's HAProxies can mark lngs DOWN before the others' agents have polled again).
	labtest.Eventually(t, 10*time.Second, "every agent's log says why its node went down", func() (bool, string) {
		for _, s := range all {
			if log, _ := os.ReadFile(filepath.Join(l.Dir, s, "agent.log")); !strings.Contains(string(log), "Access denied") {
				return false, s + "'s log does not say Access denied yet"
			}
		}
		return true, ""
	})
	r, err := l.Server("bari", "lngs")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.LastAgent, "auth") || !strings.Contains(r.LastAgent, "Access denied") {
		t.Errorf("show stat last_agt %q does not give the reason", r.LastAgent)
	}
	if st := status(t, l, "lngs"); !strings.Contains(st["reason"].(string), "auth") {
		t.Errorf("/status reason: %v", st["reason"])
	}
	resp, err := http.Get("http://" + l.Sites["lngs"].Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `keyha_agent_verdict{state="down"} 1`) || strings.Contains(string(body), `keyha_agent_poll_errors_total{class="auth"} 0`) {
		t.Errorf("metrics do not show the auth failure:\n%s", grep(string(body), "keyha_agent_"))
	}
	restore()
	for _, s := range all {
		l.WaitServer(t, all, s, "UP", 30*time.Second)
	}
	for _, s := range all {
		log, _ := os.ReadFile(filepath.Join(l.Dir, s, "agent.log"))
		if strings.Contains(string(log), password) {
			t.Errorf("%s's agent log contains the monitor password", s)
		}
	}
}

func TestMaintenanceRoundTripSurvivesRestart(t *testing.T) {
	l := labtest.Get(t)
	// The operator's copy of the cluster file names a state dir that does not exist here: the flag
	// can only be set through padova's agent, as from an operator host that is none of the sites.
	raw, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	stateDir := "state_dir: " + filepath.Join(l.Dir, "state")
	if !strings.Contains(string(raw), stateDir) {
		t.Fatalf("cluster file lacks %q", stateDir)
	}
	cfg := filepath.Join(t.TempDir(), "operator.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(raw), stateDir, "state_dir: /nonexistent/keyha-operator", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	keyha := func(args ...string) {
		t.Helper()
		out, err := exec.Command(l.Bin, append([]string{"--config", cfg}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("keyha %v: %v\n%s", args, err, out)
		}
	}
	keyha("agent", "maint", "on", "--site", "padova", "--reason", "test")
	t.Cleanup(func() { exec.Command(l.Bin, "--config", l.Config, "agent", "maint", "off", "--site", "padova").Run() })
	took := l.WaitServer(t, all, "padova", "MAINT", 10*time.Second)
	t.Logf("maint on -> MAINT: %v", took)

	l.Lab(t, "agent-restart", "padova")
	labtest.Eventually(t, 10*time.Second, "padova's restarted agent answers maint", func() (bool, string) {
		hc, base := l.Agent(t, "padova")
		resp, err := hc.Get(base + "/status")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m["state"] == "maint", m["state"].(string)
	})
	l.WaitServer(t, all, "padova", "MAINT", 5*time.Second)

	keyha("agent", "maint", "off", "--site", "padova")
	took = l.WaitServer(t, all, "padova", "UP", 10*time.Second)
	t.Logf("maint off -> UP: %v", took)
}

func grep(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The runtime API client against the real HAProxy: drain, ready, maint, shutdown sessions, and a
// refusal for an unknown server.
func TestRuntimeAPI(t *testing.T) {
	l := labtest.Get(t)
	rt := l.HAProxy("lngs")
	ctx := context.Background()
	if err := rt.SetServerState(ctx, "galera", "bari", "drain"); err != nil {
		t.Fatal(err)
	}
	l.WaitServer(t, []string{"lngs"}, "bari", "DRAIN", 5*time.Second)
	if err := rt.SetServerState(ctx, "galera", "bari", "maint"); err != nil {
		t.Fatal(err)
	}
	l.WaitServer(t, []string{"lngs"}, "bari", "MAINT", 5*time.Second)
	if err := rt.SetServerState(ctx, "galera", "bari", "ready"); err != nil {
		t.Fatal(err)
	}
	l.WaitServer(t, []string{"lngs"}, "bari", "UP", 10*time.Second)
	if err := rt.ShutdownSessions(ctx, "galera", "bari"); err != nil {
		t.Fatal(err)
	}
	if err := rt.SetServerState(ctx, "galera", "nosuch", "drain"); err == nil || !strings.Contains(err.Error(), "HAProxy refused") {
		t.Errorf("unknown server: %v", err)
	}
	if err := rt.SetServerState(ctx, "galera", "bari", "sideways"); err == nil {
		t.Errorf("bad state accepted")
	}
}
