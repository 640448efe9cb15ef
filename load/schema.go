package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Schema is the database the harness owns. Its name starts with keyha_ so the lab's application
// user may use it without further grants.
const Schema = "keyha_load"

var schemaDDL = []string{
	"CREATE DATABASE " + Schema,
	"CREATE TABLE " + Schema + ".meta (k VARCHAR(32) NOT NULL PRIMARY KEY, v VARCHAR(255) NOT NULL) ENGINE=InnoDB",
	// id is the primary key, so a retried write that had in fact committed fails with 1062
	// instead of writing the row twice.
	// node and at: which node took the row, and when by its clock (the INSERT fills them in), so
	// the check can tell whether two nodes took writes at the same moment.
	"CREATE TABLE " + Schema + ".item (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, site VARCHAR(32) NOT NULL, " +
		"payload VARCHAR(128) NOT NULL, crc INT UNSIGNED NOT NULL, node VARCHAR(64) NOT NULL DEFAULT '', at DATETIME(6) NULL) ENGINE=InnoDB",
}

// ErrSchemaInUse means the harness's database already holds something and --reset was not given.
var ErrSchemaInUse = errors.New("schema in use")

// prepareSchema creates the harness's database, refusing one that holds anything unless reset,
// which drops it first. It records the run in the meta table. A failure that a writer would retry
// (a connection lost as a front changes writers, a node not yet in a Primary component) is retried
// for retryFor, waiting as a writer does (backoff); once this run has begun to make the database,
// the retry drops what it made.
func prepareSchema(ctx context.Context, db *sql.DB, h Header, seed uint64, reset bool, retryFor, backoffMax time.Duration) error {
	deadline := time.Now().Add(retryFor)
	for attempt := 0; ; attempt++ {
		made, err := makeSchema(ctx, db, h, seed, reset)
		wait := backoff(attempt, backoffMax)
		if err == nil || !Classify(err).Transient() || time.Now().Add(wait).After(deadline) {
			return err
		}
		reset = reset || made
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// makeSchema is one attempt of prepareSchema; made tells whether it got as far as changing
// anything.
func makeSchema(ctx context.Context, db *sql.DB, h Header, seed uint64, reset bool) (made bool, err error) {
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", Schema).Scan(&tables); err != nil {
		return false, fmt.Errorf("look for an existing %s database: %w", Schema, err)
	}
	var exists int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", Schema).Scan(&exists); err != nil {
		return false, fmt.Errorf("look for an existing %s database: %w", Schema, err)
	}
	if exists > 0 && !reset {
		what := fmt.Sprintf("%d tables", tables)
		if run, rows, err := readMeta(ctx, db); err == nil {
			what = fmt.Sprintf("run %s of %s rows", run, rows)
		}
		return false, fmt.Errorf("%w: database %s already exists (%s); check it with `keyha load check`, or pass --reset to drop it and start over", ErrSchemaInUse, Schema, what)
	}
	made = true
	if exists > 0 {
		if _, err := db.ExecContext(ctx, "DROP DATABASE "+Schema); err != nil {
			return made, fmt.Errorf("drop %s (--reset): %w", Schema, err)
		}
	}
	for _, q := range schemaDDL {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return made, fmt.Errorf("create schema (%s): %w", strings.SplitN(q, " (", 2)[0], err)
		}
	}
	_, err = db.ExecContext(ctx, "INSERT INTO "+Schema+".meta (k, v) VALUES ('run', ?), ('rows', ?), ('seed', ?), ('created', ?)",
		h.Run, fmt.Sprint(h.Rows), fmt.Sprint(seed), h.Created.UTC().Format("2006-01-02T15:04:05Z"))
	if err != nil {
		return made, fmt.Errorf("record the run in %s.meta: %w", Schema, err)
	}
	return made, nil
}

func readMeta(ctx context.Context, db *sql.DB) (run, rows string, err error) {
	var r, n sql.NullString
	err = db.QueryRowContext(ctx, "SELECT (SELECT v FROM "+Schema+".meta WHERE k='run'), (SELECT v FROM "+Schema+".meta WHERE k='rows')").Scan(&r, &n)
	run, rows = r.String, n.String
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 {
		return "", "", fmt.Errorf("%s has no meta table: it was not made by keyha load run", Schema)
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s.meta: %w", Schema, err)
	}
	if run == "" {
		return "", "", fmt.Errorf("%s.meta names no run", Schema)
	}
	return run, rows, nil
}
