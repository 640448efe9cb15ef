package drbd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
)

// Runner runs a tool and returns its standard output: exec in production, a table in tests.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Exec is the Runner that runs the real tools.
func Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			// drbdadm repeats a failed step's drbdsetup line, the shared secret in it.
			return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(Redact(ee.Stderr)))
		}
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

// ReadLocal reads this node's resources the way its DRBD speaks: with an 8.4 kernel module,
// /proc/drbd for the states and `drbdsetup status` for the names; with DRBD 9, `drbdsetup status
// --json`. It says which it used.
func ReadLocal(ctx context.Context, run Runner, procPath string) ([]Resource, string, error) {
	return ReadLocalNamed(ctx, run, procPath, nil)
}

// ReadLocalNamed is ReadLocal with DRBD 8.4's names already known, by minor, from an earlier read:
// when every minor /proc/drbd lists has one, drbdsetup is not run. An agent polling four times a
// second spawned a drbdsetup each time, a fifth of an emulated host's CPU, and a starved host is
// slow to promote.
func ReadLocalNamed(ctx context.Context, run Runner, procPath string, names map[int]string) ([]Resource, string, error) {
	proc, err := os.ReadFile(procPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("%s does not exist: the drbd kernel module is not loaded (modprobe drbd)", procPath)
	case err != nil:
		return nil, "", fmt.Errorf("read %s: %w", procPath, err)
	}
	if strings.HasPrefix(string(proc), "version: 8.") {
		rs, err := ParseProc(string(proc))
		if err != nil {
			return nil, "", err
		}
		if known(rs, names) {
			for i := range rs {
				rs[i].Name = names[rs[i].Minor]
			}
			return rs, "DRBD 8.4: " + procPath, nil
		}
		// /proc/drbd knows minors, not names: drbdsetup status --verbose gives each name's minor.
		if out, err := run(ctx, "drbdsetup", "status", "--verbose"); err == nil {
			if named, err := ParseStatus(string(out)); err == nil {
				nameByMinor(rs, named)
			}
		}
		return rs, "DRBD 8.4: " + procPath, nil
	}
	out, err := run(ctx, "drbdsetup", "status", "--json")
	if err != nil {
		return nil, "", fmt.Errorf("read DRBD 9 state: %w", err)
	}
	rs, err := ParseStatusJSON(out)
	return rs, "DRBD 9: drbdsetup status --json", err
}

// known reports whether names holds a name for every resource's minor.
func known(rs []Resource, names map[int]string) bool {
	if len(names) == 0 {
		return false
	}
	for _, r := range rs {
		if names[r.Minor] == "" {
			return false
		}
	}
	return true
}

// nameByMinor names /proc/drbd's resources from drbdsetup's, matched by minor. Without minors
// in drbdsetup's answer, only a lone resource is named (by position, it cannot be another):
// with several, a name matched by order could put one resource's state under another's name.
func nameByMinor(rs, named []Resource) {
	byMinor := map[int]string{}
	for _, n := range named {
		if n.Minor >= 0 {
			byMinor[n.Minor] = n.Name
		}
	}
	for i := range rs {
		if name, ok := byMinor[rs[i].Minor]; ok {
			rs[i].Name = name
		}
	}
	if len(byMinor) == 0 && len(rs) == 1 && len(named) == 1 {
		rs[0].Name = named[0].Name
	}
}

// Findings are what an operator should know about a resource beyond its state line.
func Findings(r Resource) []string {
	var out []string
	if len(r.Peers) == 0 {
		out = append(out, "no peer connection is configured or it is StandAlone: DRBD will not reconnect by itself")
	}
	for _, p := range r.Peers {
		switch {
		case p.StandAlone() && p.OutOfSync > 0:
			out = append(out, fmt.Sprintf("StandAlone with %d KiB this side changed alone: if the peer also changed while apart, this is a split brain (keyha drbd split-brain)", p.OutOfSync))
		case p.StandAlone():
			out = append(out, "StandAlone: DRBD will not reconnect by itself (drbdadm connect)")
		case !p.Connected():
			out = append(out, fmt.Sprintf("peer not connected (%s): writes are not replicated", p.Connection))
		case p.SyncedPct > 0:
			out = append(out, fmt.Sprintf("resync %s: %.1f%% done, %d KiB to go", p.State(), p.SyncedPct, p.OutOfSync))
		}
		if r.Primary() && p.Connected() && p.Role == "Primary" {
			out = append(out, "both sides Primary")
		}
	}
	if !r.UpToDate() {
		out = append(out, "the disk is "+r.Disk+": this side must not be promoted")
	}
	return out
}
