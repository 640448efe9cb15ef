package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/drbd"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/healthcheck"
	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/membership"
)

// DRBDAgent is a site's agent in DRBD mode. At a data site it reads the local resource, pings the
// database when Primary, hears the other agents by gossip, and runs drbd.Decide: it promotes and
// demotes through the stack of the cluster file. At the witness it only gossips and votes for
// fences. HAProxy's checks are "up" only on a Primary with an UpToDate disk and a database that
// answers.
type DRBDAgent struct {
	cluster *config.Cluster
	site    *config.Site
	peer    string // the other data site; "" at the witness
	log     *slog.Logger
	timing  drbd.Timing
	stack   drbd.Stack
	run     drbd.Runner
	proc    string
	gossip  *membership.Gossip
	reg     *prometheus.Registry
	actions *prometheus.CounterVec
	served  func(kind string) func()
	tracker drbd.Tracker
	beats   membership.Beats // the other agents' beats: who still speaks
	beat    atomic.Uint64    // this agent's, counted into every message it publishes
	probe   *hostProbe       // the peer's host, asked when its agent goes quiet; nil at the witness
	maint   *Maint
	act     sync.Mutex   // one stack action at a time: the loop's or an operator's
	minor   atomic.Int64 // the resource's minor + 1, once drbdsetup has named it
	namedAt atomic.Int64 // when drbdsetup last named it (unix ns): until renameEvery later, /proc/drbd alone is read
	dbMu    sync.Mutex
	db      *sql.DB // one connection to the local database, kept between pings that succeed

	mu      sync.RWMutex
	res     drbd.Resource
	readErr error
	polled  bool // readErr speaks of a read that happened
	dbUp    bool
	verdict drbd.Verdict
	heard   map[string]string
	fence   string     // the site this agent fenced
	ack     string     // the fence it holds for another
	outdone string     // the fence it last outdated its disk for
	inMnt   bool       // an operator holds this site: no automatic promotion
	link    drbd.Link  // how the replication link is protected (read every 15 s)
	linkMu  sync.Mutex // a read of the link never sees it half-dropped (dropLink)
	saveMu  sync.Mutex
	saved   fences // the fence and ack last written to the state dir; under saveMu
}

// fences is what a DRBD agent keeps across its restarts: the peer it fenced and the fence it holds
// for another. A witness that forgot, on a restart, the fence it held for a site gone silent would
// let the fenced side, which wrote nothing since, be promoted over the writes it missed.
type fences struct {
	Fence string `json:"fence"`
	Ack   string `json:"ack"`
}

func (a *DRBDAgent) fencesPath() string {
	return filepath.Join(a.cluster.Agent.StateDir, "drbd-fences-"+a.site.Name+".json")
}

// loadFences restores the fences held before a restart.
func (a *DRBDAgent) loadFences() {
	b, err := os.ReadFile(a.fencesPath())
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var f fences
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		a.log.Error("cannot restore the DRBD fences held before this start; check the file, or delete it if this site held none", "path", a.fencesPath(), "err", err)
		return
	}
	a.fence, a.ack, a.saved = f.Fence, f.Ack, f
	if f != (fences{}) {
		a.log.Warn("DRBD fences restored from the state dir", "fence", f.Fence, "ack", f.Ack)
	}
}

// saveFences writes the fences when they changed; called with the values read under a.mu.
func (a *DRBDAgent) saveFences(f fences) {
	if f == a.saved {
		return
	}
	b, _ := json.Marshal(f)
	if err := atomicfile.WriteFile(a.fencesPath(), b, atomicfile.Options{Mode: 0o644}); err != nil {
		a.log.Error("save the DRBD fences: a restart of this agent would forget them", "err", err)
		return
	}
	a.saved = f
}

// DRBDDetail is what /status shows in DRBD mode.
type DRBDDetail struct {
	Resource drbd.Resource     `json:"resource"`
	ReadErr  string            `json:"read_error,omitempty"`
	DBUp     bool              `json:"database_answers"`
	Action   drbd.Action       `json:"action"`
	Heard    map[string]string `json:"heard"` // site -> the DRBD role its agent reports
	Fence    string            `json:"fence,omitempty"`
	Ack      string            `json:"ack,omitempty"`
	// Maintenance: an operator holds this site (keyha agent maint on): it is never promoted by
	// the agent nor by a switchover; a Primary keeps serving, and still demotes without a majority.
	Maintenance bool       `json:"maintenance"`
	Version     string     `json:"agent_version"`
	Link        *drbd.Link `json:"link,omitempty"` // data sites: DRBD's authentication, and whether WireGuard carries the link
}

// NewDRBD builds the DRBD-mode agent for one site.
func NewDRBD(c *config.Cluster, siteName string, log *slog.Logger) (*DRBDAgent, error) {
	site, err := c.Site(siteName)
	if err != nil {
		return nil, err
	}
	a := &DRBDAgent{cluster: c, site: site, log: log.With("site", site.Name, "mode", "drbd"), run: drbd.Exec, proc: "/proc/drbd",
		timing: drbd.Timing{DemoteAfter: c.DRBD.DemoteAfter, DemoteTakes: c.DRBD.DemoteTakes, PromoteAfter: c.DRBD.PromoteAfter, FenceTimeout: c.DRBD.FenceTimeout,
			Notice: membership.NoticeSpread(c.Gossip.Preset, len(c.Sites))}}
	if !site.Witness {
		for _, s := range c.DataSites() {
			if s != site.Name {
				a.peer = s
			}
		}
		if p, err := c.Site(a.peer); err == nil && p.Agent != "" {
			a.probe = newHostProbe(p.Agent)
		}
	}
	for _, st := range c.DRBD.Stack {
		step := drbd.Step{Name: st.Name, Timeout: st.Timeout}
		if st.Up != "" {
			step.Up = []string{"sh", "-c", st.Up}
		}
		if st.Down != "" {
			step.Down = []string{"sh", "-c", st.Down}
		}
		a.stack.Steps = append(a.stack.Steps, step)
	}
	a.stack.Run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return a.run(ctx, name, args...)
	}
	a.maint = NewMaint(c.Agent.StateDir, site.Name)
	a.loadFences()
	a.metricsInit()
	return a, nil
}

func (a *DRBDAgent) metricsInit() {
	a.reg = prometheus.NewRegistry()
	gauge := func(name, help string, f func() bool) {
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return b2f(f()) }))
	}
	gauge("keyha_drbd_up", "1 when HAProxy may send traffic here (Primary, UpToDate, database answers)", func() bool { return a.Report().State == healthcheck.StateUp })
	gauge("keyha_drbd_primary", "1 when the local resource is Primary", func() bool { a.mu.RLock(); defer a.mu.RUnlock(); return a.res.Primary() })
	gauge("keyha_drbd_disk_uptodate", "1 when the local disk is UpToDate", func() bool { a.mu.RLock(); defer a.mu.RUnlock(); return a.res.UpToDate() })
	gauge("keyha_drbd_io_frozen", "1 when the local device's I/O is suspended (fencing waiting on its handler, or an operator's suspend-io): writes hang", func() bool {
		a.mu.RLock()
		defer a.mu.RUnlock()
		return a.res.Suspended
	})
	gauge("keyha_drbd_split_brain", "1 when the local resource looks split from its peer (DRBD dropped the connection after a split brain): keyha drbd split-brain", func() bool {
		a.mu.RLock()
		defer a.mu.RUnlock()
		sb, _ := drbd.SplitBrain(a.res)
		return sb
	})
	gauge("keyha_drbd_peer_probe_works", "1 when the peer's host answers this agent's TCP probe of its agent-check port: a dead Primary is then dropped without waiting for DRBD's ping timeout", func() bool {
		return a.probe != nil && a.probe.works.Load()
	})
	gauge("keyha_drbd_majority", "1 when this agent hears a majority of the sites' agents", func() bool {
		a.mu.RLock()
		defer a.mu.RUnlock()
		return drbd.Majority(len(a.heard), len(a.cluster.Sites))
	})
	a.actions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keyha_drbd_actions_total", Help: "actions on the DRBD stack and link (promote, demote, disconnect, resume), by result"}, []string{"action", "result"})
	a.reg.MustRegister(a.actions)
	tlsExpiry(a.reg, a.cluster, a.site.Name)
	a.served = shared(a.reg, "drbd", func() bool { a.mu.RLock(); defer a.mu.RUnlock(); return a.polled && a.readErr == nil },
		func() string { return a.cluster.Hash })
}

// Report answers every check from the latest verdict.
func (a *DRBDAgent) Report() healthcheck.Report {
	a.mu.RLock()
	defer a.mu.RUnlock()
	r := healthcheck.Report{Site: a.site.Name, State: healthcheck.StateDown, Health: healthcheck.StateDown, Reason: a.verdict.Reason}
	switch {
	case a.site.Witness:
		r.Role, r.Reason = "witness", "witness: no database here"
	case a.res.Primary():
		r.Role = "primary"
	default:
		r.Role = "secondary"
	}
	if a.verdict.Up && !a.site.Witness {
		r.State, r.Health, r.Weight = healthcheck.StateUp, healthcheck.StateUp, 100
	}
	if r.Reason == "" {
		r.Reason = "starting: no reading yet"
	}
	var readErr string
	if a.readErr != nil {
		readErr = a.readErr.Error()
	}
	d := DRBDDetail{Resource: a.res, ReadErr: readErr, DBUp: a.dbUp, Action: a.verdict.Action, Heard: a.heard,
		Fence: a.fence, Ack: a.ack, Maintenance: a.inMnt, Version: Version}
	if !a.site.Witness {
		l := a.link
		d.Link = &l
	}
	r.Detail = d
	return r
}

// Metrics gives the agent's Prometheus registry.
func (a *DRBDAgent) Metrics() *prometheus.Registry { return a.reg }

// Run gossips, polls and serves until ctx is cancelled.
func (a *DRBDAgent) Run(ctx context.Context) error {
	if err := a.timing.Check(); err != nil {
		return err
	}
	ls, err := listen(ctx, a.cluster, a.site, a.log)
	if err != nil {
		return err
	}
	defer ls.close()
	defer func() {
		a.dbMu.Lock()
		defer a.dbMu.Unlock()
		if a.db != nil {
			a.db.Close()
		}
	}()
	if a.gossip, err = startGossip(ctx, a.cluster, a.site, a.log, a.reg, nil); err != nil {
		return err
	}
	a.log.Info("agent started", "resource", a.cluster.DRBD.Resource, "peer", a.peer, "witness", a.site.Witness,
		"demote_after", a.timing.DemoteAfter, "promote_after", a.timing.PromoteAfter)

	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { every(ctx, a.cluster.Agent.PollInterval, a.tick); return nil })
	// The beat goes on while a promotion or a demotion holds the poll loop for seconds.
	eg.Go(func() error {
		every(ctx, a.cluster.Agent.PollInterval, func(context.Context) { a.publish() })
		return nil
	})
	if !a.site.Witness {
		// Often enough that a start racing DRBD's own (drbdsetup show failing) soon reads the
		// fencing policy: until then a promotion waits for the clock.
		eg.Go(func() error { every(ctx, 15*time.Second, a.readLink); return nil })
		eg.Go(func() error { every(ctx, 10*time.Second, a.calibrate); return nil })
	}
	ls.serve(ctx, eg, a, a.log, a.served, a.reg, a.controlRoutes)
	err = eg.Wait()
	a.log.Info("agent stopped")
	return err
}

// readLink reads how the replication link is protected (keyha drbd check-config judges it): off
// the poll loop, since drbdsetup can be slow on a busy node.
func (a *DRBDAgent) readLink(ctx context.Context) {
	a.linkMu.Lock()
	defer a.linkMu.Unlock()
	a.readLinkLocked(ctx)
}

func (a *DRBDAgent) readLinkLocked(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l := drbd.ReadLink(ctx, a.run, a.cluster.DRBD.Resource)
	a.mu.Lock()
	a.link = l
	a.mu.Unlock()
}

// calibrate tries the host probe on the peer while its agent is heard: a probe that does not reach
// a live peer (a firewall dropping it) must not call a quiet one dead.
func (a *DRBDAgent) calibrate(ctx context.Context) {
	a.mu.RLock()
	_, heard := a.heard[a.peer]
	a.mu.RUnlock()
	if a.probe == nil || !heard || a.quiet(a.peer) {
		return
	}
	works, changed := a.probe.calibrate(ctx)
	switch {
	case changed && works:
		a.log.Info("the peer's host answers a TCP probe of its agent-check port: a dead Primary's link is dropped without waiting for DRBD's ping timeout", "probe", a.probe.addr)
	case changed:
		a.log.Warn("the peer's host does not answer a TCP connection to its agent-check port while its agent is heard: "+
			"let this site reach it (a firewall that drops it); until then a dead Primary is noticed by DRBD's ping timeout alone", "probe", a.probe.addr)
	}
}

// quiet reports whether site's agent has not been heard to beat for quietAfter: long enough to ask
// whether its host lives, not yet to count it silent.
func (a *DRBDAgent) quiet(site string) bool {
	if a.gossip == nil {
		return false
	}
	p, ok := a.gossip.Peers()[site]
	if !ok || p.Status != "alive" || p.StateErr != "" {
		return true
	}
	return !a.beats.Fresh(site, p.State.Beat, time.Now(), a.quietAfter())
}

// quietAfter: four polls without a beat, at least a second.
func (a *DRBDAgent) quietAfter() time.Duration {
	return max(4*a.cluster.Agent.PollInterval, time.Second)
}

// read returns the configured resource as DRBD reports it here.
func (a *DRBDAgent) read(ctx context.Context) (drbd.Resource, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cluster.Agent.PollTimeout)
	defer cancel()
	var known map[int]string
	if m := a.minor.Load(); m > 0 && time.Since(time.Unix(0, a.namedAt.Load())) < renameEvery {
		known = map[int]string{int(m - 1): a.cluster.DRBD.Resource}
	}
	rs, _, err := drbd.ReadLocalNamed(ctx, a.run, a.proc, known)
	if err != nil {
		return drbd.Resource{Role: "Unknown", Disk: "DUnknown"}, err
	}
	// With 8.4, names come from `drbdsetup status`, which can miss the poll's deadline on a busy
	// node; /proc/drbd then names the resource by its minor. The minor, once learned, stands in.
	for _, r := range rs {
		if r.Name == a.cluster.DRBD.Resource {
			if known == nil {
				a.minor.Store(int64(r.Minor) + 1)
				a.namedAt.Store(time.Now().UnixNano())
			}
			return r, nil
		}
	}
	for _, r := range rs {
		if m := a.minor.Load(); m > 0 && int64(r.Minor) == m-1 && r.Name == fmt.Sprintf("minor%d", r.Minor) {
			r.Name = a.cluster.DRBD.Resource
			return r, nil
		}
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = fmt.Sprintf("%q (minor %d)", r.Name, r.Minor)
	}
	return drbd.Resource{Role: "Unknown", Disk: "DUnknown"}, fmt.Errorf("DRBD reports no resource %s here, only %v (drbdadm up %s)", a.cluster.DRBD.Resource, names, a.cluster.DRBD.Resource)
}

// renameEvery: how long the resource's minor, once drbdsetup named it, is trusted alone (a
// resource taken down and brought up again under another minor is found at the next naming).
const renameEvery = 30 * time.Second

// ping reports whether the database answers SELECT 1 within the poll timeout. The connection is
// kept from one ping to the next while they succeed: a new TLS session at every poll cost a
// starved host more than the poll timeout, and the Primary flapped down while its database
// served (the DRBD demo). A failed ping closes it, and the next opens a new one with the
// credentials read again (a restarted mysqld, a new Primary, a password changed).
func (a *DRBDAgent) ping(ctx context.Context) bool {
	a.dbMu.Lock()
	defer a.dbMu.Unlock()
	t := a.cluster.Agent.PollTimeout
	if a.db == nil {
		cred, err := a.cluster.Credential("monitor")
		if err != nil {
			a.log.Warn("read the monitor credentials", "err", err)
			return false
		}
		if a.db, err = galera.Open(a.site.SQL, cred, t, t, nil); err != nil {
			return false
		}
		galera.OneConn(a.db)
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	var one int
	if err := a.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		a.db.Close()
		a.db = nil
		return false
	}
	return true
}

// hear returns the agents heard (this one included) with the DRBD role each reports, and their
// fence votes.
func (a *DRBDAgent) hear(self string) (map[string]string, drbd.Fences) {
	heard := map[string]string{a.site.Name: self}
	fences := drbd.Fences{}
	if a.gossip == nil {
		return heard, fences
	}
	for name, p := range a.gossip.Peers() {
		if name == a.site.Name || p.Status != "alive" || p.StateErr != "" || !a.beats.Fresh(name, p.State.Beat, time.Now(), a.silentAfter()) {
			continue
		}
		heard[name] = p.State.Role
		fences[name] = drbd.FenceVote{Fence: p.State.Fence, Ack: p.State.Ack}
	}
	return heard, fences
}

func (a *DRBDAgent) publish() {
	a.mu.RLock()
	st := membership.State{Site: a.site.Name, Health: healthcheck.StateDown, Role: a.res.Role, Disk: a.res.Disk, Fence: a.fence, Ack: a.ack,
		ConfigHash: shortHash(a.cluster.Hash), AgentVersion: Version, Beat: a.beat.Add(1)}
	if a.verdict.Up {
		st.Health = healthcheck.StateUp
	}
	if a.site.Witness {
		st.Role, st.Disk = "", ""
	}
	a.mu.RUnlock()
	// Kept before it is told: what the others hear, a restart must not forget.
	a.saveMu.Lock()
	a.saveFences(fences{Fence: st.Fence, Ack: st.Ack})
	a.saveMu.Unlock()
	if a.gossip == nil {
		return
	}
	if err := a.gossip.Publish(st); err != nil {
		a.log.Warn("publish gossip state", "err", err)
	}
}

// view reads everything Decide needs, now. planned is a switchover's target, or "".
func (a *DRBDAgent) view(ctx context.Context, planned string) (drbd.View, error) {
	res, err := a.read(ctx)
	db := err == nil && res.Primary() && a.ping(ctx)
	heard, fences := a.hear(res.Role)
	peerLink := res.PeerLink()
	_, peerHeard := heard[a.peer]
	now := time.Now()
	gone, nomaj := a.tracker.Observe(now, peerLink || peerHeard, drbd.Majority(len(heard), len(a.cluster.Sites)))
	frozen := a.tracker.Frozen(now, err == nil && res.Suspended)
	a.mu.RLock()
	freezes := a.link.Freezes()
	a.mu.RUnlock()
	// The peer's host is probed only while DRBD still calls a quiet peer Primary and this site
	// could take over: two misses in a row, and the link is dropped (drbd.Decide).
	hostDown := false
	if a.probe != nil {
		if planned == "" && err == nil && freezes && !res.Primary() && res.UpToDate() && res.PeerPrimary() && peerLink && a.quiet(a.peer) {
			hostDown = a.probe.down(ctx)
		} else {
			a.probe.misses.Store(0)
		}
	}
	inMnt, merr := a.maint.On()
	if merr != nil {
		a.log.Warn("read maintenance flag; keeping the site in maintenance (no promotion)", "err", merr)
		inMnt = true // doubt about the operator's intent: hold
	}

	a.mu.Lock()
	a.res, a.readErr, a.polled, a.dbUp, a.heard, a.inMnt = res, err, true, db, heard, inMnt
	a.ack = drbd.NextAck(a.site.Name, a.ack, fences)
	if a.fence != "" && peerLink && (res.Peers[0].Disk == "UpToDate" || res.Peers[0].Role == "Primary") {
		a.log.Info("fence lifted: the peer is connected again, UpToDate or Primary", "peer", a.fence)
		a.fence = ""
	}
	held := a.fence == a.peer && drbd.Held(a.site.Name, a.peer, len(a.cluster.Sites), fences)
	peerHeld := fences[a.peer].Fence == a.site.Name && drbd.Held(a.peer, a.site.Name, len(a.cluster.Sites), fences)
	a.mu.Unlock()
	return drbd.View{Site: a.site.Name, Peer: a.peer, Sites: len(a.cluster.Sites), Local: res, Heard: heard,
		PeerGoneFor: gone, NoMajorityFor: nomaj, DBUp: db, Planned: planned, FencedBy: drbd.FencedBy(a.site.Name, fences), Maintenance: inMnt,
		FenceHeld: held, PeerFenceHeld: peerHeld, Freezes: freezes, PeerHostDown: hostDown, FrozenFor: frozen}, err
}

func (a *DRBDAgent) tick(ctx context.Context) {
	if a.site.Witness {
		heard, fences := a.hear("")
		a.mu.Lock()
		a.heard, a.ack = heard, drbd.NextAck(a.site.Name, a.ack, fences)
		a.verdict = drbd.Verdict{Reason: "witness: votes for fences, holds no data"}
		a.mu.Unlock()
		a.publish()
		return
	}
	v, err := a.view(ctx, "")
	verdict := drbd.Decide(v, a.timing)
	if err != nil {
		verdict = drbd.Verdict{Action: drbd.None, Reason: "cannot read DRBD: " + err.Error()}
	}
	if verdict.Action == drbd.Fence {
		// Promotion on the fence: published now, held once the witness acknowledges it, and
		// the next tick promotes. `drbdadm primary` then runs the fence-peer handler, which
		// finds the fence already held.
		a.mu.Lock()
		if a.fence != a.peer {
			a.fence = a.peer
			a.log.Warn("fencing the peer: asking the other agents to hold the fence", "peer", a.peer, "reason", verdict.Reason)
		}
		a.mu.Unlock()
	}
	a.setVerdict(verdict)
	a.publish()
	if ctx.Err() != nil {
		return
	}
	switch verdict.Action {
	case drbd.Promote, drbd.Demote, drbd.Disconnect, drbd.Resume:
		if a.act.TryLock() {
			func() {
				defer a.act.Unlock()
				a.perform(ctx, verdict)
			}()
		}
	}
	a.outdate(ctx, v)
}

func (a *DRBDAgent) setVerdict(v drbd.Verdict) {
	a.mu.Lock()
	prev := a.verdict
	a.verdict = v
	a.mu.Unlock()
	if prev.Up != v.Up || prev.Action != v.Action || figures.ReplaceAllString(prev.Reason, "#") != figures.ReplaceAllString(v.Reason, "#") {
		a.log.Info("verdict", "up", v.Up, "action", v.Action, "reason", v.Reason)
	}
}

// figures are the numbers in a verdict's reason ("silent 3.2s", "hears 1 of 3"): a reason whose
// figures alone changed is the same verdict, not worth a log line every poll.
var figures = regexp.MustCompile(`[0-9][0-9.]*(ms|s|m)?`)

// perform runs a promotion or a demotion through the stack. A demotion goes as far as it can.
func (a *DRBDAgent) perform(ctx context.Context, v drbd.Verdict) error {
	t0 := time.Now()
	var err error
	switch v.Action {
	case drbd.Promote:
		a.log.Warn("promoting", "reason", v.Reason)
		err = a.stack.Start(ctx)
	case drbd.Disconnect:
		a.log.Warn("dropping the replication link", "reason", v.Reason)
		err = a.dropLink(ctx)
	case drbd.Resume:
		a.log.Warn("resuming I/O", "reason", v.Reason)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err = a.run(rctx, "drbdadm", "resume-io", a.cluster.DRBD.Resource)
	case drbd.Demote:
		a.log.Warn("demoting", "reason", v.Reason)
		// A demotion must not be cut short by the agent's own shutdown.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timing.DemoteTakes)
		defer cancel()
		err = a.stack.Stop(dctx)
	default:
		return nil
	}
	result := "ok"
	if err != nil {
		result = "failed"
		a.log.Error(string(v.Action)+" failed", "err", err, "seconds", time.Since(t0).Seconds())
	} else {
		a.log.Warn(string(v.Action)+" done", "seconds", time.Since(t0).Seconds())
	}
	a.actions.WithLabelValues(string(v.Action), result).Inc()
	return err
}

// dropLink disconnects the replication link at once (--force: no word with a peer that cannot
// answer), then listens again (connect), so that the peer, back, reconnects and resyncs. The link's
// policy is read again after, never between: StandAlone, it names no peer.
func (a *DRBDAgent) dropLink(ctx context.Context) error {
	a.linkMu.Lock()
	defer a.linkMu.Unlock()
	defer a.readLinkLocked(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r := a.cluster.DRBD.Resource
	// drbdadm repeats a failed step's drbdsetup line, the shared secret in it: redacted.
	if out, err := a.run(ctx, "drbdadm", "disconnect", "--force", r); err != nil {
		return fmt.Errorf("drbdadm disconnect --force %s: %w: %s", r, err, drbd.Redact(out))
	}
	if out, err := a.run(ctx, "drbdadm", "connect", r); err != nil {
		return fmt.Errorf("drbdadm connect %s after dropping the link (run it by hand, or the peer cannot reconnect): %w: %s", r, err, drbd.Redact(out))
	}
	return nil
}

// outdate marks this disk Outdated in DRBD's own metadata once a fence against this site is
// heard, so that it stays unpromotable even if every agent restarts and forgets the fence.
func (a *DRBDAgent) outdate(ctx context.Context, v drbd.View) {
	r := v.Local
	if v.FencedBy == "" || r.Primary() || !r.UpToDate() || r.PeerLink() {
		return
	}
	a.mu.RLock()
	done := a.outdone == v.FencedBy
	a.mu.RUnlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.run(ctx, "drbdadm", "outdate", a.cluster.DRBD.Resource); err != nil {
		a.log.Warn("outdate this disk after a fence", "fenced_by", v.FencedBy, "err", err)
		return
	}
	a.log.Warn("disk outdated: fenced by the other site", "fenced_by", v.FencedBy)
	a.mu.Lock()
	a.outdone = v.FencedBy
	a.mu.Unlock()
}

// The control endpoints of DRBD mode (signed like every control request):
//
//	POST /drbd/fence?peer=SITE   DRBD's fence-peer handler, through keyha drbd fence-peer
//	POST /drbd/demote?to=SITE    a switchover's first half, on the Primary
//	POST /drbd/promote           its second half, on the target
//	POST /maint?on=1|0&reason=   hold this site: no promotion, automatic or planned
//
// and the Keystone key endpoints (keys.go).
func (a *DRBDAgent) controlRoutes(mux *http.ServeMux) {
	g := newGuard(a.cluster, a.site.Name, a.log)
	mux.HandleFunc("POST /drbd/fence", g.handleAs(false, a.fenceReq))
	mux.HandleFunc("POST /drbd/demote", g.handle(func(r *http.Request) (any, string, error) {
		return a.planned(r.Context(), r.URL.Query().Get("to"), drbd.Demote)
	}))
	mux.HandleFunc("POST /drbd/promote", g.handle(func(r *http.Request) (any, string, error) { return a.planned(r.Context(), a.site.Name, drbd.Promote) }))
	mux.HandleFunc("POST /maint", g.handle(func(r *http.Request) (any, string, error) {
		if a.site.Witness {
			return nil, "", fmt.Errorf("%s is the witness: it holds no data, there is nothing to hold", a.site.Name)
		}
		return nil, "", a.maint.Set(r.URL.Query().Get("on") == "1", r.URL.Query().Get("reason"))
	}))
	keyRepos{guard: g, site: func() *config.Site { return a.site }}.routes(mux)
}

// fenceReq holds a fence against peer and waits until a majority holds it too.
func (a *DRBDAgent) fenceReq(r *http.Request) (any, string, error) {
	peer := r.URL.Query().Get("peer")
	if peer == "" {
		peer = a.peer
	}
	if a.site.Witness || peer != a.peer {
		return nil, "", fmt.Errorf("site %s cannot fence %q: a data site fences its peer (%s)", a.site.Name, peer, a.peer)
	}
	a.mu.Lock()
	a.fence = peer
	a.mu.Unlock()
	a.log.Warn("fencing the peer: asking the other agents to hold the fence", "peer", peer)
	deadline := time.Now().Add(a.cluster.DRBD.FenceTimeout)
	for {
		a.publish()
		a.mu.RLock()
		role := a.res.Role
		a.mu.RUnlock()
		_, fences := a.hear(role)
		if drbd.Held(a.site.Name, peer, len(a.cluster.Sites), fences) {
			a.log.Warn("fence held by a majority", "peer", peer)
			return map[string]string{"fenced": peer}, "", nil
		}
		if time.Now().After(deadline) {
			// Withdrawn: DRBD keeps this side frozen, and a fence published later, held once the
			// other side has taken over, would keep that side from ever being promoted again.
			a.mu.Lock()
			a.fence = ""
			a.mu.Unlock()
			a.publish()
			return nil, "", fmt.Errorf("no majority holds the fence against %s after %s: DRBD keeps I/O frozen here", peer, a.cluster.DRBD.FenceTimeout)
		}
		select {
		case <-r.Context().Done():
			return nil, "", r.Context().Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// planned runs one half of a switchover: Decide with the switchover's target must agree.
func (a *DRBDAgent) planned(ctx context.Context, to string, want drbd.Action) (any, string, error) {
	if a.site.Witness {
		return nil, "", errors.New("the witness holds no data: switch over between the data sites")
	}
	if to != a.site.Name && to != a.peer {
		return nil, "", fmt.Errorf("switchover target %q is not a data site (%s, %s)", to, a.site.Name, a.peer)
	}
	a.act.Lock()
	defer a.act.Unlock()
	v, err := a.view(ctx, to)
	if err != nil {
		return nil, "", err
	}
	verdict := drbd.Decide(v, a.timing)
	if want == drbd.Demote && !v.Local.Primary() {
		return map[string]string{"state": "already Secondary"}, "", nil
	}
	if want == drbd.Promote && v.Local.Primary() {
		return map[string]string{"state": "already Primary"}, "", nil
	}
	if verdict.Action != want {
		return nil, "", fmt.Errorf("refused: %s", verdict.Reason)
	}
	t0 := time.Now()
	if err := a.perform(ctx, verdict); err != nil {
		if want == drbd.Demote {
			err = a.rollback(ctx, err)
		}
		return nil, "", err
	}
	return map[string]string{"state": string(want) + "d", "seconds": fmt.Sprintf("%.2f", time.Since(t0).Seconds())}, "", nil
}

// rollback serves again after a switchover's demotion failed half-way: the database stopped, the
// filesystem unmounted, DRBD still Primary (a `drbdadm secondary` that missed its deadline on a
// starved host). The operator's command gives up and promotes nothing, so this site starts its
// stack again; left so, it would hold the Primary role with no database, an outage until someone
// looked. If DRBD did step down, nothing is started: the switchover can simply be run again.
func (a *DRBDAgent) rollback(ctx context.Context, failed error) error {
	ctx = context.WithoutCancel(ctx) // the operator's command may be gone; each step has its timeout
	if res, err := a.read(ctx); err != nil || !res.Primary() {
		return fmt.Errorf("%w; not rolled back: DRBD's role here is %s, not Primary (read error: %v); check keyha drbd sites, then run the switchover again", failed, res.Role, err)
	}
	if err := a.perform(ctx, drbd.Verdict{Action: drbd.Promote, Reason: "rollback: the switchover's demotion failed, serve again"}); err != nil {
		return fmt.Errorf("%w; the rollback (the stack started again here) failed too: %v", failed, err)
	}
	return fmt.Errorf("%w; rolled back: %s serves again as the Primary, nothing moved; run the switchover again", failed, a.site.Name)
}

// silentAfter is how long another agent's beat may stand still before it counts as silent: eight
// poll intervals (its beat moves at least once per interval), at least 2 s for gossip's own pace.
func (a *DRBDAgent) silentAfter() time.Duration {
	return max(8*a.cluster.Agent.PollInterval, 2*time.Second)
}
