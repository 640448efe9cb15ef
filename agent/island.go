package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/atomicfile"
)

// island is this site's island mode (docs/keystone.md): while the node is outside the Primary
// component and its data is young enough, the agent makes it read-only with dirty reads allowed
// and answers its HAProxy's island check. The poll loop's alone, but for cur (under a.mu).
type island struct {
	lastPrimary time.Time     // the last poll that found the node in the Primary component
	cur         galera.Island // what the island check answers
	applied     bool          // the node is read-only with dirty reads, by this agent's hand
	endedAt     time.Time     // when the island check stopped answering yes, applied still true
	loaded      bool          // applied was read back from the state dir
	failedAt    time.Time     // the last failed attempt to enter: retried every islandRetry
	failed      string        // its error, logged when it changes
}

// islandRetry spaces attempts to make the node read-only that fail (a missing privilege, a node
// that does not answer): each is logged once, retried quietly.
const islandRetry = 5 * time.Second

// islandFile marks, in the state dir, a node this agent made read-only: a restarted agent must
// still undo it, or the node would stay drained for good.
func (a *Agent) islandFile() string {
	return filepath.Join(a.cfg().cluster.Agent.StateDir, "island-"+a.cfg().site.Name)
}

// islandStep judges island mode from snap and moves the node in or out of it. Entering, the node
// is made read-only with dirty reads before the check answers yes; leaving, the check answers no
// at once, and the node takes writes again only after its HAProxy has dropped the island server
// (handoverWait) and it is back in the Primary component and Synced, so no write lands on a node
// that is not the writer.
func (a *Agent) islandStep(ctx context.Context, cf *conf, snap galera.Snapshot, now time.Time) {
	is := &a.isl
	if !is.loaded {
		is.loaded = true
		if _, err := os.Stat(a.islandFile()); err == nil {
			is.applied = true
			a.log.Warn("island: the node was left read-only by an earlier run; it is undone once the node may take writes again")
		}
	}
	if snap.ErrClass == galera.ErrNone && snap.ClusterStatus == "Primary" && !snap.At.IsZero() {
		is.lastPrimary = snap.At
	}
	j := galera.Island{Reason: "island mode is off (island.enabled)"}
	if cf.cluster.Island.Enabled {
		j = galera.JudgeIsland(snap, is.lastPrimary, cf.cluster.Island.MaxStale, cf.policy.StaleAfter, now)
	}
	switch {
	case j.Active && !is.applied:
		if !is.failedAt.IsZero() && now.Sub(is.failedAt) < islandRetry {
			j = galera.Island{Age: j.Age, Reason: "island: cannot make the node read-only: " + is.failed}
			break
		}
		if err := a.setIsland(ctx, true); err != nil {
			if err.Error() != is.failed {
				a.log.Error("island: cannot make the node read-only with dirty reads; not serving as an island (retried every 5 s)", "err", err)
			}
			is.failedAt, is.failed = now, err.Error()
			j = galera.Island{Age: j.Age, Reason: "island: cannot make the node read-only: " + err.Error()}
			break
		}
		is.applied, is.failedAt, is.failed = true, time.Time{}, ""
		a.log.Warn("island: this site is cut off from the Primary component; its node serves reads alone, read-only", "data_age", j.Age.Round(time.Second), "max_stale", cf.cluster.Island.MaxStale)
	case j.Active:
		is.endedAt = time.Time{}
	case is.applied:
		if is.endedAt.IsZero() {
			is.endedAt = now
			a.log.Warn("island: ended; the node takes writes again once its HAProxy has dropped the island and it is Synced", "reason", j.Reason)
		}
		back := snap.ErrClass == galera.ErrNone && (snap.ClusterStatus != "Primary" || snap.LocalState == galera.StateSynced)
		if now.Sub(is.endedAt) >= handoverWait(cf.cluster) && back {
			if err := a.setIsland(ctx, false); err != nil {
				a.log.Warn("island: undo read-only and dirty reads; retrying at the next poll", "err", err)
				break
			}
			is.applied, is.endedAt = false, time.Time{}
			a.log.Info("island: left; the node is writable again (it takes writes only if chosen as the writer)")
		}
	}
	a.mu.Lock()
	is.cur = j
	a.mu.Unlock()
	a.metrics.island(j)
}

// setIsland sets or undoes the node's island settings, and records it in the state dir first
// (a crash between the two leaves a mark that only costs a harmless undo).
func (a *Agent) setIsland(ctx context.Context, on bool) error {
	if on {
		if err := atomicfile.WriteFile(a.islandFile(), []byte("read_only=ON wsrep_dirty_reads=ON\n"), atomicfile.Options{Mode: 0o600}); err != nil {
			return err
		}
	}
	db, err := adminDB(a.cfg())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	val := "OFF"
	if on {
		val = "ON"
	}
	// read_only first on the way in (no client write from then on), last on the way out.
	stmts := []string{"SET GLOBAL read_only=" + val, "SET GLOBAL wsrep_dirty_reads=" + val}
	if !on {
		stmts[0], stmts[1] = stmts[1], stmts[0]
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if !on {
		if err := os.Remove(a.islandFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Island returns what the island check answers now.
func (a *Agent) Island() galera.Island {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.isl.cur
}
