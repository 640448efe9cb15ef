package load

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
)

// CheckConfig says what to check: the journal of a run, and every node (one per site).
type CheckConfig struct {
	Journal  string
	Nodes    []Target // each site's SQL address: the check reads every node directly
	Cred     config.Credential
	Chunk    uint64 // ids per chunk (default 10000)
	MaxDrill int    // chunks drilled into at most (default 100)
	Timeout  time.Duration
}

// CheckReport is the verdict of a check. OK is true only when every node was read and nothing
// acknowledged is missing, no two nodes differ and no payload fails its checksum.
type CheckReport struct {
	Run             string            `json:"run"`
	Journal         string            `json:"journal"`
	Acknowledged    uint64            `json:"acknowledged"`
	JournalTorn     bool              `json:"journal_torn,omitempty"`
	JournalDups     uint64            `json:"journal_duplicates"`
	Nodes           []NodeCheck       `json:"nodes"`
	Missing         map[string]uint64 `json:"acknowledged_missing"` // by site: must be 0
	Unacked         uint64            `json:"present_unacknowledged"`
	Duplicates      uint64            `json:"duplicates"`
	Corrupt         map[string]uint64 `json:"corrupt_payloads"`
	DivergentChunks []ChunkFinding    `json:"divergent_chunks"`
	WriterChanges   int               `json:"writer_changes"` // times the node taking the writes changed
	TwoWriters      []string          `json:"two_writers"`    // moments two nodes took writes at once: must be empty
	SuspectChunks   int               `json:"suspect_chunks"`
	NotDrilled      int               `json:"suspect_chunks_not_drilled,omitempty"`
	Elapsed         float64           `json:"elapsed_seconds"`
	Problems        []string          `json:"problems"`
	OK              bool              `json:"ok"`
}

// NodeCheck is one node's part of the check.
type NodeCheck struct {
	Site    string  `json:"site"`
	Addr    string  `json:"addr"`
	Run     string  `json:"run,omitempty"`
	Rows    uint64  `json:"rows"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

const rowExpr = "CONCAT_WS('#', id, site, payload, crc)"

// ErrJournalMismatch means the journal belongs to a run other than the one in the database.
var ErrJournalMismatch = errors.New("journal from another run")

// Check proves, or disproves, that every acknowledged row of a run is on every node, identical.
func Check(ctx context.Context, c CheckConfig) (*CheckReport, error) {
	if c.Chunk == 0 {
		c.Chunk = 10000
	}
	if c.MaxDrill == 0 {
		c.MaxDrill = 100
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	if len(c.Nodes) == 0 {
		return nil, errors.New("no node to check")
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	start := time.Now()
	a, err := ReadJournal(c.Journal)
	if err != nil {
		return nil, err
	}
	r := &CheckReport{Run: a.Run, Journal: c.Journal, Acknowledged: a.Count, JournalTorn: a.Torn, JournalDups: a.Dups,
		Missing: map[string]uint64{}, Corrupt: map[string]uint64{}}
	jsums := journalSums(a, c.Chunk)

	// Every node at once: each computes its own sums; only one row per chunk crosses the network.
	dbs := make([]*sql.DB, len(c.Nodes))
	sums := make([]map[uint64]ChunkSum, len(c.Nodes))
	r.Nodes = make([]NodeCheck, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		r.Nodes[i] = NodeCheck{Site: n.Site, Addr: n.Addr}
		wg.Go(func() {
			t0 := time.Now()
			defer func() { r.Nodes[i].Seconds = time.Since(t0).Seconds() }()
			db, err := galera.Open(n.Addr, c.Cred, 3*time.Second, c.Timeout, map[string]string{"wsrep_sync_wait": "1"})
			if err != nil {
				r.Nodes[i].Error = err.Error()
				return
			}
			dbs[i] = db
			run, _, err := readMeta(ctx, db)
			if err != nil {
				r.Nodes[i].Error = err.Error()
				return
			}
			r.Nodes[i].Run = run
			if run != a.Run {
				return
			}
			s, err := nodeSums(ctx, db, c.Chunk)
			if err != nil {
				r.Nodes[i].Error = err.Error()
				return
			}
			sums[i] = s
			for _, v := range s {
				r.Nodes[i].Rows += v.Rows
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
	}()
	for _, n := range r.Nodes {
		if n.Run != "" && n.Run != a.Run {
			return nil, fmt.Errorf("%w: journal %s is run %s, but %s holds run %s: use that run's journal", ErrJournalMismatch, c.Journal, a.Run, n.Site, n.Run)
		}
	}

	checked := map[string]map[uint64]ChunkSum{}
	for i, n := range r.Nodes {
		if n.Error != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("site %s (%s) could not be checked: %s", n.Site, n.Addr, n.Error))
			continue
		}
		checked[n.Site] = sums[i]
		for _, s := range sums[i] {
			r.Corrupt[n.Site] += s.Corrupt
		}
	}
	sus := suspects(jsums, checked)
	r.SuspectChunks = len(sus)
	if len(sus) > c.MaxDrill {
		r.NotDrilled = len(sus) - c.MaxDrill
		r.Problems = append(r.Problems, fmt.Sprintf("%d suspect chunks were not drilled into (--max-drill %d)", r.NotDrilled, c.MaxDrill))
		sus = sus[:c.MaxDrill]
	}
	for _, k := range sus {
		lo, hi := max(k*c.Chunk, 1), (k+1)*c.Chunk-1
		rows := map[string][]RowSum{}
		for i, n := range r.Nodes {
			if checked[n.Site] == nil {
				continue
			}
			rs, err := nodeRows(ctx, dbs[i], lo, hi)
			if err != nil {
				return nil, fmt.Errorf("drill into ids %d..%d at %s: %w", lo, hi, n.Site, err)
			}
			rows[n.Site] = rs
		}
		f := drill(k, lo, hi, a.Has, rows)
		r.Unacked += f.Unacked
		for s, m := range f.Missing {
			r.Missing[s] += m
		}
		if f.Diverged || len(f.Missing) > 0 {
			r.DivergentChunks = append(r.DivergentChunks, f)
		}
	}
	if a.Dups > 0 {
		r.Duplicates += a.Dups
		r.Problems = append(r.Problems, fmt.Sprintf("the journal records %d ids twice", a.Dups))
	}
	for _, s := range slices.Sorted(maps.Keys(r.Missing)) {
		r.Problems = append(r.Problems, fmt.Sprintf("site %s lacks %d acknowledged rows", s, r.Missing[s]))
	}
	for _, s := range slices.Sorted(maps.Keys(r.Corrupt)) {
		if r.Corrupt[s] > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("site %s holds %d rows whose payload fails its checksum", s, r.Corrupt[s]))
		}
	}
	for _, f := range r.DivergentChunks {
		if f.Diverged {
			r.Problems = append(r.Problems, fmt.Sprintf("ids %d..%d differ between sites (%s)", f.Lo, f.Hi, siteList(f)))
		}
	}
	// Which node took each row is one replicated value: any node that was checked tells it.
	for i, n := range r.Nodes {
		if checked[n.Site] == nil {
			continue
		}
		w, err := twoWriters(ctx, dbs[i], TwoWritersWindow)
		if err != nil {
			return nil, err
		}
		r.WriterChanges, r.TwoWriters = w.changes, w.found
		for _, f := range w.found {
			r.Problems = append(r.Problems, "two writers: "+f)
		}
		break
	}
	r.Elapsed = time.Since(start).Seconds()
	r.OK = len(r.Problems) == 0
	return r, nil
}

func siteList(f ChunkFinding) string {
	set := map[string]bool{}
	for _, r := range f.Rows {
		for _, s := range append(slices.Clone(r.Missing), r.Differ...) {
			set[s] = true
		}
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func nodeSums(ctx context.Context, db *sql.DB, chunk uint64) (map[uint64]ChunkSum, error) {
	rows, err := db.QueryContext(ctx, "SELECT id DIV ?, COUNT(*), BIT_XOR(CRC32("+rowExpr+")), BIT_XOR(CRC32(id)), SUM(id), "+
		"SUM(CRC32(payload) <> crc) FROM "+Schema+".item GROUP BY 1", chunk)
	if err != nil {
		return nil, fmt.Errorf("checksum %s.item by chunks: %w", Schema, err)
	}
	defer rows.Close()
	out := map[uint64]ChunkSum{}
	for rows.Next() {
		var k uint64
		var s ChunkSum
		if err := rows.Scan(&k, &s.Rows, &s.RowXor, &s.IDXor, &s.IDSum, &s.Corrupt); err != nil {
			return nil, fmt.Errorf("read chunk checksums: %w", err)
		}
		out[k] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chunk checksums: %w", err)
	}
	return out, nil
}

func nodeRows(ctx context.Context, db *sql.DB, lo, hi uint64) ([]RowSum, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, CRC32("+rowExpr+") FROM "+Schema+".item WHERE id BETWEEN ? AND ? ORDER BY id", lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RowSum
	for rows.Next() {
		var r RowSum
		if err := rows.Scan(&r.ID, &r.CRC); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PrintCheck writes a check's verdict for a person.
func PrintCheck(w io.Writer, r *CheckReport) {
	fmt.Fprintf(w, "run %s, journal %s: %d rows acknowledged", r.Run, r.Journal, r.Acknowledged)
	if r.JournalTorn {
		fmt.Fprint(w, " (last record torn: the harness died while writing it)")
	}
	fmt.Fprintln(w)
	for _, n := range r.Nodes {
		if n.Error != "" {
			fmt.Fprintf(w, "  %-8s %-18s NOT CHECKED: %s\n", n.Site, n.Addr, n.Error)
			continue
		}
		fmt.Fprintf(w, "  %-8s %-18s %10d rows  missing %d  corrupt %d  (%.1fs)\n", n.Site, n.Addr, n.Rows, r.Missing[n.Site], r.Corrupt[n.Site], n.Seconds)
	}
	fmt.Fprintf(w, "acknowledged but missing: %d; present but unacknowledged: %d (allowed); duplicates: %d; divergent chunks: %d of %d suspect\n",
		sum(r.Missing), r.Unacked, r.Duplicates, countDiverged(r.DivergentChunks), r.SuspectChunks)
	fmt.Fprintf(w, "the node taking writes changed %d times; moments with two writers: %d\n", r.WriterChanges, len(r.TwoWriters))
	for _, f := range r.DivergentChunks {
		fmt.Fprintf(w, "  ids %d..%d:", f.Lo, f.Hi)
		for _, s := range slices.Sorted(maps.Keys(f.Missing)) {
			fmt.Fprintf(w, " %s lacks %d acknowledged;", s, f.Missing[s])
		}
		fmt.Fprintln(w)
		for _, d := range f.Rows {
			fmt.Fprintf(w, "    id %d (acknowledged %v): missing at %v, differs at %v\n", d.ID, d.Acked, d.Missing, d.Differ)
		}
	}
	if r.OK {
		fmt.Fprintf(w, "OK: every acknowledged row is on every node, identical (%.1fs)\n", r.Elapsed)
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "FAIL:", p)
	}
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

func countDiverged(fs []ChunkFinding) (n int) {
	for _, f := range fs {
		if f.Diverged {
			n++
		}
	}
	return n
}
