package membership

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two members on loopback: each learns the other's state, and reading the peers while the other
// side keeps changing its state is free of data races (run with -race: memberlist rewrites a
// node's Meta under its own lock, which Peers must not read; reading it through Members() showed
// 8 races here).
func TestPeersWhileStatesChange(t *testing.T) {
	a, b := lngsAndBari(t, "local")
	aAddr := a.ml.LocalNode().Address()
	if err := b.Publish(State{Site: "bari", Health: "up", LastCommitted: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "lngs hears bari's state", func() bool {
		p, ok := a.Peers()["bari"]
		return ok && p.Status == "alive" && p.State.Site == "bari" && p.State.LastCommitted >= 1
	})

	const last = 30
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(2); i <= last; i++ {
			if err := b.Publish(State{Site: "bari", Health: "up", LastCommitted: i}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := int64(0)
	waitFor(t, 30*time.Second, "lngs hears bari's last state", func() bool {
		p := a.Peers()["bari"]
		if p.State.LastCommitted < seen {
			t.Errorf("bari's state went back from %d to %d", seen, p.State.LastCommitted)
		}
		seen = p.State.LastCommitted
		return seen == last
	})
	wg.Wait()
	if self, ok := a.Peers()["lngs"]; !ok || self.Addr != aAddr {
		t.Errorf("lngs does not list itself at %s: %+v", aAddr, a.Peers())
	}
}

// lngsAndBari starts two members on loopback with preset, bari joining lngs; both stop when tb
// ends.
func lngsAndBari(tb testing.TB, preset string) (lngs, bari *Gossip) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lngs, err := Start(ctx, Config{Site: "lngs", Bind: "127.0.0.1:0", Preset: preset}, log)
	if err != nil {
		tb.Fatal(err)
	}
	bari, err = Start(ctx, Config{Site: "bari", Bind: "127.0.0.1:0", Peers: []string{lngs.ml.LocalNode().Address()}, Preset: preset}, log)
	if err != nil {
		tb.Fatal(err)
	}
	return lngs, bari
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
}

// Only the cluster file's sites are peers: a stranger holding the key is refused, and a state that
// names another site than its sender is dropped; both are counted.
func TestStrangersAreNotPeers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	key := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	sites := []string{"lngs", "bari", "padova"}
	var mu sync.Mutex
	refused := map[string]int{}
	a, err := Start(ctx, Config{Site: "lngs", Bind: "127.0.0.1:0", Preset: "local", KeyFile: key, Sites: sites,
		Refused: func(r string) { mu.Lock(); refused[r]++; mu.Unlock() }}, log)
	if err != nil {
		t.Fatal(err)
	}
	join := []string{a.ml.LocalNode().Address()}
	member := func(name string, st State) *Gossip {
		g, err := Start(ctx, Config{Site: name, Bind: "127.0.0.1:0", Peers: join, Preset: "local", KeyFile: key}, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Publish(st); err != nil {
			t.Fatal(err)
		}
		return g
	}
	member("bari", State{Site: "bari", Health: "up"})
	member("mallory", State{Site: "mallory", Health: "up", Role: "Primary"})
	member("padova", State{Site: "bari", Health: "up", Role: "Secondary"}) // claims to be bari
	count := func(r string) int { mu.Lock(); defer mu.Unlock(); return refused[r] }
	waitFor(t, 20*time.Second, "lngs hears bari and padova, refuses mallory and padova's state", func() bool {
		p := a.Peers()
		return p["bari"].State.Site == "bari" && p["padova"].StateErr != "" && count("stranger") > 0 && count("state_mismatch") > 0
	})
	p := a.Peers()
	if _, ok := p["mallory"]; ok {
		t.Errorf("a member outside the cluster file is a peer: %+v", p["mallory"])
	}
	if got := p["padova"]; got.State.Site != "" || !strings.Contains(got.StateErr, `names site "bari"`) {
		t.Errorf("padova's state naming bari was not dropped: %+v", got)
	}
	if len(p) != 3 {
		t.Errorf("peers %v, want lngs, bari and padova", p)
	}
}

// DeadAfter follows memberlist's own timings: with the lan preset a silent agent is dead after no
// less than a probe timeout (500 ms) plus 4 probe intervals (1 s each). NoticeSpread is how much
// later another agent may declare it: lan, the latest is 3 probe intervals + 0.5 s + 6 x 4 s.
func TestDeadAfter(t *testing.T) {
	for _, c := range []struct {
		preset       string
		n            int
		dead, spread time.Duration
	}{
		{"lan", 3, 4500 * time.Millisecond, 23 * time.Second},
		{"wan", 3, 33 * time.Second, 165 * time.Second},
		{"local", 3, 3200 * time.Millisecond, 18 * time.Second},
		{"lan", 100, 8500 * time.Millisecond, 0}, // log10(100) = 2
	} {
		if got := DeadAfter(c.preset, c.n); got != c.dead {
			t.Errorf("DeadAfter(%s, %d) = %v, want %v", c.preset, c.n, got, c.dead)
		}
		if got := NoticeSpread(c.preset, c.n); c.spread != 0 && got != c.spread {
			t.Errorf("NoticeSpread(%s, %d) = %v, want %v", c.preset, c.n, got, c.spread)
		}
	}
}

// A member started with an Initial state shows it from its first contact: the peer that hears
// it join already has its health (a restarted writer's agent never looks unfit for a moment), the
// joiner's Await returns once it has news of its peer, and the peer is told (Changed).
func TestInitialStateAndAwait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := Start(ctx, Config{Site: "lngs", Bind: "127.0.0.1:0", Preset: "local", Initial: &State{Site: "lngs", Health: "up", LastCommitted: 7}}, log)
	if err != nil {
		t.Fatal(err)
	}
	aAddr := a.ml.LocalNode().Address()
	b, err := Start(ctx, Config{Site: "bari", Bind: "127.0.0.1:0", Peers: []string{aAddr}, Preset: "local", Initial: &State{Site: "bari", Health: "up", LastCommitted: 7}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Await(ctx, 5*time.Second) {
		t.Fatal("bari's Await gave up with lngs reachable")
	}
	if p := b.Peers()["lngs"]; p.State.Health != "up" || p.State.LastCommitted != 7 {
		t.Errorf("bari's first news of lngs: %+v, want its initial state", p)
	}
	select {
	case <-a.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("lngs was not told that bari joined")
	}
	if p := a.Peers()["bari"]; p.State.Health != "up" {
		t.Errorf("lngs's first news of bari: %+v, want its initial state, not an empty one", p)
	}
	lone, err := Start(ctx, Config{Site: "padova", Bind: "127.0.0.1:0", Peers: []string{"127.0.0.1:1"}, Preset: "local"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if lone.Await(ctx, 300*time.Millisecond) {
		t.Error("Await said every peer was heard with none reachable")
	}
}

// BenchmarkNewsUnderChurn: how long a State takes to reach a peer (lan preset, loopback) while
// the publisher's State changes every 250 ms, as an agent's does under load (the last committed
// seqno at every poll). A crash claim is such a State: the failover waits for it.
func BenchmarkNewsUnderChurn(b *testing.B) {
	x, y := lngsAndBari(b, "lan")
	seq := int64(0)
	heard := func(n int64) bool { return x.Peers()["bari"].State.LastCommitted >= n }
	await := func(n int64) {
		deadline := time.Now().Add(10 * time.Second)
		for !heard(n) {
			if time.Now().After(deadline) {
				b.Fatalf("lngs did not hear bari's state %d within 10 s", n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	publish := func() int64 {
		seq++
		if err := y.Publish(State{Site: "bari", Health: "up", LastCommitted: seq}); err != nil {
			b.Fatal(err)
		}
		return seq
	}
	await(publish())
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		publish() // the churn: a poll's State, then the news one poll later
		time.Sleep(250 * time.Millisecond)
		start := time.Now()
		await(publish())
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/news")
}

// memberlist's repeated errors (a failed send every gossip round to a cut-off peer) are logged
// once per period per message and peer, with the count held back.
func TestQuietLog(t *testing.T) {
	q := &quiet{every: 10 * time.Second, last: map[string]time.Time{}, held: map[string]int{}}
	t0 := time.Unix(1000, 0)
	toBari := "[ERR] memberlist: Failed to send gossip to 10.77.0.2:7946: write udp 10.77.0.1:7946->10.77.0.2:7946: sendto: operation not permitted"
	toPadova := strings.ReplaceAll(toBari, "10.77.0.2", "10.77.0.3")
	passed := 0
	for i := 0; i < 200; i++ { // 10 s of rounds, 50 ms apart
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		for _, l := range []string{toBari, toPadova} {
			if _, ok := q.pass(l, at); ok {
				passed++
			}
		}
	}
	if passed != 2 {
		t.Errorf("%d lines let through in 10 s, want one per peer", passed)
	}
	n, ok := q.pass(toBari, t0.Add(10*time.Second))
	if !ok || n != 199 {
		t.Errorf("after the period: passed %v with %d held back, want true and 199", ok, n)
	}
}
