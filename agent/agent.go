// Package agent is the per-site agent: it polls the local database node, judges it, and answers
// HAProxy and Prometheus from the latest judgement. One poll serves every checker.
package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/healthcheck"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/pki"
	"github.com/keyha/keyha/writer"
)

// Poller reads the node. galera.Poller is the real one.
type Poller interface {
	Poll(ctx context.Context) galera.Snapshot
}

// Agent holds the latest snapshot of its node and judges it on every check.
type Agent struct {
	cur     atomic.Pointer[conf] // replaced whole by Reload
	poller  Poller
	maint   *Maint
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	single  bool // one writer for all sites (writer.mode single, with gossip)
	gossip  *membership.Gossip
	started time.Time

	recording  atomic.Bool
	recorded   chan struct{} // record to the poll loop: this site was recorded as the writer
	lastRecord time.Time
	ownUUID    string               // this node's member UUID at the last good poll; the poll loop's alone
	lastDead   string               // the member UUID last reported gone; the poll loop's alone
	evictTried map[string]time.Time // member UUID -> last eviction attempt; the poll loop's alone
	claimSeen  map[string]time.Time // member UUID -> when a site first reported it gone; the poll loop's alone
	claimStart map[string]time.Time // member UUID -> when its current claim began (evictWindow); the poll loop's alone
	lastClear  time.Time            // when the evict list was last emptied; the poll loop's alone
	lowered    []string             // sites last marked down in this site's HAProxy (lower.go); the poll loop's alone
	loweredAt  time.Time
	lowering   atomic.Bool      // a mark-down is asking HAProxy
	beat       uint64           // counted into each State this agent publishes; the poll loop's alone
	beats      membership.Beats // the other agents' beats: who still speaks
	silentAt   time.Time        // when another site's agent was last found silent: polls come faster (pollEvery)

	mu       sync.RWMutex
	snap     galera.Snapshot
	inMnt    bool
	last     galera.Verdict  // the verdict last logged, to log changes only; the poll loop's alone
	nodeName string          // the node's wsrep_node_name last judged; the poll loop's alone
	decision writer.Decision // written by the poll loop under mu, read by Report
	takeover takeover        // this site's wait to take the writes from a writer that may still commit (takeover.go)
	peers    map[string]membership.Peer
	pending  string // a changed cluster file not taken, and why (Reload)

	keystone *keystoneWatch // nil when the site has no keystone.api

	isl island // island mode (island.go); cur under mu, the rest the poll loop's alone

	stallLogged bool      // the stuck applier named in the log (stall.go); the poll loop's alone
	rendered    []string  // how the node differs from its rendered galera.cnf (rendered.go), under mu
	renderedAt  time.Time // the last comparison; the poll loop's alone
	// renderedGalera and renderedHAProxy: the last comparison of each part; the poll loop's alone.
	renderedGalera, renderedHAProxy []string
}

// conf is what the agent takes from the cluster file; Reload swaps it whole, so a reader that
// takes it once sees one file.
type conf struct {
	cluster  *config.Cluster
	site     *config.Site
	policy   galera.Policy
	keys     map[string]string // the file's digests by key: keyha status names what differs
	decision string            // the file's config.Cluster.Decision, gossiped and compared every poll
}

func newConf(c *config.Cluster, siteName string) (*conf, error) {
	site, err := c.Site(siteName)
	if err != nil {
		return nil, err
	}
	return &conf{cluster: c, site: site, keys: c.Digests(), decision: c.Decision(), policy: galera.Policy{
		AvailableWhenDonor: c.Agent.AvailableWhenDonor,
		StaleAfter:         c.Agent.StaleAfter,
		DonorGrace:         c.Agent.DonorGrace,
		StallDrain:         stallDrain,
		Weighting:          true,
		RecvQueueHigh:      1000,
		FlowControlHigh:    0.5,
	}}, nil
}

// cfg returns the cluster file in force.
func (a *Agent) cfg() *conf { return a.cur.Load() }

// Detail is what /status shows beyond the verdict.
type Detail struct {
	Snapshot galera.Snapshot            `json:"snapshot"`
	Decision *writer.Decision           `json:"writer_decision,omitempty"`
	Peers    map[string]membership.Peer `json:"gossip,omitempty"`
	Version  string                     `json:"agent_version"`
	Config   string                     `json:"config_hash"`
	Keystone *KeystoneCheck             `json:"keystone,omitempty"`
	Problem  string                     `json:"config_problem,omitempty"` // what in the cluster file does not match the node
	Pending  string                     `json:"config_pending,omitempty"` // a changed file the agent could not take, and why
	Keys     map[string]string          `json:"config_keys,omitempty"`    // digests of the running file's settings, by key
	Island   *galera.Island             `json:"island,omitempty"`         // island mode's judgement, when island.enabled
	Rendered []string                   `json:"rendered_drift,omitempty"` // what the site runs unlike its rendered galera.cnf and haproxy.cfg
}

// nameProblem says what is wrong when the node's wsrep_node_name is not the one the cluster file
// gives the site: the Galera view then never shows the site, and it can never be the writer.
func nameProblem(site *config.Site, snap galera.Snapshot) string {
	if snap.NodeName == "" || snap.NodeName == site.NodeName {
		return ""
	}
	return fmt.Sprintf("the node's wsrep_node_name is %q, the cluster file expects %q: this site never shows in the Galera view "+
		"and can never be the writer; set sites (%s).node_name: %s, or the node's wsrep_node_name", snap.NodeName, site.NodeName, site.Name, snap.NodeName)
}

// New builds the agent for one site of the cluster.
func New(c *config.Cluster, siteName string, log *slog.Logger) (*Agent, error) {
	cf, err := newConf(c, siteName)
	if err != nil {
		return nil, err
	}
	if err := CheckTimings(c); err != nil {
		return nil, err
	}
	site := cf.site
	a := &Agent{
		maint:    NewMaint(c.Agent.StateDir, site.Name),
		log:      log.With("site", site.Name),
		now:      time.Now,
		started:  time.Now(),
		recorded: make(chan struct{}, 1),
		single:   c.Writer.Mode == "single" && site.GossipAt != "" && len(c.Sites) > 1,
	}
	a.cur.Store(cf)
	a.poller = newCredPoller(c, site.SQL, c.Agent.PollTimeout, c.Agent.PollInterval, a.log)
	var ktls *tls.Config
	if c.TLS.On() && site.Keystone.API != "" {
		if ktls, err = pki.ClientConfig(c.TLS.CA, "", "", site.Name); err != nil {
			return nil, fmt.Errorf("TLS for the Keystone check: %w", err)
		}
	}
	a.keystone = newKeystoneWatch(site.Keystone.API, ktls)
	a.metrics = newMetrics(a)
	if a.keystone != nil {
		a.metrics.reg.MustRegister(keystoneCollector{a.keystone})
	}
	return a, nil
}

// Report is the current answer of every check: the verdict on the latest snapshot, judged now,
// so a poller that stopped answering turns into "stale", then down, by itself.
func (a *Agent) Report() healthcheck.Report {
	a.mu.RLock()
	snap, inMnt, d, peers, pending, tk, isl, rendered := a.snap, a.inMnt, a.decision, a.peers, a.pending, a.takeover, a.isl.cur, a.rendered
	a.mu.RUnlock()
	cf := a.cfg()
	now := a.now()
	v := galera.Judge(snap, cf.policy, inMnt, now)
	r := healthcheck.Report{Site: cf.site.Name, State: string(v.State), Health: string(v.State), Weight: v.Weight, Reason: v.Reason, Island: isl.Active}
	det := Detail{Snapshot: snap, Version: Version, Config: shortHash(cf.cluster.Hash), Keystone: a.keystone.Last(),
		Problem: nameProblem(cf.site, snap), Pending: pending, Keys: cf.keys, Rendered: rendered}
	if cf.cluster.Island.Enabled {
		det.Island = &isl
		if isl.Active {
			r.Reason += "; " + isl.Reason
		}
	}
	if a.single {
		det.Decision, det.Peers = &d, peers
		r.Writer = d.Writer
		switch {
		case v.State == galera.Up && d.Writer == cf.site.Name && !d.Record && tk.waiting(now):
			r.Role, r.State, r.Weight = "standby", healthcheck.StateDown, 0
			r.Reason = fmt.Sprintf("taking the writes from %s once every HAProxy has dropped it (by %s)", tk.from, tk.until.Format("15:04:05.000"))
		case v.State == galera.Up && d.Writer == cf.site.Name && !d.Record:
			r.Role = "writer"
			r.Reason = "writer: " + v.Reason
		case v.State == galera.Up && d.Writer == cf.site.Name:
			// A successor takes the writes only once its record has committed: two agents whose
			// news of each other differ for a moment could both pick themselves, and the
			// compare-and-set on the epoch lets only one record win (the nemesis caught both
			// answering "writer" before either had recorded).
			r.Role, r.State, r.Weight = "standby", healthcheck.StateDown, 0
			r.Reason = "claiming the writes, not yet recorded: " + d.Reason
		case v.State == galera.Up || v.State == galera.Drain:
			// Anything but the writer takes no connections, not even the open ones: HAProxy marks
			// it down, which closes them (on-marked-down shutdown-sessions). A drained node keeps
			// its sessions, so a writer drained as a state-transfer donor kept writing beside its
			// successor (the nemesis caught it).
			r.Role, r.State, r.Weight = "standby", healthcheck.StateDown, 0
			if d.Writer != "" {
				r.Reason = "standby: writer is " + d.Writer
			} else {
				r.Reason = "standby: no writer: " + d.Reason
			}
			if v.State == galera.Drain {
				r.Reason += "; its node: " + v.Reason
			}
		}
	}
	r.Detail = det
	return r
}

// Snapshot returns the latest snapshot.
func (a *Agent) Snapshot() galera.Snapshot {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.snap
}

// Run polls and serves until ctx is cancelled. Listening failures end it: an agent that cannot
// answer must not pretend to run (HAProxy's check then fails and the node goes down).
func (a *Agent) Run(ctx context.Context) error {
	cf := a.cfg()
	ls, err := listen(ctx, cf.cluster, cf.site, a.log)
	if err != nil {
		return err
	}
	defer ls.close()
	// Nothing is answered before a real poll and, with gossip, news of every site: the sockets
	// only queue meanwhile (HAProxy's checks wait), so a restarted agent never answers "down" or
	// "no writer" out of doubt it could have dispelled, and its site never shows to the others
	// without its health.
	a.pollOnce(ctx)
	if a.single {
		st := a.gossipState(cf, a.Snapshot(), a.last, "")
		if a.gossip, err = startGossip(ctx, cf.cluster, cf.site, a.log, a.metrics.reg, &st); err != nil {
			return err
		}
		if !a.gossip.Await(ctx, time.Second) {
			a.log.Warn("starting without news of every site's agent: they will be heard as they answer")
		}
		a.pollOnce(ctx)
	}
	a.log.Info("agent started", "sql", cf.site.SQL, "agent", cf.site.Agent, "http", cf.site.HTTP, "metrics", cf.site.Metrics,
		"poll_interval", cf.cluster.Agent.PollInterval, "poll_timeout", cf.cluster.Agent.PollTimeout, "config", shortHash(cf.cluster.Hash))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { a.loop(ctx, cf.cluster.Agent.PollInterval); return nil })
	if a.keystone != nil {
		g.Go(func() error { a.keystone.run(ctx, 2*time.Second); return nil })
	}
	ls.serve(ctx, g, a, a.log, a.metrics.served, a.metrics.reg, a.controlRoutes)
	err = g.Wait()
	a.log.Info("agent stopped")
	return err
}

func (a *Agent) pollOnce(ctx context.Context) {
	snap := a.poller.Poll(ctx)
	if ctx.Err() != nil {
		return
	}
	inMnt, err := a.maint.On()
	if err != nil {
		a.log.Warn("read maintenance flag; keeping the node in maintenance", "err", err)
		inMnt = true // doubt about the operator's intent: keep the node out
	}
	a.metrics.observe(snap)
	a.mu.Lock()
	a.snap, a.inMnt = snap, inMnt
	a.mu.Unlock()

	now := a.now()
	cf := a.cfg()
	v := galera.Judge(snap, cf.policy, inMnt, now)
	changed := v.State != a.last.State || v.Reason != a.last.Reason && v.State != galera.Up
	a.last = v
	prev := a.decision // written only by this loop: no lock needed to read it here
	if changed {
		a.log.Info("verdict", "state", v.State, "reason", v.Reason, "node_state", snap.LocalStateComment, "cluster_status", snap.ClusterStatus)
	}
	a.islandStep(ctx, cf, snap, now)
	a.lowerStep(cf, snap, now)
	a.renderedStep(ctx, cf, now)
	a.stallStep(snap, now)
	if snap.NodeName != "" && snap.NodeName != a.nodeName {
		a.nodeName = snap.NodeName
		if p := nameProblem(cf.site, snap); p != "" {
			a.log.Error("cluster file does not match the node", "problem", p)
		}
	}
	if !a.single || a.gossip == nil {
		return
	}
	st := a.gossipState(cf, snap, v, prev.Writer)
	a.beat++
	st.Beat = a.beat
	if st.Dead = a.deadUUID(snap); st.Dead != "" && a.lastDead != st.Dead {
		a.log.Warn("this site's mysqld is gone (its port refuses connections): telling the other sites to evict its member", "member", st.Dead)
	}
	a.lastDead = st.Dead
	if err := a.gossip.Publish(st); err != nil {
		a.log.Warn("publish gossip state", "err", err)
	}
	peers := a.gossip.Peers()
	if a.silentPeer(cf, peers, now) {
		a.silentAt = now
	}
	a.act(cf, snap, v, peers, now)
}

// act evicts the members other sites report dead and decides the writer, from snap and peers
// (what gossip says now). The poll loop's alone.
func (a *Agent) act(cf *conf, snap galera.Snapshot, v galera.Verdict, peers map[string]membership.Peer, now time.Time) {
	prev := a.decision
	a.evictTheDead(snap, peers)
	a.evictStalled(snap, peers, now)
	d := a.decide(cf, snap, v, peers, now)
	a.mu.Lock()
	a.decision, a.peers = d, peers
	// A takeover ends when its wait has passed, or at once when the writer replaced can no
	// longer commit (it left the Primary component: a pause or a cut ends that way).
	tk := a.takeover
	armed := tk.from != "" && !tk.until.IsZero()
	early := armed && tk.waiting(now) && !mayCommit(cf.cluster, tk.from, snap, peers)
	if early || armed && !tk.waiting(now) {
		a.takeover = takeover{}
	}
	a.mu.Unlock()
	if early {
		a.log.Info("taking the writes now: the writer replaced commits nothing any more", "from", tk.from)
	}
	if d.Writer != prev.Writer {
		a.log.Info("writer", "writer", d.Writer, "was", prev.Writer, "reason", d.Reason)
	}
	if d.Record && snap.Designated.Site != cf.site.Name {
		a.record(cf, snap, peers, d.Reason)
	}
}

// react acts at once on news from another site's agent (a node's health, a member reported dead),
// on this node's latest snapshot, instead of at the next poll: a crash failover then waits for
// one gossip message, not for it and a poll.
func (a *Agent) react(peers map[string]membership.Peer) {
	a.mu.RLock()
	snap, inMnt := a.snap, a.inMnt
	a.mu.RUnlock()
	cf, now := a.cfg(), a.now()
	a.act(cf, snap, galera.Judge(snap, cf.policy, inMnt, now), peers, now)
}

// behind reports whether another site's agent, its node in the Primary component of the same
// cluster, has a newer view than this node's last poll shows. After a site is cut off the
// survivors' nodes change view at the same moment; the first agent to poll tells the others,
// who poll at once instead of at their next interval.
func (a *Agent) behind(peers map[string]membership.Peer) bool {
	var others []membership.State
	a.heardOthers(peers, func(_, _ string, st membership.State) { others = append(others, st) })
	return newerView(a.Snapshot(), others)
}

// newerView: snap is a good poll inside the Primary component, and one of others (the states of
// other sites' agents) reports its node in a later view of the same cluster.
func newerView(snap galera.Snapshot, others []membership.State) bool {
	if snap.ErrClass != galera.ErrNone || snap.ClusterStatus != "Primary" {
		return false
	}
	for _, st := range others {
		if len(st.View) > 0 && st.ClusterUUID == snap.ClusterStateUUID && st.ConfID > snap.ClusterConfID {
			return true
		}
	}
	return false
}

// Faster polls while another site is silent. A site cut off leaves Galera's view after
// evs.suspect_timeout (2.5 s and more); its agent's beat stops within a second. From then on, for
// fastPollFor, the agent polls every fastPoll, so it sees the view change within fastPoll, not a
// poll interval, after it happens: a cut-off writer's successor is named that much sooner, and
// the cut-off site marked down. A beat lost on a lossy link costs a few seconds of faster polls.
const (
	fastPoll    = 50 * time.Millisecond
	fastPollFor = 10 * time.Second
)

// pollEvery is the poll interval now: normal, or fastPoll within fastPollFor of silentAt.
func pollEvery(normal time.Duration, silentAt, now time.Time) time.Duration {
	if !silentAt.IsZero() && now.Sub(silentAt) < fastPollFor {
		return min(normal, fastPoll)
	}
	return normal
}

// silentPeer reports whether another site's agent, still a gossip member, has not moved its beat
// for four poll intervals (at least 750 ms): its site may be cut off.
func (a *Agent) silentPeer(cf *conf, peers map[string]membership.Peer, now time.Time) bool {
	within := max(4*cf.cluster.Agent.PollInterval, 750*time.Millisecond)
	silent := false
	a.heardOthers(peers, func(site, _ string, st membership.State) {
		if !a.beats.Fresh(site, st.Beat, now, within) {
			silent = true
		}
	})
	return silent
}

// loop polls every d (faster while pollEvery says) and, with gossip, reacts to every change
// another agent announces.
func (a *Agent) loop(ctx context.Context, d time.Duration) {
	every := d
	t := time.NewTicker(every)
	defer t.Stop()
	var news, woken <-chan struct{}
	if a.single && a.gossip != nil {
		news = a.gossip.Changed()
	}
	if w, ok := a.poller.(interface{ Woken() <-chan struct{} }); ok {
		woken = w.Woken()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.pollOnce(ctx)
		case <-woken:
			a.pollOnce(ctx) // the node's watched session broke: its mysqld may be gone
		case <-news:
			if peers := a.gossip.Peers(); a.behind(peers) {
				a.pollOnce(ctx) // another site's node is in a newer view: see it now, not at the next poll
			} else {
				a.react(peers)
			}
		case <-a.recorded:
			a.pollOnce(ctx) // read the record this agent just made, and take the writes
		}
		if e := pollEvery(d, a.silentAt, a.now()); e != every {
			every = e
			t.Reset(every)
		}
	}
}

// Metrics gives the agent's Prometheus registry (tests and benchmarks read it).
func (a *Agent) Metrics() *prometheus.Registry { return a.metrics.reg }
