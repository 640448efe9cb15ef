package agent

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/writer"
)

// Version is reported in gossip and /status; main sets it.
var Version = "dev"

// gossipState is what this agent tells the others after a poll.
func (a *Agent) gossipState(cf *conf, snap galera.Snapshot, health galera.Verdict, w string) membership.State {
	st := membership.State{
		Site: cf.site.Name, Health: string(health.State), NodeState: snap.LocalStateComment, Writer: w,
		LastCommitted: snap.LastCommitted, ClusterUUID: snap.ClusterStateUUID, ConfID: snap.ClusterConfID,
		ConfigHash: shortHash(cf.cluster.Hash), Decision: cf.decision, AgentVersion: Version,
	}
	for _, m := range snap.Members {
		st.View = append(st.View, m.Name)
	}
	if !snap.StalledSince.IsZero() && galera.ValidUUID(snap.GcommUUID) {
		st.Stall, st.StallFor = snap.GcommUUID, snap.At.Sub(snap.StalledSince).Milliseconds()
	}
	return st
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// decide builds writer.Input from this agent's snapshot, its own verdict and the gossip, and runs
// the pure decision. Doubt (no view, no designated row) never makes this node the writer. A peer
// running another cluster file still reports its node's health truly; only a file that decides
// differently (writer.Input.Differ) holds back the choice of a new writer.
func (a *Agent) decide(cf *conf, snap galera.Snapshot, health galera.Verdict, peers map[string]membership.Peer, now time.Time) writer.Decision {
	if snap.ClusterStatus != "Primary" || snap.ErrClass != galera.ErrNone {
		return writer.Decision{Reason: "this node is not in the Primary component: it cannot know the writer"}
	}
	if snap.DesignatedErr != "" {
		return writer.Decision{Reason: "cannot read the designated writer: " + snap.DesignatedErr}
	}
	in := writer.Input{
		Me: cf.site.Name, Designated: snap.Designated.Site, HoldActive: snap.Designated.HoldActive,
		Failback: cf.cluster.Writer.Failback,
	}
	graceOver := now.Sub(a.started) > cf.cluster.Writer.Grace
	mine := cf.decision
	for _, s := range cf.cluster.Sites {
		ws := writer.Site{Name: s.Name, Priority: s.Priority, InView: snap.InView(s.NodeName)}
		if s.Name == cf.site.Name {
			ws.Known, ws.Healthy, ws.Heard = true, health.State == galera.Up, true
		} else if p, ok := peers[s.Name]; ok {
			alive := p.Status == "alive" && p.StateErr == ""
			ws.Heard = alive
			// A peer in this view speaks of it only once its state carries the view's id: until
			// then its health is from before (down, while the cluster was not Primary), and taken
			// as news it would make every agent see the others unfit and claim for itself the
			// moment a Primary component forms again (the nemesis found exactly that). A peer
			// whose mysqld is gone (State.Dead) is news in any view: that node takes no writes.
			ws.Known = !ws.InView || !alive || p.State.ConfID == snap.ClusterConfID || p.State.Dead != ""
			ws.Healthy = alive && p.State.Health == string(galera.Up)
			if alive && p.State.Decision != "" && p.State.Decision != mine { // "": no state heard yet
				in.Differ = append(in.Differ, s.Name)
			}
		} else {
			ws.Known = graceOver
		}
		in.Sites = append(in.Sites, ws)
	}
	return writer.Decide(in)
}

// record makes this site the designated writer in keyha.writer, in the background: it is the
// successor, and recording it keeps the choice sticky. At most one attempt runs at a time.
func (a *Agent) record(cf *conf, snap galera.Snapshot, peers map[string]membership.Peer, reason string) {
	if !a.recording.CompareAndSwap(false, true) {
		return
	}
	if time.Since(a.lastRecord) < 2*time.Second {
		a.recording.Store(false)
		return
	}
	a.lastRecord = time.Now()
	// The wait is armed before the record is made: a poll reading the committed record must
	// not find this site free to answer "writer" before the wait begins.
	tk := takeover{}
	if mayCommit(cf.cluster, snap.Designated.Site, snap, peers) {
		tk.from = snap.Designated.Site
	}
	a.mu.Lock()
	a.takeover = tk
	a.mu.Unlock()
	go func() {
		defer a.recording.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		db, err := adminDB(cf)
		if err != nil {
			a.log.Warn("record this site as writer", "err", err)
			return
		}
		defer db.Close()
		epoch, err := galera.SetWriter(ctx, db, cf.site.Name, snap.Designated.Epoch, 0, cf.site.Name, reason)
		// Any outcome but "the epoch moved" may have committed (a connection lost on the commit
		// leaves it unknown): the wait runs then too, and is moot if this site is not the writer.
		a.mu.Lock()
		if errors.Is(err, galera.ErrEpochMoved) || tk.from == "" {
			a.takeover = takeover{}
		} else {
			tk.until = a.now().Add(handoverWait(cf.cluster))
			a.takeover = tk
		}
		a.mu.Unlock()
		switch {
		case errors.Is(err, galera.ErrEpochMoved):
			a.log.Info("writer record moved meanwhile; deciding again", "site", cf.site.Name)
		case err != nil:
			a.log.Warn("record this site as writer", "err", err)
		default:
			if tk.from != "" {
				a.log.Info("recorded as designated writer; taking the writes once every HAProxy has dropped the writer replaced",
					"epoch", epoch, "reason", reason, "from", tk.from, "until", tk.until.Format("15:04:05.000"))
			} else {
				a.log.Info("recorded as designated writer", "epoch", epoch, "reason", reason)
			}
			select {
			case a.recorded <- struct{}{}:
			default:
			}
		}
	}()
}

func adminDB(cf *conf) (*sql.DB, error) {
	if cf.cluster.Credentials.Admin == "" {
		return nil, errors.New("credentials.admin is not set: the agent needs it to record the writer")
	}
	c, err := cf.cluster.Credential("admin")
	if err != nil {
		return nil, err
	}
	db, err := galera.Open(cf.site.SQL, c, 5*time.Second, 5*time.Second, nil)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	return db, nil
}
