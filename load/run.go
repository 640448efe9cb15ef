package load

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// Target is where a worker sends its rows: a site's HAProxy or a node. Site goes into each row.
type Target struct {
	Site string `json:"site"`
	Addr string `json:"addr"`
}

// RunConfig is one load run.
type RunConfig struct {
	Rows        uint64
	Concurrency int
	Batch       int // rows per INSERT (one transaction)
	Targets     []Target
	Cred        config.Credential
	Journal     string
	Reset       bool
	Faults      []Fault
	Injector    Injector
	RetryFor    time.Duration // how long one batch is retried before it is given up (unacknowledged)
	// BackoffMax caps the wait between a batch's attempts, which doubles from 25 ms; default 1 s.
	// A failover bench lowers it, so "writes resumed" is not the back-off's schedule.
	BackoffMax  time.Duration
	Timeout     time.Duration // the whole run's bound
	For         time.Duration // stop handing out rows after this long (0: write all Rows)
	NemesisSeed uint64        // the seed Faults were drawn from (Nemesis), for the report; 0: none
	Progress    io.Writer     // nil: silent
	TTY         bool          // Progress is a terminal: redraw one line
}

// Report is what a run did. Errors counts failed attempts by class, Retries those that were tried
// again; a batch given up after RetryFor counts in GivenUp and its ids are simply unacknowledged;
// one still being retried when the run was stopped counts in Interrupted instead.
type Report struct {
	Run         string            `json:"run"`
	Journal     string            `json:"journal"`
	Rows        uint64            `json:"rows_planned"`
	Acked       uint64            `json:"rows_acknowledged"`
	Journaled   uint64            `json:"rows_journaled"`
	GivenUp     uint64            `json:"rows_given_up"`
	Interrupted uint64            `json:"rows_interrupted"`
	BySite      map[string]uint64 `json:"rows_by_site"`
	Elapsed     float64           `json:"elapsed_seconds"`
	RowsPerSec  float64           `json:"rows_per_second"`
	Latency     Latency           `json:"commit_latency"`
	Errors      map[Class]uint64  `json:"errors"`
	Retries     map[Class]uint64  `json:"retries"`
	// CommittedAfterError counts batches whose attempt failed with an unknown outcome and whose
	// retry found the rows already there (1062): they did commit.
	CommittedAfterError uint64        `json:"committed_after_error"`
	Faults              []FaultResult `json:"faults"`
	NemesisSeed         uint64        `json:"nemesis_seed,omitempty"` // replay with keyha load run --nemesis SEED
	Start               time.Time     `json:"start"`                  // the load's start: fault offsets count from here
	Concurrency         int           `json:"concurrency"`
	Batch               int           `json:"batch"`
}

// Latency summarises commit latencies in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func summarise(h *Hist) Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{Count: h.Count(), P50: ms(h.Quantile(0.5)), P95: ms(h.Quantile(0.95)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

func (c *RunConfig) validate() error {
	switch {
	case c.Rows == 0:
		return errors.New("--rows must be at least 1")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("--concurrency %d: want 1..1024", c.Concurrency)
	case c.Batch < 1 || c.Batch > 10000:
		return fmt.Errorf("--batch %d: want 1..10000", c.Batch)
	case len(c.Targets) == 0:
		return errors.New("no target: --via haproxy or --via SITE[,SITE...]")
	case c.Journal == "":
		return errors.New("--journal is required: where acknowledged ids are recorded for the check")
	case len(c.Faults) > 0 && c.Injector == nil:
		return errors.New("--faults needs a way to inject them (the lab script)")
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 2 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	return nil
}

// NewRunID returns a fresh run id and the payload seed derived from it.
func NewRunID() (string, uint64) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:]), binary.LittleEndian.Uint64(b[:])
}

// openTarget opens a one-connection pool to a target and checks it answers, so an unreachable
// target or a wrong password is reported before anything is written.
func openTarget(ctx context.Context, t Target, cred config.Credential, conns int) (*sql.DB, error) {
	db, err := galera.Open(t.Addr, cred, 3*time.Second, 20*time.Second, nil)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("reach %s at %s as %s: %w (check the address, that the service runs, and the credentials file)", t.Site, t.Addr, cred.User, err)
	}
	return db, nil
}

// Run loads Rows rows through the targets, journaling every acknowledged id, while the fault
// schedule runs. It returns the report even when it stops early with an error.
func Run(ctx context.Context, c RunConfig) (*Report, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	dbs := make([]*sql.DB, len(c.Targets))
	for i, t := range c.Targets {
		per := (c.Concurrency + len(c.Targets) - 1 - i) / len(c.Targets)
		db, err := openTarget(ctx, t, c.Cred, max(per, 1))
		if err != nil {
			for _, d := range dbs[:i] {
				d.Close()
			}
			return nil, err
		}
		defer db.Close()
		dbs[i] = db
	}
	run, seed := NewRunID()
	h := Header{Run: run, Rows: c.Rows, Created: time.Now()}
	// The journal first: a refusal to overwrite one must come before --reset drops anything.
	j, err := CreateJournal(c.Journal, h, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	if err := prepareSchema(ctx, dbs[0], h, seed, c.Reset, c.RetryFor, c.BackoffMax); err != nil {
		j.Close()
		os.Remove(c.Journal) // ours, and it holds no acknowledgement
		return nil, err
	}

	r := &Report{Run: run, Journal: c.Journal, Rows: c.Rows, BySite: map[string]uint64{}, Errors: map[Class]uint64{},
		Retries: map[Class]uint64{}, Concurrency: c.Concurrency, Batch: c.Batch}
	l := &loader{cfg: c, seed: seed, journal: j}
	start := time.Now()
	r.Start, r.NemesisSeed = start, c.NemesisSeed
	if c.For > 0 {
		l.until = start.Add(c.For)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	faultsDone := make(chan []FaultResult, 1)
	loadDone := make(chan struct{})
	l.resume = newResumeWatch(c.Targets)
	go func() { faultsDone <- runFaults(ctx, loadDone, start, c.Faults, c.Injector, l.resume, c.Progress) }()
	stopProgress := l.progress(start)

	g, gctx := errgroup.WithContext(loadCtx)
	ws := make([]*worker, c.Concurrency)
	for i := range ws {
		ws[i] = &worker{l: l, target: c.Targets[i%len(c.Targets)], db: dbs[i%len(c.Targets)],
			errs: map[Class]uint64{}, retries: map[Class]uint64{}}
		g.Go(func() error { return ws[i].run(gctx) })
	}
	werr := g.Wait()
	close(loadDone)
	stopProgress()
	r.Faults = <-faultsDone
	for i := range r.Faults {
		if w := r.Faults[i].watch; w != nil {
			r.Faults[i].Resumed = l.resume.resumed(w)
		}
	}
	jerr := j.Close()

	r.Elapsed = time.Since(start).Seconds()
	var hist Hist
	for _, w := range ws {
		hist.Merge(&w.hist)
		r.Acked += w.acked
		r.GivenUp += w.givenUp
		r.Interrupted += w.interrupted
		r.BySite[w.target.Site] += w.acked
		r.CommittedAfterError += w.committedAfterError
		for k, v := range w.errs {
			r.Errors[k] += v
		}
		for k, v := range w.retries {
			r.Retries[k] += v
		}
	}
	r.Journaled = j.Synced()
	r.Latency = summarise(&hist)
	if r.Elapsed > 0 {
		r.RowsPerSec = float64(r.Acked) / r.Elapsed
	}
	switch {
	case werr != nil:
		return r, werr
	case jerr != nil:
		return r, jerr
	case ctx.Err() != nil && l.next.Load() <= c.Rows:
		return r, fmt.Errorf("load stopped before all rows were written: %w", context.Cause(ctx))
	}
	return r, nil
}

type loader struct {
	cfg     RunConfig
	seed    uint64
	journal *JournalWriter
	next    atomic.Uint64 // the next id to hand out is next+1
	acked   atomic.Uint64
	failed  atomic.Uint64 // failed attempts, for the progress line
	resume  *resumeWatch
	until   time.Time // RunConfig.For's end; zero: none
}

// claim hands out the next batch of ids [lo, hi], or ok=false when all are handed out or the
// run's time is up.
func (l *loader) claim() (lo, hi uint64, ok bool) {
	if !l.until.IsZero() && time.Now().After(l.until) {
		return 0, 0, false
	}
	b := uint64(l.cfg.Batch)
	end := l.next.Add(b)
	lo = end - b + 1
	if lo > l.cfg.Rows {
		return 0, 0, false
	}
	return lo, min(end, l.cfg.Rows), true
}

type worker struct {
	l                   *loader
	target              Target
	db                  *sql.DB
	hist                Hist
	acked, givenUp      uint64
	interrupted         uint64 // rows of a batch being retried when the run was stopped
	committedAfterError uint64
	errs, retries       map[Class]uint64
}

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + Schema + ".item (id, site, payload, crc, node, at) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,@@wsrep_node_name,NOW(6))")
	}
	return b.String()
}

func (w *worker) run(ctx context.Context) error {
	stmt, err := w.db.PrepareContext(ctx, insertSQL(w.l.cfg.Batch))
	if err != nil && ctx.Err() == nil {
		// The target may be failing over right now: the statement is prepared again on first use.
		stmt = nil
	}
	if stmt != nil {
		defer stmt.Close()
	}
	args := make([]any, 0, 4*w.l.cfg.Batch)
	for {
		lo, hi, ok := w.l.claim()
		if !ok || ctx.Err() != nil {
			return nil
		}
		args = args[:0]
		for id := lo; id <= hi; id++ {
			p := Payload(w.l.seed, id)
			args = append(args, id, w.target.Site, p, CRC(p))
		}
		if err := w.write(ctx, stmt, lo, hi, args); err != nil {
			return err
		}
	}
}

// write commits one batch, retrying what can be retried for RetryFor. A retry after an attempt of
// unknown outcome that meets 1062 (duplicate key) shows the first attempt's rows, which confirm
// then proves durable before they count as acknowledged.
func (w *worker) write(ctx context.Context, stmt *sql.Stmt, lo, hi uint64, args []any) error {
	n := int(hi - lo + 1)
	deadline := time.Now().Add(w.l.cfg.RetryFor)
	failedBefore := false
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		var err error
		// No context on the statement itself: a cancellable one costs the driver two goroutine
		// hand-offs per statement; the connection's read timeout bounds it instead.
		if stmt != nil && n == w.l.cfg.Batch {
			_, err = stmt.Exec(args...)
		} else {
			_, err = w.db.Exec(insertSQL(n), args...)
		}
		class := ClassOther
		if err == nil {
			end := time.Now()
			w.hist.Add(end.Sub(t0))
			w.l.resume.ack(w.target.Site, t0, end)
		} else {
			class = Classify(err)
		}
		if class == ClassDuplicate && failedBefore {
			// The rows are there, maybe not yet durable: acknowledged only once confirmed.
			if err = confirm(ctx, w.db, lo, hi, fmt.Sprintf("ack %d.%d", lo, attempt)); err == nil {
				w.committedAfterError++
			} else if class = Classify(err); class == ClassDuplicate {
				class = ClassOther // never the proof itself
			}
		}
		if err == nil {
			w.acked += uint64(n)
			w.l.acked.Add(uint64(n))
			ids := make([]uint64, 0, n)
			for id := lo; id <= hi; id++ {
				ids = append(ids, id)
			}
			if jerr := w.l.journal.Append(ids...); jerr != nil {
				return fmt.Errorf("stop loading: %w", jerr)
			}
			return nil
		}
		if ctx.Err() != nil {
			w.interrupted += uint64(n)
			return nil
		}
		w.errs[class]++
		w.l.failed.Add(1)
		if class == ClassFatal {
			return fmt.Errorf("write through %s (%s): %w", w.target.Site, w.target.Addr, err)
		}
		if class == ClassDuplicate || time.Now().After(deadline) {
			w.givenUp += uint64(n)
			return nil
		}
		if jerr := w.l.journal.Err(); jerr != nil {
			return fmt.Errorf("stop loading: %w", jerr)
		}
		w.retries[class]++
		failedBefore = true
		select {
		case <-ctx.Done():
			w.interrupted += uint64(n)
			return nil
		case <-time.After(backoff(attempt, w.l.cfg.BackoffMax)):
		}
	}
}

// confirm proves that rows lo..hi, which a retry met (1062), are durable: on one connection it
// sees them all, then commits a write of its own. Seeing them is not enough: InnoDB shows a
// commit before its log is flushed, and a DRBD Primary whose I/O froze when it lost its peer
// holds that flush until the Primary is killed, so a row seen there may never be acknowledged
// and is lost with it. A commit after the rows is durable only once every commit before it in
// the log is.
func confirm(ctx context.Context, db *sql.DB, lo, hi uint64, key string) error {
	// In one transaction that, if it cannot be ended, takes its connection with it (galera.InTx):
	// a pooled connection left in it would make later rows "acknowledged" that never commit.
	err := galera.InTx(ctx, db, func(tx *sql.Tx) error {
		var n uint64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+Schema+".item WHERE id BETWEEN ? AND ?", lo, hi).Scan(&n); err != nil {
			return fmt.Errorf("read them: %w", err)
		}
		if n != hi-lo+1 {
			return fmt.Errorf("%d of them present", n)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+Schema+".meta (k, v) VALUES (?, ?)", key, fmt.Sprint(hi)); err != nil {
			return fmt.Errorf("write after them: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("confirm rows %d..%d: %w", lo, hi, err)
	}
	return nil
}

// progress prints the run's progress until the returned func is called: on a terminal, one line
// redrawn in place (each redraw clears what a longer line left at its end); elsewhere (a log file,
// a pipe) a plain line every 5 s, no control characters.
func (l *loader) progress(start time.Time) func() {
	out := l.cfg.Progress
	if out == nil {
		return func() {}
	}
	every := plainEvery
	if l.cfg.TTY {
		every = redrawEvery
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				if l.cfg.TTY {
					fmt.Fprint(out, redraw(ProgressLine(l.acked.Load(), l.cfg.Rows, time.Since(start), l.failed.Load(), true))+"\n")
				}
				return
			case <-t.C:
				line := ProgressLine(l.acked.Load(), l.cfg.Rows, time.Since(start), l.failed.Load(), l.cfg.TTY)
				if l.cfg.TTY {
					fmt.Fprint(out, redraw(line))
				} else {
					fmt.Fprintln(out, line)
				}
			}
		}
	}()
	return func() { once.Do(func() { close(stop); <-done }) }
}

// How often progress is shown: redrawn on a terminal, a new line elsewhere.
var redrawEvery, plainEvery = 250 * time.Millisecond, 5 * time.Second

// redraw returns line drawn over the current terminal line: to its start, the line, then clear to
// the end of the line.
func redraw(line string) string { return "\r" + line + "\x1b[K" }

// ProgressLine renders rows done of total, the rate, the ETA and the failed attempts; with bar, a
// 30-column bar in front.
func ProgressLine(done, total uint64, elapsed time.Duration, failed uint64, bar bool) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(total-min(done, total))/rate) * time.Second).Round(time.Second).String()
	}
	s := fmt.Sprintf("%d/%d rows (%.1f%%) %.0f rows/s ETA %s, %d failed attempts", done, total, 100*frac, rate, eta, failed)
	if !bar {
		return "load: " + s
	}
	n := int(frac * 30)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", 30-n) + "] " + s
}
