package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Injector carries out one fault.
type Injector interface {
	Inject(ctx context.Context, f Fault) (string, error)
}

// ErrNotRunning: the fault found no mysqld at its site. Galera itself took the node down since
// the fault before (a node that rejoins and cannot be given the state it missed while running
// aborts, restart required): real behaviour, counted apart (FaultResult.Down), not a failure.
var ErrNotRunning = errors.New("mysqld is not running")

// LabScript injects faults with the lab's script: `scripts/lab VERB SITE`. Its start waits until
// the node is Synced again (and fails if it dies on the way), so a later fault never hits a
// cluster still busy with the state transfer of an earlier one. The script exits 4 when kill,
// stop, pause or resume find (or, for resume, leave) no mysqld running.
type LabScript struct{ Path string }

func (l LabScript) Inject(ctx context.Context, f Fault) (string, error) {
	args := []string{f.Verb, f.Site}
	switch {
	case f.Verb == "loss":
		link := f.Site // every link of the site, or the one to From
		if f.From != "" {
			link += ":" + f.From
		}
		args = []string{"wan", "set", link, fmt.Sprintf("loss=%d", f.Loss)}
	case f.Verb == "clear":
		args = []string{"wan", "reset"}
	case f.From != "":
		args = append(args, "--from", f.From)
	}
	limit := 3 * time.Minute
	if f.Verb == "settle" {
		limit = 6 * time.Minute // a resync of the whole device, on the emulated VMs (the lab's bound is 5)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	out, err := exec.CommandContext(ctx, l.Path, args...).CombinedOutput()
	o := strings.TrimSpace(string(out))
	if x := (*exec.ExitError)(nil); errors.As(err, &x) && x.ExitCode() == 4 {
		err = ErrNotRunning
	}
	if err != nil {
		return o, fmt.Errorf("%s %s: %w: %s", l.Path, strings.Join(args, " "), err, o)
	}
	return o, nil
}

// WAN tells whether the lab's sites talk through its WAN router (scripts/lab up --wan), where a
// loss fault can drop packets.
func (l LabScript) WAN(ctx context.Context) (bool, error) {
	out, err := exec.CommandContext(ctx, l.Path, "info").Output()
	if err != nil {
		return false, fmt.Errorf("%s info: %w", l.Path, err)
	}
	var info struct {
		WAN json.RawMessage `json:"wan"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return false, fmt.Errorf("%s info: %w", l.Path, err)
	}
	return len(info.WAN) > 0 && string(info.WAN) != "null", nil
}

// FaultResult is what became of one scheduled fault. Early means it was a repair (start, heal)
// run at once because the load finished before its time; Skipped, a break the load outlived.
type FaultResult struct {
	Fault
	Offset  float64 `json:"offset_seconds"` // when it was started, from the start of the load
	Took    float64 `json:"took_seconds"`
	Early   bool    `json:"early,omitempty"`
	Skipped bool    `json:"skipped,omitempty"`
	Error   string  `json:"error,omitempty"`
	// Down: the site's mysqld was found not running (ErrNotRunning), taken down by Galera after an
	// earlier fault. A repair that finds it so starts it; a break, its repair becomes a start.
	Down string `json:"galera_took_down,omitempty"`
	// Resumed: for a break (kill, stop, partition), seconds from the fault's end until a write through
	// each site's target that started after it was acknowledged. A site absent never resumed.
	Resumed map[string]float64 `json:"writes_resumed_seconds,omitempty"`

	watch *watch
}

// isBreak tells the faults that take something away from the ones that repair.
func isBreak(verb string) bool { return !isRepair(verb) }

// Break tells whether f takes something away (a kill, a cut, a loss burst, an agent killed...)
// rather than repairing one.
func (f Fault) Break() bool { return isBreak(f.Verb) }

// isRepair tells the faults that undo a break.
func isRepair(verb string) bool {
	return verb == "start" || verb == "resume" || verb == "heal" || verb == "settle" || verb == "clear"
}

// runFaults runs the schedule against the clock from start. A fault never runs sooner after the
// previous one's end than the schedule's gap between them: when a start takes long (a state
// transfer), the rest of the schedule slides with it. When the load ends first, the remaining
// repairs run at once and the remaining breaks are skipped (with the repairs of those breaks), so
// the lab is never left broken by a schedule longer than the load.
func runFaults(ctx context.Context, loadDone <-chan struct{}, start time.Time, fs []Fault, inj Injector, rw *resumeWatch, log io.Writer) []FaultResult {
	var out []FaultResult
	finished := false
	skipped := map[string]bool{} // site+kind of breaks that never happened
	prevAt, prevEnd := time.Duration(0), start
	down := map[string]bool{} // sites whose mysqld a break found not running: their repair is a start
	for _, f := range fs {
		if (f.Verb == "start" || f.Verb == "resume") && down[f.Site] {
			f.Verb, down[f.Site] = "start", false
		}
		res := FaultResult{Fault: f}
		kind := map[string]string{"kill": "down", "stop": "down", "start": "down", "pause": "down", "resume": "down",
			"partition": "cut", "heal": "cut", "loss": "loss", "clear": "loss"}[f.Verb]
		if !finished {
			due := start.Add(f.At)
			if d := prevEnd.Add(f.At - prevAt); d.After(due) {
				due = d
			}
			select {
			case <-time.After(time.Until(due)):
			case <-loadDone:
				finished = true
			case <-ctx.Done():
				finished = true
			}
		}
		if finished {
			if !isRepair(f.Verb) || skipped[f.Site+kind] {
				res.Skipped = true
				skipped[f.Site+kind] = true
				out = append(out, res)
				continue
			}
			res.Early = true
		}
		t0 := time.Now()
		res.Offset = t0.Sub(start).Seconds()

		// A repair must run even when the load was cancelled.
		_, err := inj.Inject(context.WithoutCancel(ctx), f)
		if errors.Is(err, ErrNotRunning) {
			res.Down, err = err.Error(), nil
			if isRepair(f.Verb) {
				_, err = inj.Inject(context.WithoutCancel(ctx), Fault{At: f.At, Verb: "start", Site: f.Site})
			} else {
				down[f.Site] = true
			}
		}
		prevAt, prevEnd = f.At, time.Now()
		// The break has taken effect when the lab's command returns (kill waits for the process to
		// be gone): writes are watched from then on.
		if isBreak(f.Verb) && rw != nil && err == nil && res.Down == "" {
			res.watch = rw.add(prevEnd)
		}
		res.Took = prevEnd.Sub(t0).Seconds()
		if err != nil {
			res.Error = err.Error()
		}
		if log != nil {
			status := "done"
			switch {
			case res.Down != "" && isRepair(f.Verb):
				status = "found mysqld not running (Galera took the node down): started it"
			case res.Down != "":
				status = "found mysqld not running (Galera took the node down): its repair starts it"
			}
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			fmt.Fprintf(log, "\nfault %s at %.1fs: %s (%.1fs)\n", f, res.Offset, status, res.Took)
		}
		out = append(out, res)
	}
	return out
}
