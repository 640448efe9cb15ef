// Package scripts holds the tests of the setup and lab scripts' failure reporting (scripts/fail.sh):
// on a fresh machine, a failing step must say which step failed and what to do, never exit silently.
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type result struct {
	stdout, stderr string
	code           int
}

func runScript(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", name, err)
	}
	return r
}

// reports returns the lines a keyha script printed about its own failure (prefix "PROG: ").
func reports(stderr string, progs ...string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		for _, p := range progs {
			if strings.HasPrefix(l, p+": ") {
				out = append(out, l)
			}
		}
	}
	return out
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func failSh(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("fail.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Setup made to fail at its first step (an old Go first on PATH): one line says what is wrong and
// what to do, and setup stops there, before it installs anything.
func TestSetupStepFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go"), "#!/bin/sh\necho go1.19.8\n")
	r := runScript(t, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, "./setup")
	if r.code == 0 || strings.Contains(r.stdout, "installing") {
		t.Fatalf("setup with Go 1.19: exit %d, stdout %q; want a stop before any install", r.code, r.stdout)
	}
	lines := reports(r.stderr, "setup", "need-go")
	if len(lines) != 1 || !strings.Contains(lines[0], "is Go 1.19.8, keyha needs") || !strings.Contains(lines[0], "put it first on PATH") {
		t.Fatalf("setup's report %q, want one line saying the Go is too old and what to do:\n%s", lines, r.stderr)
	}
}

// The kernel step made to fail (its cache is under a regular file, so nothing can be stored): one
// line names the step and the cache to fix, and the exit code is not 0.
func TestKernelStepFailure(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "a-file")
	write(t, notDir, "")
	r := runScript(t, []string{"KEYHA_CACHE=" + filepath.Join(notDir, "cache")}, "./vm/image", "kernel")
	if r.code == 0 {
		t.Fatalf("vm/image kernel with an impossible cache exited 0:\n%s%s", r.stdout, r.stderr)
	}
	lines := reports(r.stderr, "vm/image")
	if len(lines) != 1 {
		t.Fatalf("vm/image printed %d lines about its failure, want 1:\n%s", len(lines), r.stderr)
	}
	// As root the step that makes the cache fails (before any download); otherwise it says to run
	// setup as root.
	if !strings.Contains(lines[0], "run scripts/setup as root") &&
		!(strings.Contains(lines[0], "step 'make the cache ") && strings.Contains(lines[0], "KEYHA_CACHE")) {
		t.Errorf("the line %q names neither the failed step and the cache nor what to do", lines[0])
	}
}

// fail.sh: a failing command, inside a function or a $(...), prints one line with the step, the
// command and the hint; a nested keyha script that already said why is not reported again.
func TestFailReport(t *testing.T) {
	dir := t.TempDir()
	inner := filepath.Join(dir, "inner")
	write(t, inner, `#!/usr/bin/env bash
FAIL_PROG=inner
. `+failSh(t)+`
step "copy the keys" "check the key folder"
false
`)
	outer := filepath.Join(dir, "outer")
	write(t, outer, `#!/usr/bin/env bash
FAIL_PROG=outer
. `+failSh(t)+`
case $1 in
  function) f() { ls /nonexistent-keyha-dir >/dev/null; }; f ;;
  subshell) step "read the position"; x=$(cat /nonexistent-keyha-file); echo "$x" ;;
  nested) step "run inner"; `+inner+` ;;
  die) die "bad input: want a site" ;;
esac
echo "not reached"
`)
	for _, c := range []struct {
		arg   string
		want  []string // in the one line
		prog  string
		nolog string
	}{
		{"function", []string{"outer: step 'f' failed", "ls /nonexistent-keyha-dir", "exited 2", "KEYHA_TRACE=1"}, "outer", ""},
		{"subshell", []string{"outer: step 'read the position' failed", "x=$(cat /nonexistent-keyha-file)"}, "outer", ""},
		{"nested", []string{"inner: step 'copy the keys' failed", "'false' exited 1", "check the key folder"}, "inner", "outer: "},
		{"die", []string{"outer: bad input: want a site"}, "outer", ""},
	} {
		r := runScript(t, nil, outer, c.arg)
		if r.code != 3 || strings.Contains(r.stdout, "not reached") {
			t.Errorf("%s: exit %d, stdout %q; want 3 and a stop at the failure", c.arg, r.code, r.stdout)
		}
		lines := reports(r.stderr, "outer", "inner")
		if len(lines) != 1 {
			t.Errorf("%s: %d report lines, want 1:\n%s", c.arg, len(lines), r.stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(lines[0], w) {
				t.Errorf("%s: %q lacks %q", c.arg, lines[0], w)
			}
		}
	}
}

// Inside a $(...) bash's own rules stay: a failing command does not end the substitution (set -e
// does not reach it), so a script that tolerated that before the reporter still does.
func TestFailReportLeavesSubstitutionsAlone(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s")
	write(t, script, `#!/usr/bin/env bash
FAIL_PROG=s
. `+failSh(t)+`
z=$( { cat /nonexistent-keyha-z 2>/dev/null; echo z-after; } )
echo "z=$z"
`)
	r := runScript(t, nil, script)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "z=z-after" || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the substitution to go on as bash runs it", r.code, r.stdout, r.stderr)
	}
}

// need-go says what to do when go is missing or older than go.mod's.
func TestNeedGo(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go"), "#!/bin/sh\necho go1.19.8\n")
	for _, c := range []struct {
		name, path, want string
	}{
		{"too old", dir + ":/usr/bin:/bin", "is Go 1.19.8, keyha needs"},
		{"missing", "/nonexistent-keyha-bin:/usr/bin:/bin", "go is not on PATH"},
	} {
		if _, err := os.Stat("/usr/bin/go"); err == nil && c.name == "missing" {
			continue // Debian's golang-go is installed: go is on every PATH here
		}
		r := runScript(t, []string{"PATH=" + c.path}, "./need-go")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "put it first on PATH") {
			t.Errorf("%s: exit %d, %q; want a failure saying %q and what to do", c.name, r.code, r.stderr, c.want)
		}
	}
	if r := runScript(t, nil, "./need-go"); r.code != 0 {
		t.Errorf("need-go with this go: exit %d %s", r.code, r.stderr)
	}
}
