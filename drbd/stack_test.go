package drbd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The stack runs real commands (sh): each layer appends to a log, so the order is observable.
func TestStack(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	step := func(name, up string) Step {
		return Step{Name: name, Timeout: 2 * time.Second,
			Up:   []string{"sh", "-c", up + " && echo up " + name + " >>" + log},
			Down: []string{"sh", "-c", "echo down " + name + " >>" + log}}
	}
	lines := func() string {
		b, _ := os.ReadFile(log)
		os.Remove(log)
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
	}
	ctx := context.Background()

	ok := Stack{Run: Exec, Steps: []Step{step("drbd", "true"), step("mount", "true"), step("database", "true")}}
	if err := ok.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lines(); got != "up drbd; up mount; up database" {
		t.Errorf("start: %s", got)
	}
	if err := ok.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lines(); got != "down database; down mount; down drbd" {
		t.Errorf("stop: %s", got)
	}

	// The database fails to start: what was started is taken down, in reverse.
	bad := Stack{Run: Exec, Steps: []Step{step("drbd", "true"), step("mount", "true"), step("database", "false"), step("keystone", "true")}}
	err := bad.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "start database") || !strings.Contains(err.Error(), "rolled back drbd, mount") {
		t.Errorf("failed start: %v", err)
	}
	if got := lines(); got != "up drbd; up mount; down mount; down drbd" {
		t.Errorf("rollback: %s", got)
	}

	// A layer that hangs is cut off at its timeout.
	hang := Stack{Run: Exec, Steps: []Step{step("drbd", "true"), {Name: "database", Up: []string{"sleep", "30"}, Timeout: 200 * time.Millisecond}}}
	t0 := time.Now()
	err = hang.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") {
		t.Errorf("hung start: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("the hung layer held the start for %s", d)
	}
	lines()

	// Stop goes on past a failing layer and reports it.
	stubborn := Stack{Run: Exec, Steps: []Step{step("drbd", "true"), {Name: "mount", Down: []string{"false"}}, step("database", "true")}}
	err = stubborn.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "stop mount") {
		t.Errorf("stop with a failing layer: %v", err)
	}
	if got := lines(); got != "down database; down drbd" {
		t.Errorf("stop past a failure: %s", got)
	}
}

// A start cancelled half-way (the client gone, the agent stopping) still takes down what it
// brought up: the rollback does not inherit the cancelled context.
func TestStackRollbackOutlivesCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran []string
	run := func(c context.Context, name string, args ...string) ([]byte, error) {
		step := strings.Join(args, " ")
		if c.Err() != nil {
			ran = append(ran, step+" (context done)")
			return nil, c.Err()
		}
		ran = append(ran, step)
		if step == "up database" {
			cancel() // the client goes away while the database starts
			return nil, context.Canceled
		}
		return nil, nil
	}
	st := func(name string) Step {
		return Step{Name: name, Up: []string{"x", "up", name}, Down: []string{"x", "down", name}, Timeout: time.Second}
	}
	s := Stack{Run: run, Steps: []Step{st("drbd"), st("mount"), st("database")}}
	if err := s.Start(ctx); err == nil {
		t.Fatal("a cancelled start succeeded")
	}
	want := "up drbd; up mount; up database; down mount; down drbd"
	if got := strings.Join(ran, "; "); got != want {
		t.Fatalf("ran %q, want %q: the rollback must run with a live context", got, want)
	}
}
