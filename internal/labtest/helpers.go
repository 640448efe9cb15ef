package labtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/ops"
	"github.com/keyha/keyha/swift"
)

// Run is the outcome of one keyha command.
type Run struct {
	Stdout, Stderr string
	Code           int
}

// Keyha runs the lab's keyha binary with the lab's cluster file (and extra KEY=VALUE env) and
// returns what it printed and its exit code; it fails the test only if the binary cannot run.
func (l *Lab) Keyha(t testing.TB, env []string, args ...string) Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.Bin, args...)
	cmd.Dir = l.Root
	cmd.Env = append(append(os.Environ(), "KEYHA_CONFIG="+l.Config, "KEYHA_LAB_SCRIPT="+l.Root+"/scripts/lab", "KEYHA_BIN="+l.Bin), env...)
	return runCmd(t, cmd, "keyha "+strings.Join(args, " "))
}

// runCmd runs cmd and returns what it printed and its exit code; it fails the test only if cmd
// cannot run at all.
func runCmd(t testing.TB, cmd *exec.Cmd, what string) Run {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", what, err)
	}
	return Run{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// Writer waits until the agents in the Primary component agree on one writer and returns it.
func (l *Lab) Writer(t testing.TB, timeout time.Duration) string {
	t.Helper()
	cl := l.Cluster(t)
	var w string
	Eventually(t, timeout, "the agents agree on a writer", func() (bool, string) {
		var why string
		w, why = ops.Writer(ops.Fetch(context.Background(), cl, 2*time.Second))
		return w != "" && w != "-", why
	})
	return w
}

// AllSynced waits until every site's node is Synced in one three-node Primary component.
func (l *Lab) AllSynced(t testing.TB, timeout time.Duration) time.Duration {
	t.Helper()
	return Eventually(t, timeout, "every site Synced in a Primary component of 3", func() (bool, string) {
		out, err := Script(l.Root, l.Bin, "status")
		if err != nil {
			return false, err.Error()
		}
		return strings.Count(out, "Synced     Primary      3") == len(Sites), fmt.Sprint(out)
	})
}

// operatorScript runs keyha in a mount namespace of its own where the lab's folder holds only the
// files named in KEEP (the operator's: cluster file, key, credentials, certificates): the sites'
// sockets, logs and state are out of sight, as on an operator host that is none of the sites.
const operatorScript = `set -e
[ -d "$LABDIR" ] || { echo "operator namespace: no lab dir $LABDIR" >&2; exit 96; }
keep=$(mktemp -d)
trap 'rm -rf "$keep"' EXIT
printf '%s\n' "$KEEP" | while IFS= read -r f; do
  [ -z "$f" ] || { mkdir -p "$keep$(dirname "$f")" && cp -p "$f" "$keep$f"; }
done
mount -t tmpfs -o mode=755 keyha-operator "$LABDIR"
cp -a "$keep$LABDIR/." "$LABDIR/"
for s in lngs bari padova; do
  if [ -e "$LABDIR/$s" ]; then echo "operator namespace: $LABDIR/$s is visible" >&2; exit 97; fi
done
"$BIN" "$@"
`

// Operator runs keyha as from an operator host that is none of the sites: see operatorScript.
func (l *Lab) Operator(t testing.TB, args ...string) Run {
	t.Helper()
	c := l.Cluster(t)
	keep := []string{l.Config, c.Gossip.KeyFile, c.Credentials.Admin, c.TLS.CA, c.TLS.OperatorCert, c.TLS.OperatorKey}
	bin := filepath.Join(t.TempDir(), "keyha")
	b, err := os.ReadFile(l.Bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", operatorScript, "operator"}, args...)...)
	cmd.Env = append(os.Environ(), "KEYHA_CONFIG="+l.Config, "LABDIR="+l.Dir, "BIN="+bin, "KEEP="+strings.Join(keep, "\n"))
	r := runCmd(t, cmd, "keyha "+strings.Join(args, " ")+" as an operator")
	if r.Code == 96 || r.Code == 97 {
		t.Fatalf("the operator's namespace: %s", r.Stderr)
	}
	return r
}

// Keystone is a client of site's Keystone front (a lab up with --keystone), over TLS as the lab runs it.
func (l *Lab) Keystone(t testing.TB, site string) *drill.Keystone {
	t.Helper()
	k, err := drill.SiteKeystone(l.Cluster(t), site)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Swift returns a client of site's Swift proxy (a lab up with --swift) and a token from site's own
// Keystone; the error is Keystone's refusal, for tests that expect one.
func (l *Lab) Swift(t testing.TB, site string) (*swift.Client, string, error) {
	t.Helper()
	if l.Sites[site].Swift == "" {
		t.Fatalf("scripts/lab info gives %s no swift address", site)
	}
	c, tok, err := swift.Login(t.Context(), l.Keystone(t, site), l.Sites[site].Swift, "admin", l.KeystoneAdminPassword)
	if err != nil {
		return nil, "", fmt.Errorf("issue a token at %s: %w", site, err)
	}
	return c, tok, nil
}

// PutObjects creates container through c and puts n objects of random sizes (up to 256 KiB)
// in it, and returns their MD5s by name.
func PutObjects(t testing.TB, c *swift.Client, tok, container string, n int) map[string]string {
	t.Helper()
	if err := c.CreateContainer(t.Context(), tok, container); err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for i := range n {
		body := make([]byte, 1+mrand.IntN(256<<10))
		rand.Read(body)
		name := fmt.Sprintf("obj-%d", i)
		if err := c.Put(t.Context(), tok, container, name, body); err != nil {
			t.Fatal(err)
		}
		sums[name] = swift.Sum(body)
	}
	return sums
}

// CrossSiteTokens issues n tokens at from and validates each at every site of to, with a token
// each of those sites issued itself: the sites share one database and one set of keys.
func (l *Lab) CrossSiteTokens(t testing.TB, from string, to []string, n int) {
	t.Helper()
	ctx := context.Background()
	issuer := l.Keystone(t, from)
	// A Keystone that does not answer within the client's 3 s (a starved lab: the DRBD sites are
	// emulated VMs) is asked again for up to 30 s; one that answers no fails the test at once.
	again := func(what string, f func() error) error {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := f()
			if err == nil || drill.Refused(err) || time.Now().After(deadline) {
				return err
			}
			t.Logf("%s: %v (not an answer: asked again)", what, err)
			time.Sleep(time.Second)
		}
	}
	for _, s := range to {
		k := l.Keystone(t, s)
		var own, tok string
		if err := again("issue at "+s, func() (err error) { own, err = k.Issue(ctx, "admin", l.KeystoneAdminPassword); return err }); err != nil {
			t.Fatalf("issue at %s: %v", s, err)
		}
		for i := range n {
			if err := again("issue at "+from, func() (err error) { tok, err = issuer.Issue(ctx, "admin", l.KeystoneAdminPassword); return err }); err != nil {
				t.Fatalf("issue at %s: %v", from, err)
			}
			if err := again("validate at "+s, func() error { return k.Validate(ctx, own, tok) }); err != nil {
				t.Errorf("token %d issued at %s refused at %s: %v", i, from, s, err)
			}
		}
	}
}

// StatusJSON runs keyha status --json and checks the shape both modes share: the top-level keys
// cluster, mode, writer and sites, and for every site site, state, role, reason and detail. It
// returns the writer it names.
func (l *Lab) StatusJSON(t testing.TB, mode string) string {
	t.Helper()
	r := l.Keyha(t, nil, "status", "--json")
	var st struct {
		Cluster, Mode, Writer string
		Sites                 []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("keyha status --json (exit %d) does not parse: %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if st.Cluster == "" || st.Mode != mode || len(st.Sites) != len(l.Sites) {
		t.Errorf("keyha status --json: cluster %q, mode %q, %d sites; want mode %s and %d sites", st.Cluster, st.Mode, len(st.Sites), mode, len(l.Sites))
	}
	for _, s := range st.Sites {
		for _, k := range []string{"site", "state", "role", "reason", "detail"} {
			if _, ok := s[k]; !ok {
				t.Errorf("keyha status --json: a site lacks %q: %s", k, r.Stdout)
			}
		}
	}
	return st.Writer
}

// KeysDriftRepaired checks that the sites' Keystone keys agree, changes bari's fernet key 0 on
// disk, and checks that keys check names that drift (and only there, printing no key material)
// and that keys sync --from lngs repairs it, mode kept.
func (l *Lab) KeysDriftRepaired(t testing.TB) {
	t.Helper()
	if r := l.Keyha(t, nil, "keystone", "keys", "check"); r.Code != 0 {
		t.Fatalf("keys differ right after the lab came up:\n%s%s", r.Stdout, r.Stderr)
	}
	key := filepath.Join(l.Dir, "bari", "keystone", "fernet-keys", "0")
	orig, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("cHJldGVuZCB0aGlzIGlzIGEgZGlmZmVyZW50IGZlcm5ldCBrZXk="), 0o600); err != nil {
		t.Fatal(err)
	}
	r := l.Operator(t, "keystone", "keys", "check") // from a host that is none of the sites
	t.Logf("after changing bari's key 0:\n%s%s", r.Stdout, r.Stderr)
	if r.Code == 0 || !strings.Contains(r.Stdout, "bari     DRIFT from lngs: fernet: 0 differs") || strings.Contains(r.Stdout, "padova   DRIFT") {
		t.Fatalf("drift at bari not reported, or reported elsewhere")
	}
	if bytes.Contains([]byte(r.Stdout+r.Stderr), orig) {
		t.Error("key material printed")
	}
	r = l.Operator(t, "keystone", "keys", "sync", "--from", "lngs")
	t.Logf("sync:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatal("sync failed")
	}
	if got, _ := os.ReadFile(key); !bytes.Equal(got, orig) {
		t.Error("bari's key 0 was not restored from lngs")
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after sync, want 0600", fi.Mode().Perm())
	}
}
