package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run keyha %s: %v", strings.Join(args, " "), err)
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
