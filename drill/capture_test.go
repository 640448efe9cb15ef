package drill_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/internal/syncbuf"
)

// Nothing readable crosses the lab's bridge, which carries every link between sites: a capture
// taken while rows with a marker are written through every HAProxy, a node rejoins by SST, the
// writer is switched over, recover and keys sync run, and tokens are issued and validated at
// every site holds neither the marker, nor SQL text, nor a password, nor key material, nor a
// token. A canary sent in clear during the capture must be found in it: the search can fail.
func TestNothingReadableOnTheWire(t *testing.T) {
	l := labtest.Get(t)
	cl := l.Cluster(t)
	if !cl.TLS.On() {
		t.Fatal("the lab runs without TLS: nothing to prove")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		labtest.SkipOrFail(t, "tcpdump is not installed: run scripts/setup")
	}
	l.AllSynced(t, 2*time.Minute)
	pcap := filepath.Join(t.TempDir(), "bridge.pcap")
	dump := exec.Command("tcpdump", "-i", "kh-br0", "-s", "0", "-U", "-n", "-w", pcap)
	var dumpErr syncbuf.Buffer
	dump.Stderr = &dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			dump.Process.Signal(syscall.SIGINT)
			dump.Wait()
		}
	}
	defer stop()
	labtest.Eventually(t, 10*time.Second, "tcpdump listens on kh-br0", func() (bool, string) {
		return strings.Contains(dumpErr.String(), "listening on"), dumpErr.String()
	})

	tag := make([]byte, 8)
	rand.Read(tag)
	marker := "keyha-marker-" + hex.EncodeToString(tag)
	canary := "keyha-canary-" + hex.EncodeToString(tag)
	host, _, _ := net.SplitHostPort(l.Sites["lngs"].SQL)
	if c, err := net.Dial("udp", host+":9"); err == nil {
		fmt.Fprint(c, canary) // in clear, on purpose
		c.Close()
	}

	// Rows with the marker through every site's HAProxy.
	setup := l.DB(t, l.Sites["lngs"].HAProxyDB, "app")
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS keyha_capture",
		"CREATE TABLE IF NOT EXISTS keyha_capture.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))"} {
		if _, err := setup.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, s := range labtest.Sites {
		db := l.DB(t, l.Sites[s].HAProxyDB, "app")
		for i := range 50 {
			if _, err := db.Exec("INSERT INTO keyha_capture.t (v) VALUES (?)", fmt.Sprintf("%s-%s-%d", marker, s, i)); err != nil {
				t.Fatalf("insert through %s's HAProxy: %v", s, err)
			}
		}
	}

	// bari rejoins by SST: without grastate.dat its node knows no position.
	l.Lab(t, "kill", "bari")
	if err := os.Remove(filepath.Join(l.Dir, "bari", "data", "grastate.dat")); err != nil {
		t.Fatal(err)
	}
	logBefore, _ := os.ReadFile(filepath.Join(l.Dir, "bari", "mysqld.log"))
	t0 := time.Now()
	l.Lab(t, "start", "bari")
	l.AllSynced(t, 3*time.Minute)
	t.Logf("bari rejoined by SST in %.1fs", time.Since(t0).Seconds())
	logAfter, _ := os.ReadFile(filepath.Join(l.Dir, "bari", "mysqld.log"))
	joined := string(logAfter[len(logBefore):])
	if !strings.Contains(joined, "stunnel") {
		t.Errorf("bari's rejoin shows no SST through stunnel in its log:\n%s", tail(joined, 3000))
	}

	w := l.Writer(t, 30*time.Second)
	to := "padova"
	if w == to {
		to = "lngs"
	}
	for _, args := range [][]string{{"switchover", "--to", to}, {"galera", "recover"}, {"keystone", "keys", "sync", "--from", "lngs"}} {
		if r := l.Keyha(t, nil, args...); r.Code != 0 {
			t.Fatalf("keyha %v: exit %d\n%s%s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	var tokens []string
	for _, s := range labtest.Sites {
		k := l.Keystone(t, s)
		tok, err := k.Issue(t.Context(), "admin", l.KeystoneAdminPassword)
		if err != nil {
			t.Fatalf("issue at %s: %v", s, err)
		}
		if err := k.Validate(t.Context(), tok, tok); err != nil {
			t.Fatalf("validate at %s: %v", s, err)
		}
		tokens = append(tokens, tok)
	}
	stop()

	raw, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capture: %d MB", len(raw)>>20)
	if !bytes.Contains(raw, []byte(canary)) {
		t.Fatalf("the canary sent in clear is not in the capture: the search proves nothing (tcpdump: %s)", dumpErr.String())
	}
	secrets := map[string]string{"the marker": marker, "SQL text (INSERT INTO)": "INSERT INTO", "SQL text (keyha_capture)": "keyha_capture",
		"the Keystone admin password": l.KeystoneAdminPassword}
	for _, f := range []string{"monitor", "admin", "app", "lab", "keystone"} {
		c, err := config.ReadCredential(filepath.Join(l.Dir, "secrets", f+".cnf"))
		if err != nil {
			t.Fatal(err)
		}
		secrets["the "+f+" password"] = c.Password
	}
	for _, repo := range []string{"fernet-keys", "credential-keys"} {
		keys, _ := filepath.Glob(filepath.Join(l.Dir, "lngs", "keystone", repo, "*"))
		if len(keys) == 0 {
			t.Fatalf("no %s at lngs", repo)
		}
		for _, k := range keys {
			b, _ := os.ReadFile(k)
			secrets["Keystone's "+repo+"/"+filepath.Base(k)] = strings.TrimSpace(string(b))
		}
	}
	for i, tok := range tokens {
		secrets[fmt.Sprintf("token %d", i)] = tok[:32] // a token may be split between segments; its head is not
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s is empty", what)
		}
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%s is readable in the capture of the lab's bridge", what)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
