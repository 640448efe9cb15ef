// Package drill is keyha's main job in one command: while a token client at every site issues
// Keystone tokens and validates the other sites' tokens, kill the writer's mysqld (in DRBD mode,
// the Primary's whole host), restart it, cut a site off and heal it; then show, per site, when
// tokens failed and for how long.
package drill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/atomicfile"
	"github.com/keyha/keyha/load"
	"github.com/keyha/keyha/ops"
)

// Config is one drill.
type Config struct {
	Cluster  *config.Cluster
	User     string // Keystone user (domain Default), with the admin project
	Password string
	Injector load.Injector
	Out      io.Writer
	SVG      string        // where to write the picture
	Baseline time.Duration // quiet time before the first fault and after each repair
	Hold     time.Duration // how long the partition lasts
	Interval time.Duration // pause between a client's rounds
	// Swift names each site's Swift proxy (HOST:PORT); with any, a Swift client runs at each of
	// those sites too (swift.go).
	Swift map[string]string
}

// Result is what the drill measured.
type Result struct {
	Timeline   Timeline          `json:"timeline"`
	Windows    []Window          `json:"error_windows"`
	FinalCross map[string][2]int `json:"final_cross_site"` // site -> ok, total validations of tokens issued at the first site
	Checksums  map[string]string `json:"keystone_checksums"`
	Problems   []string          `json:"problems"`
	Swift      *SwiftResult      `json:"swift,omitempty"`
}

type recorder struct {
	mu      sync.Mutex
	start   time.Time
	samples []Sample
	events  []Mark
	writers []WriterAt
	tokens  map[string]string // latest token issued at each site
}

func (r *recorder) since() time.Duration { return time.Since(r.start) }

func (r *recorder) add(s Sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

func (r *recorder) event(out io.Writer, format string, a ...any) {
	m := Mark{At: r.since(), What: fmt.Sprintf(format, a...)}
	r.mu.Lock()
	r.events = append(r.events, m)
	r.mu.Unlock()
	fmt.Fprintf(out, "%6.1fs  %s\n", m.At.Seconds(), m.What)
}

// Run runs the drill. The returned Result is complete even when err reports a failed step.
func Run(ctx context.Context, c Config) (*Result, error) {
	if c.Baseline == 0 {
		c.Baseline = 8 * time.Second
	}
	if c.Hold == 0 {
		c.Hold = 15 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	var sites []string
	clients := map[string]*Keystone{}
	for _, s := range c.Cluster.Sites {
		if s.Keystone.Front != "" {
			sites = append(sites, s.Name)
			k, err := SiteKeystone(c.Cluster, s.Name)
			if err != nil {
				return nil, err
			}
			clients[s.Name] = k
		}
	}
	if len(sites) < 2 {
		return nil, errors.New("the drill needs Keystone (keystone.front) at two sites or more: start the lab with scripts/lab up --keystone")
	}
	for _, s := range sites {
		if err := retry(ctx, 60*time.Second, func() error { _, err := clients[s].Issue(ctx, c.User, c.Password); return err }); err != nil {
			return nil, fmt.Errorf("Keystone at %s issues no token before the drill: %w", s, err)
		}
	}
	k, err := ops.NewController(c.Cluster, io.Discard)
	if err != nil {
		return nil, err
	}
	m := newMode(c.Cluster, k)
	rec := &recorder{start: time.Now(), tokens: map[string]string{}}
	res := &Result{}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range sites {
		wg.Go(func() { client(runCtx, rec, s, clients[s], sites, c) })
	}
	wg.Go(func() { watchWriter(runCtx, rec, m) })
	objs := newAcked()
	if len(c.Swift) > 0 {
		if err := swiftPrepare(ctx, clients, c, sites[0]); err != nil {
			stop()
			wg.Wait()
			return nil, fmt.Errorf("the Swift proxy at %s creates no container before the drill: %w", sites[0], err)
		}
		for _, s := range sites {
			if c.Swift[s] != "" {
				wg.Go(func() { swiftClient(runCtx, rec, s, clients[s], c.Swift[s], objs, c) })
			}
		}
	}

	err = script(ctx, rec, c, m, sites)
	stop()
	wg.Wait()

	rec.mu.Lock()
	res.Timeline = Timeline{Sites: sites, Length: rec.since(), Samples: rec.samples, Events: rec.events, Writers: rec.writers}
	rec.mu.Unlock()
	res.Windows = res.Timeline.Windows()
	res.FinalCross = finalCross(ctx, clients, sites, c)
	for _, s := range sites[1:] {
		if v := res.FinalCross[s]; v[0] != v[1] || v[1] == 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("after the drill, %d of %d tokens issued at %s validate at %s", v[0], v[1], sites[0], s))
		}
	}
	if len(c.Swift) > 0 {
		res.Swift = swiftReadBack(ctx, clients, c, sites, objs.all())
		for _, s := range slices.Sorted(maps.Keys(res.Swift.Missing)) {
			res.Problems = append(res.Problems, fmt.Sprintf("after the drill, %d of %d acknowledged Swift objects are missing or corrupt at %s", res.Swift.Missing[s], res.Swift.Acked, s))
		}
		if res.Swift.Acked == 0 {
			res.Problems = append(res.Problems, "no Swift object was acknowledged during the drill")
		}
	}
	res.Checksums = keystoneChecksums(ctx, c.Cluster, m)
	sums := map[string]bool{}
	for site, v := range res.Checksums {
		sums[v] = true
		if strings.HasPrefix(v, "error: ") {
			res.Problems = append(res.Problems, fmt.Sprintf("the keystone schema could not be read at %s: %s", site, v))
		}
	}
	if len(sums) != 1 {
		res.Problems = append(res.Problems, fmt.Sprintf("the keystone schema differs between nodes: %v", res.Checksums))
	}
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	return res, nil
}

func retry(ctx context.Context, within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if stop, ok := err.(retryStop); ok {
			return stop.error
		}
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// client issues a token at its site, then validates the latest token of every other site with it.
func client(ctx context.Context, rec *recorder, site string, k *Keystone, sites []string, c Config) {
	var own string
	// A sample is stamped when its answer came: a request that started before a fault and failed
	// after it belongs to the fault.
	for ctx.Err() == nil {
		tok, err := k.Issue(ctx, c.User, c.Password)
		if ctx.Err() != nil {
			return
		}
		rec.add(Sample{Site: site, At: rec.since(), Op: "issue", OK: err == nil, Err: errText(err)})
		if err == nil {
			own = tok
			rec.mu.Lock()
			rec.tokens[site] = tok
			rec.mu.Unlock()
		}
		for _, other := range sites {
			rec.mu.Lock()
			subject := rec.tokens[other]
			rec.mu.Unlock()
			if other == site || subject == "" || own == "" {
				continue
			}
			err := k.Validate(ctx, own, subject)
			if ctx.Err() != nil {
				return
			}
			rec.add(Sample{Site: site, At: rec.since(), Op: "validate", From: other, OK: err == nil, Err: errText(err)})
		}
		select {
		case <-ctx.Done():
		case <-time.After(c.Interval):
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func watchWriter(ctx context.Context, rec *recorder, m mode) {
	last := "?"
	for ctx.Err() == nil {
		w, _ := m.writer(ctx)
		if w != last {
			rec.mu.Lock()
			rec.writers = append(rec.writers, WriterAt{At: rec.since(), Writer: w})
			rec.mu.Unlock()
			last = w
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// script is the drill's sequence of faults.
func script(ctx context.Context, rec *recorder, c Config, m mode, sites []string) error {
	pause := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	inject := func(verb, site string) error {
		_, err := c.Injector.Inject(ctx, load.Fault{Verb: verb, Site: site})
		return err
	}
	if err := pause(c.Baseline); err != nil {
		return err
	}
	w, why := m.writer(ctx)
	if w == "" {
		return fmt.Errorf("no writer to kill: %s", why)
	}
	rec.event(c.Out, "%s", m.killed(w))
	if err := inject("kill", w); err != nil {
		return err
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		nw, _ := m.writer(ctx)
		return nw != "" && nw != w
	}); err != nil {
		return fmt.Errorf("no new writer after the kill of %s: %w", w, err)
	}
	if err := pause(c.Baseline); err != nil {
		return err
	}
	rec.event(c.Out, "%s", m.started(w))
	if err := inject("start", w); err != nil {
		return err
	}
	if err := waitFor(ctx, 120*time.Second, func() bool { return m.rejoined(ctx, w) }); err != nil {
		return fmt.Errorf("%s did not rejoin after its restart: %w", w, err)
	}
	rec.event(c.Out, "%s %s again", w, m.rejoinedWord())
	if err := pause(c.Baseline); err != nil {
		return err
	}
	nw, _ := m.writer(ctx)
	var cut *config.Site // the lowest-priority site that is not the writer
	for i, s := range c.Cluster.Sites {
		if s.Name != nw && slices.Contains(sites, s.Name) && (cut == nil || s.Priority < cut.Priority) {
			cut = &c.Cluster.Sites[i]
		}
	}
	if cut == nil {
		return errors.New("no site to cut off besides the writer")
	}
	rec.event(c.Out, "partition %s (cut off from the other sites)", cut.Name)
	if err := inject("partition", cut.Name); err != nil {
		return err
	}
	if err := pause(c.Hold); err != nil {
		return err
	}
	rec.event(c.Out, "heal %s", cut.Name)
	if err := inject("heal", cut.Name); err != nil {
		return err
	}
	if err := waitFor(ctx, 90*time.Second, func() bool { return m.rejoined(ctx, cut.Name) }); err != nil {
		return fmt.Errorf("%s did not rejoin after the heal: %w", cut.Name, err)
	}
	rec.event(c.Out, "%s %s again", cut.Name, m.rejoinedWord())
	return pause(c.Baseline)
}

func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// finalCross issues tokens at the first site and validates each at every other site. What it
// judges is whether a token is accepted: a request that fails without an answer (a timeout, a
// 5xx, as a slow machine gives) is tried again, for up to 30 s; a refusal counts at once.
func finalCross(ctx context.Context, clients map[string]*Keystone, sites []string, c Config) map[string][2]int {
	out := map[string][2]int{}
	own := map[string]string{}
	tryFor := func(f func() error) error {
		return retry(ctx, 30*time.Second, func() error {
			if err := f(); err != nil && !Refused(err) {
				return err
			} else if err != nil {
				return retryStop{err}
			}
			return nil
		})
	}
	for _, s := range sites[1:] {
		tryFor(func() (err error) { own[s], err = clients[s].Issue(ctx, c.User, c.Password); return err })
	}
	for range 10 {
		var tok string
		err := tryFor(func() (err error) { tok, err = clients[sites[0]].Issue(ctx, c.User, c.Password); return err })
		for _, s := range sites[1:] {
			v := out[s]
			v[1]++
			if err == nil && own[s] != "" && tryFor(func() error { return clients[s].Validate(ctx, own[s], tok) }) == nil {
				v[0]++
			}
			out[s] = v
		}
	}
	return out
}

// retryStop ends a retry at once with its error.
type retryStop struct{ error }

// keystoneChecksums reads CHECKSUM TABLE of every keystone table at every node, after making
// the node catch up (wsrep_sync_wait), and folds them into one digest per node. In DRBD mode
// only the Primary has a database: its digest is the one.
func keystoneChecksums(ctx context.Context, cl *config.Cluster, m mode) map[string]string {
	out := map[string]string{}
	cred, credErr := cl.Credential("app")
	sites, params := m.databases(ctx)
	for _, name := range sites {
		s, err := cl.Site(name)
		sum := ""
		switch {
		case credErr != nil:
			err = credErr
		case err == nil:
			sum, err = nodeChecksum(ctx, s.SQL, cred, params)
		}
		if err != nil {
			sum = "error: " + err.Error()
		}
		out[name] = sum
	}
	return out
}

func nodeChecksum(ctx context.Context, addr string, cred config.Credential, params map[string]string) (string, error) {
	db, err := galera.Open(addr, cred, 3*time.Second, 60*time.Second, params)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'keystone' ORDER BY TABLE_NAME")
	if err != nil {
		return "", err
	}
	var tables []string
	for rows.Next() {
		var t string
		rows.Scan(&t)
		tables = append(tables, "keystone.`"+t+"`")
	}
	rows.Close()
	if len(tables) == 0 {
		return "", errors.New("no keystone tables")
	}
	cs, err := db.QueryContext(ctx, "CHECKSUM TABLE "+strings.Join(tables, ", "))
	if err != nil {
		return "", err
	}
	defer cs.Close()
	var parts []string
	for cs.Next() {
		var t string
		var v sql.NullInt64
		if err := cs.Scan(&t, &v); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%s=%d", t, v.Int64))
	}
	return fmt.Sprintf("%d tables, %08x", len(parts), crcOf(strings.Join(parts, ","))), cs.Err()
}

// Print writes the drill's result for a person and the picture to c.SVG.
func Print(w io.Writer, r *Result, svgPath string) error {
	fmt.Fprintln(w)
	r.Timeline.Print(w)
	for _, kind := range []string{"token", "swift"} {
		if kind == "swift" && r.Swift == nil {
			continue
		}
		fmt.Fprintf(w, "%s error windows (from the first failure after an event to the first success after the last):\n", map[string]string{"token": "token", "swift": "Swift"}[kind])
		n := 0
		for _, win := range r.Windows {
			if win.Kind == kind {
				n++
				fmt.Fprintf(w, "  %-8s %5.1fs after %q (%d failed operations)\n", win.Site, win.Length.Seconds(), win.Event, win.Failed)
			}
		}
		if n == 0 {
			fmt.Fprintln(w, "  none")
		}
	}
	for _, c := range r.Timeline.Cuts() {
		fmt.Fprintf(w, "at %s while it was cut off, its own clients' operations (ok/total):", c.Site)
		for _, op := range opOrder {
			if n, ok := c.Ops[op]; ok {
				fmt.Fprintf(w, " %s %d/%d;", op, n[0], n[1])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "cross-site validation during the drill (issued at → validated at: ok/total):")
	cs := r.Timeline.CrossSite()
	keys := make([][2]string, 0, len(cs))
	for k := range cs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(w, "  %s → %s: %d/%d\n", k[0], k[1], cs[k][0], cs[k][1])
	}
	fmt.Fprintf(w, "after the drill, tokens issued at %s validated at:", r.Timeline.Sites[0])
	for _, s := range r.Timeline.Sites[1:] {
		v := r.FinalCross[s]
		fmt.Fprintf(w, " %s %d/%d;", s, v[0], v[1])
	}
	fmt.Fprintln(w)
	if r.Swift != nil {
		fmt.Fprintf(w, "after the drill, the %d acknowledged Swift objects read back whole at:", r.Swift.Acked)
		for _, s := range r.Timeline.Sites {
			if n, ok := r.Swift.ReadOK[s]; ok || r.Swift.Missing[s] > 0 {
				fmt.Fprintf(w, " %s %d/%d;", s, n, r.Swift.Acked)
			}
		}
		fmt.Fprintln(w)
		for _, e := range r.Swift.Errors {
			fmt.Fprintln(w, "  ", e)
		}
	}
	fmt.Fprintln(w, "keystone schema checksum per node:")
	for _, s := range slices.Sorted(maps.Keys(r.Checksums)) {
		fmt.Fprintf(w, "  %-8s %s\n", s, r.Checksums[s])
	}
	if svgPath != "" {
		if err := atomicfile.WriteFile(svgPath, r.Timeline.SVG(), atomicfile.Options{Mode: 0o644}); err != nil {
			return fmt.Errorf("write the picture: %w", err)
		}
		fmt.Fprintf(w, "picture: %s\n", svgPath)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "OK: Keystone kept issuing and validating tokens; the schema is the same on every node")
		if r.Swift != nil {
			fmt.Fprintln(w, "OK: every object a Swift proxy acknowledged reads back whole at every site")
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "FAIL:", p)
	}
	return nil
}
