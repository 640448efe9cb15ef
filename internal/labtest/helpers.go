package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/ops"
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
