package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/membership"
	"github.com/prometheus/client_golang/prometheus"
)

// Crash failover without Galera's timeout (galera/evict.go says why). Two halves, both in the poll
// loop: this site says when its own mysqld is gone, and evicts members other sites say are gone.

// deadUUID is what this site tells the others of its own node: the member UUID it last had, when
// the process is gone for certain; "" otherwise (running, hung, unreachable: Galera judges).
func (a *Agent) deadUUID(snap galera.Snapshot) string {
	if snap.ErrClass == galera.ErrNone && snap.GcommUUID != "" {
		a.ownUUID = snap.GcommUUID
		return ""
	}
	if snap.Gone {
		return a.ownUUID
	}
	return ""
}

// heardOthers calls f for each other site whose agent is heard with a readable state, with that
// site's node name from the cluster file.
func (a *Agent) heardOthers(peers map[string]membership.Peer, f func(site, node string, st membership.State)) {
	for name, p := range peers {
		if name == a.cfg().site.Name || p.Status != "alive" || p.StateErr != "" {
			continue
		}
		if s, err := a.cfg().cluster.Site(name); err == nil {
			f(name, s.NodeName, p.State)
		}
	}
}

// evictTheDead evicts, from this node, the members other sites' agents report gone.
func (a *Agent) evictTheDead(snap galera.Snapshot, peers map[string]membership.Peer) {
	var claims []galera.DeadClaim
	a.heardOthers(peers, func(site, node string, st membership.State) {
		if st.Dead != "" {
			claims = append(claims, galera.DeadClaim{Site: site, Node: node, UUID: st.Dead})
		}
	})
	now := time.Now()
	if a.claimSeen == nil {
		a.loadDead()
	}
	for u, t := range a.claimSeen {
		if now.Sub(t) > 30*24*time.Hour {
			delete(a.claimSeen, u)
			delete(a.evictTried, u)
		}
	}
	added := false
	for _, c := range claims {
		if _, ok := a.claimSeen[c.UUID]; !ok && galera.ValidUUID(c.UUID) {
			a.claimSeen[c.UUID], added = now, true
		}
	}
	if added {
		a.saveDead()
	}
	// A claim is acted on for evictWindow from when it (re)appeared: a node restarted with its old
	// member UUID (Galera keeps it in gvwstate.dat) joins while its SQL port still refuses, so its
	// agent goes on claiming; evicting it again and again kept it out of the cluster for good
	// (the recovery tests caught it). A claim that stops (the node answered again) starts afresh.
	if a.claimStart == nil {
		a.claimStart = map[string]time.Time{}
	}
	present := map[string]bool{}
	for _, c := range claims {
		present[c.UUID] = true
		if _, ok := a.claimStart[c.UUID]; !ok {
			a.claimStart[c.UUID] = now
		}
	}
	for u := range a.claimStart {
		if !present[u] {
			delete(a.claimStart, u)
		}
	}
	first := a.firstEvictor(peers, "")
	evictions := galera.Evictions(snap, claims)
	for _, e := range evictions {
		if now.Sub(a.claimStart[e.UUID]) > evictWindow {
			continue // past the crash: Galera's own timeouts judge this member now
		}
		seen := a.claimSeen[e.UUID]
		// One survivor evicts: two evicting at the same moment were seen to collide, and the view
		// then took Galera's own 5 s. The others step in if the member is still there a second on.
		if first != a.cfg().site.Name && now.Sub(seen) < evictFallback {
			continue
		}
		if a.attempt(e.UUID, now) {
			go a.evict(e)
		}
	}
	known := map[string]bool{}
	for u := range a.claimSeen {
		known[u] = true
	}
	if len(evictions) == 0 && galera.ClearEvictList(snap, known) && now.Sub(a.lastClear) > 3*time.Second {
		a.lastClear = now
		go a.clearEvictList(snap.EvictList)
	}
}

// clearEvictList empties this node's evict list once what it holds is dead and gone.
func (a *Agent) clearEvictList(list string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := adminDB(a.cfg())
	if err == nil {
		defer db.Close()
		_, err = db.ExecContext(ctx, galera.ClearEvictStatement)
	}
	if err != nil {
		a.log.Warn("empty the evict list (the next eviction may take Galera's own timeout)", "list", list, "err", err)
		return
	}
	a.log.Info("evict list emptied: its members are dead and out of the view", "list", list)
}

// attempt reports whether an eviction of member u may start now, and if so notes it: not while
// one is in flight or has just failed (3 s), rather than again at every poll.
func (a *Agent) attempt(u string, now time.Time) bool {
	if a.evictTried == nil {
		a.loadDead()
	}
	if t, ok := a.evictTried[u]; ok && now.Sub(t) < 3*time.Second {
		return false
	}
	a.evictTried[u] = now
	return true
}

// evictFallback is how long the other survivors leave the eviction to the first one.
const evictFallback = time.Second

// evictWindow is how long after a site first reports its mysqld gone its member may be evicted:
// the crash failover takes well under a second, retries included.
const evictWindow = 10 * time.Second

// firstEvictor is the site that evicts at once: the first of the cluster file but skip whose agent
// is heard and judges its node healthy (up or drain), not reporting its own mysqld gone.
func (a *Agent) firstEvictor(peers map[string]membership.Peer, skip string) string {
	for _, s := range a.cfg().cluster.Sites {
		p, ok := peers[s.Name]
		if !ok || s.Name == skip || p.Status != "alive" || p.StateErr != "" || p.State.Dead != "" {
			continue
		}
		if p.State.Health == "up" || p.State.Health == "drain" {
			return s.Name
		}
	}
	return ""
}

// evictStalled evicts, from this node, a member whose applier holds the cluster in flow control
// (galera.StallEviction decides). One survivor at a time, as for the dead.
func (a *Agent) evictStalled(snap galera.Snapshot, peers map[string]membership.Peer, now time.Time) {
	var claims []galera.StallClaim
	a.heardOthers(peers, func(site, node string, st membership.State) {
		if st.Stall != "" {
			claims = append(claims, galera.StallClaim{Site: site, Node: node, UUID: st.Stall, For: time.Duration(st.StallFor) * time.Millisecond})
		}
	})
	e, ok := galera.StallEviction(snap, claims, a.cfg().cluster.Agent.EvictStalledAfter)
	if !ok {
		return
	}
	if a.firstEvictor(peers, e.Site) != a.cfg().site.Name {
		// The others step in when the first has not acted a second past the window.
		if time.Duration(peers[e.Site].State.StallFor)*time.Millisecond < a.cfg().cluster.Agent.EvictStalledAfter+evictFallback {
			return
		}
	}
	if !a.attempt(e.UUID, now) {
		return
	}
	go a.evictOne(e, "a member whose applier holds the cluster in flow control", "the cluster stays held until its applier moves", a.metrics.stallEvicted)
}

func (a *Agent) evict(e galera.Eviction) {
	a.evictOne(e, "a member whose process is gone", "Galera will expel it after evs.suspect_timeout", a.metrics.evicted)
}

// evictOne evicts e's member from this node, logs what it did and counts it in counter.
func (a *Agent) evictOne(e galera.Eviction, what, onFail string, counter *prometheus.CounterVec) {
	log := a.log.With("member_site", e.Site, "member", e.UUID)
	q, err := galera.EvictStatement(e.UUID)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		db, derr := adminDB(a.cfg())
		if err = derr; err == nil {
			defer db.Close()
			start := time.Now()
			if _, err = db.ExecContext(ctx, q); err == nil {
				log.Info("evicted "+what, "reason", e.Reason, "took", time.Since(start))
				counter.WithLabelValues("ok").Inc()
				return
			}
		}
	}
	log.Warn("evict "+what+"; "+onFail, "err", err)
	counter.WithLabelValues("failed").Inc()
}

// The member UUIDs reported dead are kept in the state dir, so an agent restarted after an
// eviction still knows the evict list holds only the dead, and may empty it.

func (a *Agent) deadPath() string {
	return filepath.Join(a.cfg().cluster.Agent.StateDir, "dead-members-"+a.cfg().site.Name)
}

// loadDead reads the UUIDs known dead; a missing or unreadable file leaves the set empty (the
// list is then not emptied: doubt keeps things as they are).
func (a *Agent) loadDead() {
	a.claimSeen, a.evictTried = map[string]time.Time{}, map[string]time.Time{}
	b, err := os.ReadFile(a.deadPath())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("read the members known dead", "err", err)
		}
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		u, ts, _ := strings.Cut(strings.TrimSpace(line), " ")
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil && galera.ValidUUID(u) {
			a.claimSeen[u] = time.Unix(sec, 0)
		}
	}
}

func (a *Agent) saveDead() {
	var b strings.Builder
	for u, t := range a.claimSeen {
		fmt.Fprintf(&b, "%s %d\n", u, t.Unix())
	}
	if err := atomicfile.WriteFile(a.deadPath(), []byte(b.String()), atomicfile.Options{Mode: 0o644}); err != nil {
		a.log.Warn("save the members known dead", "err", err)
	}
}
