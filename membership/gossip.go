package membership

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/keyha/keyha/control"
)

// Config says where this agent gossips and with whom.
type Config struct {
	Site    string
	Bind    string   // HOST:PORT
	Peers   []string // the other sites' gossip addresses
	Preset  string   // wan, lan, local: memberlist's named presets
	KeyFile string   // empty: no encryption
	// Sites are the cluster file's site names: only these may be members. A stranger that
	// reaches the gossip port (with the key, or in a cluster without one) is never a peer, so it
	// never counts toward a view, the writer's choice or a majority.
	Sites []string
	// Refused, when set, is told each time a member or a state is refused: "stranger" (a name
	// outside Sites) or "state_mismatch" (a state whose site is not the member's name).
	Refused func(reason string)
	// Initial is the State this member announces from its first message. A restarted agent
	// that announced none would show its site to the others without health for a moment: a
	// writer's site would look unfit, and the others could name another writer.
	Initial *State
}

// Peer is what this agent knows of one site's agent.
type Peer struct {
	Site     string        `json:"site"`
	Addr     string        `json:"addr"`
	Status   string        `json:"status"` // alive, suspect, dead, left
	State    State         `json:"state"`
	StateErr string        `json:"state_error,omitempty"`
	RTT      time.Duration `json:"rtt_ns,omitempty"` // median of the last 7 probes
}

// Gossip is a running memberlist member.
type Gossip struct {
	ml  *memberlist.Memberlist
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	meta    []byte
	changed chan struct{} // Publish to announce: a new State to tell
	news    chan struct{} // memberlist's events to Changed: a peer's news
	limit   int
	rtt     map[string]*rttSamples

	// members is this agent's own copy of the member list, kept by memberlist's events (which it
	// sends while holding its lock). memberlist's Members() hands out pointers into its state,
	// whose Meta it rewrites under that lock: reading them afterwards is a data race.
	membersMu sync.Mutex
	members   map[string]member
}

// member is what an event said of one member, copied.
type member struct {
	addr string
	meta []byte
}

// ReadKey reads a gossip key file: 16, 24 or 32 bytes, raw or base64. The file must be 0600.
func ReadKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read gossip key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("gossip key file %s has mode %04o: others can read it; run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read gossip key: %w", err)
	}
	// Base64 when it decodes to a valid key size; the raw bytes otherwise.
	key := raw
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw))); err == nil && validKeyLen(len(dec)) {
		key = dec
	}
	if validKeyLen(len(key)) {
		return key, nil
	}
	return nil, fmt.Errorf("gossip key file %s: key is %d bytes; use 16, 24 or 32 bytes (raw or base64), e.g. head -c 32 /dev/urandom | base64", path, len(key))
}

func preset(name string) *memberlist.Config {
	var mc *memberlist.Config
	switch name {
	case "lan":
		mc = memberlist.DefaultLANConfig()
	case "local":
		mc = memberlist.DefaultLocalConfig()
	default:
		mc = memberlist.DefaultWANConfig()
	}
	// A new State waits in memberlist's queue for the next gossip round, and a crash claim or a
	// new writer's health is news a failover waits for. A round with nothing queued sends nothing,
	// so a short interval costs little: an agent's State changes once a poll. The presets' 200 ms
	// (LAN) and 500 ms (WAN) are tuned for clusters of hundreds.
	mc.GossipInterval = min(mc.GossipInterval, gossipInterval)
	return mc
}

// gossipInterval caps memberlist's GossipInterval: how long a published State may wait to be sent.
const gossipInterval = 50 * time.Millisecond

// DeadAfter is the shortest time, with the preset's timings among n members, from an agent's
// last answer to its being declared dead (and so unfit to be the writer): one probe must time
// out, then memberlist's suspicion runs at least SuspicionMult probe intervals, scaled by
// log10(n) from 10 members up.
func DeadAfter(name string, n int) time.Duration {
	mc := preset(name)
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	return mc.ProbeTimeout + time.Duration(float64(mc.SuspicionMult)*scale*float64(mc.ProbeInterval))
}

// Start creates the member and keeps joining the peers it has not got.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Gossip, error) {
	mc := preset(cfg.Preset)
	host, port, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: %w", cfg.Bind, err)
	}
	mc.Name = cfg.Site
	mc.BindAddr, mc.AdvertiseAddr = host, host
	mc.BindPort, _ = strconv.Atoi(port)
	mc.AdvertisePort = mc.BindPort
	if cfg.KeyFile != "" {
		key, err := ReadKey(cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		// The gossip key is derived for gossip alone: the key file also signs control
		// requests and seals Keystone's keys, each with a key of its own.
		mc.SecretKey = control.Derive(key).Gossip
	}
	g := &Gossip{cfg: cfg, log: log.With("component", "gossip"), limit: memberlist.MetaMaxSize, rtt: map[string]*rttSamples{},
		members: map[string]member{}, changed: make(chan struct{}, 1), news: make(chan struct{}, 1)}
	if cfg.Initial != nil {
		if g.meta, err = Encode(*cfg.Initial, g.limit); err != nil {
			return nil, fmt.Errorf("gossip state of %s: %w", cfg.Site, err)
		}
	}
	mc.Delegate = g
	mc.Events = g
	mc.Alive = g
	mc.Ping = g
	mc.Logger = newStdLogger(g.log)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", cfg.Bind, err)
	}
	g.ml = ml
	go g.joinLoop(ctx)
	go g.announce(ctx)
	return g, nil
}

func (g *Gossip) joinLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		if missing := g.missing(); len(missing) > 0 {
			if _, err := g.ml.Join(missing); err != nil {
				g.log.Debug("join peers", "peers", missing, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			// No Leave: a leaving writer's site would be replaced at once, while HAProxy still
			// routes to it until its checks fail. Gone silently, it is declared dead only after
			// memberlist's suspicion, by which time every HAProxy has dropped it; and a restart
			// that is back sooner goes unnoticed.
			g.ml.Shutdown()
			return
		case <-t.C:
		}
	}
}

// Await returns once every configured peer is a member (its state known), or d has passed, or
// ctx ended; it says whether all were. A starting agent waits so its first answer rests on news
// of every site.
func (g *Gossip) Await(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if len(g.missing()) == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// missing lists the configured peers that are not members.
func (g *Gossip) missing() []string {
	have := map[string]bool{}
	g.membersMu.Lock()
	for _, m := range g.members {
		have[m.addr] = true
	}
	g.membersMu.Unlock()
	var out []string
	for _, p := range g.cfg.Peers {
		if !have[p] {
			out = append(out, p)
		}
	}
	return out
}

// Publish sets this agent's State; peers learn it within a gossip round or two. It does not wait.
func (g *Gossip) Publish(s State) error {
	g.mu.Lock() // limit is set by NodeMeta, from memberlist's goroutines
	defer g.mu.Unlock()
	b, err := Encode(s, g.limit)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, g.meta) {
		g.meta = b
		select {
		case g.changed <- struct{}{}:
		default: // one announcement is already pending; it will carry this state
		}
	}
	return nil
}

// announce tells the peers each new State, off the caller's path. memberlist's UpdateNode queues
// the State and waits until it has been sent to enough members: two gossip rounds here. The
// State changes at every poll (its beat; under load wsrep_last_committed too), so waiting made
// each State queue behind the one before: a crash claim reached the other sites 0.4 s after it
// was published, in the lab over the WAN. The wait is not needed: a newer State replaces the
// queued one (memberlist drops an older alive message of the same member), so each round sends
// the latest. The calls stay in this one goroutine: UpdateNode reads the metadata before it
// takes an incarnation, and two at once could give the older State the higher one.
func (g *Gossip) announce(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.changed:
		}
		if err := g.ml.UpdateNode(time.Millisecond); err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "timeout waiting") {
			g.log.Debug("announce state", "err", err)
		}
	}
}

// Peers returns what this agent knows of every site's agent, itself included, by site.
func (g *Gossip) Peers() map[string]Peer {
	out := map[string]Peer{}
	g.mu.Lock()
	rtt := make(map[string]time.Duration, len(g.rtt))
	for k, v := range g.rtt {
		rtt[k] = v.median()
	}
	g.mu.Unlock()
	g.membersMu.Lock()
	defer g.membersMu.Unlock()
	for name, m := range g.members {
		if !g.allowed(name) {
			continue // never admitted (NotifyAlive); kept out here too
		}
		// Listed members are alive, or suspected but not yet declared dead: memberlist sends no
		// event for suspicion (nor did its Members() tell one from the other).
		p := Peer{Site: name, Addr: m.addr, Status: "alive", RTT: rtt[name]}
		st, err := Decode(m.meta)
		switch {
		case err != nil:
			p.StateErr = err.Error()
		case st.Site != name:
			p.StateErr = fmt.Sprintf("state names site %q but comes from member %q: dropped", st.Site, name)
		default:
			p.State = st
		}
		out[name] = p
	}
	return out
}

// EventDelegate: memberlist calls these with its lock held; each copies what it needs.

func (g *Gossip) NotifyJoin(n *memberlist.Node)   { g.keep(n) }
func (g *Gossip) NotifyUpdate(n *memberlist.Node) { g.keep(n) }
func (g *Gossip) NotifyLeave(n *memberlist.Node) {
	g.membersMu.Lock()
	delete(g.members, n.Name)
	g.membersMu.Unlock()
	g.tell()
}

// Changed is signalled after a member joins, changes its State or is gone: the agent acts on it
// at once. One pending signal stands for any number of changes.
func (g *Gossip) Changed() <-chan struct{} { return g.news }

func (g *Gossip) tell() {
	select {
	case g.news <- struct{}{}:
	default:
	}
}

func (g *Gossip) keep(n *memberlist.Node) {
	m := member{addr: n.Address(), meta: bytes.Clone(n.Meta)}
	if st, err := Decode(m.meta); err == nil && st.Site != n.Name {
		g.log.Warn("gossip state refused: it names another site than the member sending it", "member", n.Name, "state_site", st.Site, "addr", m.addr)
		g.refused("state_mismatch")
	}
	g.membersMu.Lock()
	g.members[n.Name] = m
	g.membersMu.Unlock()
	g.tell()
}

// AliveDelegate: memberlist asks before it takes a node as a peer.

func (g *Gossip) NotifyAlive(n *memberlist.Node) error {
	if g.allowed(n.Name) {
		return nil
	}
	g.refused("stranger")
	return fmt.Errorf("%q from %s is not a site of the cluster file (%s): refused", n.Name, n.Address(), strings.Join(g.cfg.Sites, ", "))
}

func (g *Gossip) allowed(name string) bool {
	return len(g.cfg.Sites) == 0 || slices.Contains(g.cfg.Sites, name)
}

func (g *Gossip) refused(reason string) {
	if g.cfg.Refused != nil {
		g.cfg.Refused(reason)
	}
}

// Delegate: the State rides in the node metadata; no user messages, no push/pull state.

func (g *Gossip) NodeMeta(limit int) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limit = limit
	return g.meta
}
func (g *Gossip) NotifyMsg([]byte)                           {}
func (g *Gossip) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (g *Gossip) LocalState(join bool) []byte                { return nil }
func (g *Gossip) MergeRemoteState(buf []byte, join bool)     {}

// PingDelegate: memberlist measures the round trip to each peer as it probes it.

func (g *Gossip) AckPayload() []byte { return nil }
func (g *Gossip) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	g.mu.Lock()
	s := g.rtt[other.Name]
	if s == nil {
		s = &rttSamples{}
		g.rtt[other.Name] = s
	}
	s.add(rtt)
	g.mu.Unlock()
}

// newStdLogger routes memberlist's log lines into slog: errors (a peer with the wrong key shows as
// a decryption failure) as warnings, the rest at debug.
func newStdLogger(l *slog.Logger) *log.Logger {
	q := &quiet{every: 10 * time.Second, last: map[string]time.Time{}, held: map[string]int{}}
	return log.New(writerFunc(func(p []byte) (int, error) {
		line := strings.TrimSpace(string(p))
		switch {
		case strings.Contains(line, "[ERR]"), strings.Contains(line, "[WARN]"):
			if n, ok := q.pass(line, time.Now()); ok {
				l.Warn(line, "repeats_held_back", n)
			}
		default:
			l.Debug(line)
		}
		return len(p), nil
	}), "", 0)
}

// quiet lets one line of a kind through per period: memberlist says "Failed to send gossip to
// PEER" at every gossip round (50 ms) while a peer is cut off, two lines a round.
type quiet struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time // kind -> when last let through
	held  map[string]int       // kind -> lines held back since
}

// pass reports whether line may be logged at now, and how many of its kind were held back since
// the last one. Its kind is its text up to its second ": " (the message and its peer, not the
// system's error text).
func (q *quiet) pass(line string, now time.Time) (int, bool) {
	kind := line
	if parts := strings.SplitN(line, ": ", 3); len(parts) == 3 {
		kind = parts[0] + ": " + parts[1]
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if t, ok := q.last[kind]; ok && now.Sub(t) < q.every {
		q.held[kind]++
		return 0, false
	}
	n := q.held[kind]
	q.last[kind], q.held[kind] = now, 0
	return n, true
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

var _ io.Writer = writerFunc(nil)

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// NoticeSpread bounds how much later one agent may declare a silent agent dead than another one
// does. The earliest is DeadAfter: a probe times out and the suspicion, confirmed by the others,
// runs its shortest. An agent that hears nobody (cut off itself) probes the silent one only in
// its turn (n-1 intervals, one more for the indirect probes) and, unconfirmed, waits the longest
// suspicion (SuspicionMaxTimeoutMult times the shortest). DRBD mode's clock rule needs it: the
// Primary notices it lost its majority that much later than the Secondary notices it gone.
func NoticeSpread(name string, n int) time.Duration {
	mc := preset(name)
	soonest := DeadAfter(name, n)
	shortest := soonest - mc.ProbeTimeout
	latest := time.Duration(max(n-1, 1)+1)*mc.ProbeInterval + mc.ProbeTimeout + time.Duration(mc.SuspicionMaxTimeoutMult)*shortest
	return latest - soonest
}
