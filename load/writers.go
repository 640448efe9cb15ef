package load

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// TwoWritersWindow: a node that takes writes again within this long of its last one, with another
// node's writes in between, took writes while the other did. keyha moves the writer at most once
// per failover, and a failover takes about a second, so a writer cannot honestly come back this
// soon; and every fault the nemesis injects lasts 3 s or more.
const TwoWritersWindow = 2 * time.Second

// writerTrack follows the rows in the order their nodes took them and finds the moments two
// nodes took writes at once.
type writerTrack struct {
	window  time.Duration
	cur     string               // the node of the current run of rows
	last    map[string]time.Time // each node's last row
	changes int                  // times the writing node changed
	found   []string
}

func newWriterTrack(window time.Duration) *writerTrack {
	return &writerTrack{window: window, last: map[string]time.Time{}}
}

func (w *writerTrack) add(node string, at time.Time) {
	if node == w.cur {
		w.last[node] = at
		return
	}
	if w.cur != "" {
		w.changes++
		if prev, ok := w.last[node]; ok && at.Sub(prev) < w.window && len(w.found) < 10 {
			w.found = append(w.found, fmt.Sprintf("%s took writes at %s and again at %s, with %s taking writes in between (last at %s)",
				node, prev.Format("15:04:05.000000"), at.Format("15:04:05.000000"), w.cur, w.last[w.cur].Format("15:04:05.000000")))
		}
	}
	w.cur = node
	w.last[node] = at
}

// twoWriters reads, from one node, which node took each row and when, in that order.
func twoWriters(ctx context.Context, db *sql.DB, window time.Duration) (*writerTrack, error) {
	// Microseconds since the epoch: the check's connections do not parse DATETIME into time.Time.
	rows, err := db.QueryContext(ctx, "SELECT node, CAST(UNIX_TIMESTAMP(at) * 1000000 AS UNSIGNED) FROM "+Schema+".item WHERE at IS NOT NULL ORDER BY at, id")
	if err != nil {
		return nil, fmt.Errorf("read which node took each row: %w", err)
	}
	defer rows.Close()
	w := newWriterTrack(window)
	for rows.Next() {
		var node string
		var us int64
		if err := rows.Scan(&node, &us); err != nil {
			return nil, fmt.Errorf("read which node took each row: %w", err)
		}
		w.add(node, time.UnixMicro(us).UTC())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read which node took each row: %w", err)
	}
	return w, nil
}
