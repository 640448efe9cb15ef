package galera

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The designated writer is one row in the database itself, so Galera's total order is the
// consensus: every node of the Primary component reads the same row, a node outside it cannot
// change it, and concurrent changes are serialised by a compare-and-set on the epoch.
const writerDDL = `CREATE TABLE IF NOT EXISTS keyha.writer (
  id TINYINT PRIMARY KEY,
  site VARCHAR(64) NOT NULL,
  epoch BIGINT NOT NULL,
  hold_until DATETIME(3) NULL,  -- UTC
  changed_at DATETIME(3) NOT NULL,  -- UTC
  changed_by VARCHAR(64) NOT NULL,
  reason VARCHAR(255) NOT NULL
) ENGINE=InnoDB`

// ErrEpochMoved is returned by SetWriter when someone changed the writer since it was read.
var ErrEpochMoved = errors.New("the designated writer changed meanwhile (epoch moved)")

// WriterRow is the designated writer as recorded.
type WriterRow struct {
	Site       string `json:"site"`
	Epoch      int64  `json:"epoch"`
	HoldActive bool   `json:"hold_active,omitempty"`
}

func readWriter(ctx context.Context, db *sql.DB) (WriterRow, error) {
	var w WriterRow
	var hold sql.NullBool
	err := db.QueryRowContext(ctx, "SELECT site, epoch, hold_until > UTC_TIMESTAMP(3) FROM keyha.writer WHERE id=1").Scan(&w.Site, &w.Epoch, &hold)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049):
		return WriterRow{}, nil // nothing recorded yet
	case err != nil:
		return w, fmt.Errorf("read the designated writer: %w", err)
	}
	w.HoldActive = hold.Valid && hold.Bool
	return w, nil
}

// ReadWriter reads the designated writer through db.
func ReadWriter(ctx context.Context, db *sql.DB) (WriterRow, error) { return readWriter(ctx, db) }

// SetWriter records site as the designated writer if the epoch is still expect (-1: whatever it
// is), with an optional hold expiry (for the Hold value). It returns the new epoch. The schema and
// the row are made only when missing: their DDL is total-order (TOI) in Galera and can wait on the
// whole cluster, which a switchover or a successor's record must not do for nothing.
func SetWriter(ctx context.Context, db *sql.DB, site string, expect int64, hold time.Duration, by, reason string) (int64, error) {
	// Times are the server's, in UTC, whatever the session's time zone (Italy is UTC+1/+2) and the
	// operator's clock: the hold is written and judged against the same clock.
	q := "UPDATE keyha.writer SET site=?, epoch=epoch+1, hold_until=IF(?>0, UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND, NULL), " +
		"changed_at=UTC_TIMESTAMP(3), changed_by=?, reason=? WHERE id=1"
	args := []any{site, hold.Microseconds(), hold.Microseconds(), by, reason}
	if expect >= 0 {
		q += " AND epoch=?"
		args = append(args, expect)
	}
	update := func() (int64, error) {
		// A view change (a node leaving or coming back) makes the node refuse writes for a moment
		// (not in the Primary component, a write-set aborted). The compare-and-set on the epoch
		// makes a retry safe: a write that did land moved the epoch, and its retry changes nothing.
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := db.ExecContext(ctx, q, args...)
			if err == nil {
				return res.RowsAffected()
			}
			if !transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
				return 0, err
			}
			select {
			case <-ctx.Done():
				return 0, err
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	n, err := update()
	var me *mysql.MySQLError
	missing := errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049) // no table, no schema
	if err == nil && n == 0 {
		var one int
		missing = errors.Is(db.QueryRowContext(ctx, "SELECT 1 FROM keyha.writer WHERE id=1").Scan(&one), sql.ErrNoRows)
	}
	if missing {
		for _, p := range []string{
			"CREATE DATABASE IF NOT EXISTS keyha",
			writerDDL,
			"INSERT IGNORE INTO keyha.writer (id, site, epoch, changed_at, changed_by, reason) VALUES (1, '', 0, UTC_TIMESTAMP(3), 'init', 'created')",
		} {
			if _, err := db.ExecContext(ctx, p); err != nil {
				return 0, fmt.Errorf("prepare keyha.writer: %w", err)
			}
		}
		n, err = update()
	}
	if err != nil {
		return 0, fmt.Errorf("record %s as writer: %w", site, err)
	}
	if n == 0 {
		return 0, ErrEpochMoved
	}
	w, err := readWriter(ctx, db)
	if err != nil {
		return 0, err
	}
	return w.Epoch, nil
}

// transient says whether a write failed only because the node was between views: not in the
// Primary component for a moment (1047, 1180), or its write-set was aborted or waited on one (1205,
// 1213).
func transient(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1047, 1180, 1205, 1213:
		return true
	}
	return false
}
