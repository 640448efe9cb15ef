package galera_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/labtest"
)

// TestTxOutsidePrimary is how TestNemesis lost acknowledged rows: a transaction open at padova
// when padova leaves the Primary component cannot be ended (COMMIT and ROLLBACK both meet 1047);
// a pool that takes that connection back turns the next autocommit INSERT on it into a write that
// is answered OK and never committed. First the hazard itself, with database/sql's own
// BeginTx/Rollback; then InTx, which must close such a connection so the same INSERT commits.
func TestTxOutsidePrimary(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	ctx := context.Background()
	lngs := l.DB(t, l.Sites["lngs"].SQL, "lab")
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS keyha_txtest", "CREATE OR REPLACE TABLE keyha_txtest.t (id INT PRIMARY KEY)"} {
		if _, err := lngs.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { lngs.Exec("DROP DATABASE IF EXISTS keyha_txtest") })
	probe := l.DB(t, l.Sites["padova"].SQL, "lab")
	// cut runs while a transaction is open at padova: padova leaves the Primary component, and
	// the transaction's next statement meets 1047.
	cut := func(tx *sql.Tx, id int) error {
		if _, err := tx.Exec("INSERT INTO keyha_txtest.t VALUES (?)", id); err != nil {
			t.Fatalf("insert %d while Primary: %v", id, err)
		}
		l.Lab(t, "partition", "padova")
		labtest.Eventually(t, time.Minute, "padova non-Primary", func() (bool, string) {
			s := l.Status(t, probe, "wsrep_cluster_status")
			return s == "non-Primary", s
		})
		_, err := tx.Exec("INSERT INTO keyha_txtest.t VALUES (?)", id+1)
		return err
	}
	heal := func() {
		l.Lab(t, "heal", "padova")
		l.AllSynced(t, time.Minute)
	}
	// present reads, at lngs and caught up, whether row id was committed.
	present := func(id int) bool {
		var n int
		c, err := lngs.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ExecContext(ctx, "SET SESSION wsrep_sync_wait=1"); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM keyha_txtest.t WHERE id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	notReady := func(err error) bool {
		var me *mysql.MySQLError
		return errors.As(err, &me) && me.Number == 1047
	}

	for _, c := range []struct {
		name string
		run  func(db *sql.DB) error
		lost bool // the autocommit INSERT after the heal is lost
	}{
		{"database/sql's BeginTx and Rollback", func(db *sql.DB) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			err = cut(tx, 10)
			if rerr := tx.Rollback(); !notReady(rerr) {
				t.Errorf("rollback outside the Primary component: %v, want 1047", rerr)
			}
			return err
		}, true},
		{"galera.InTx", func(db *sql.DB) error {
			err := galera.InTx(ctx, db, func(tx *sql.Tx) error { return cut(tx, 20) })
			if err != nil && !strings.Contains(err.Error(), "connection was closed") {
				t.Errorf("InTx's error does not say the connection was closed: %v", err)
			}
			return err
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := l.DB(t, l.Sites["padova"].SQL, "lab")
			db.SetMaxOpenConns(1) // the next statement takes the same connection, if the pool kept it
			err := c.run(db)
			heal()
			if !notReady(err) {
				t.Fatalf("the statement outside the Primary component: %v, want 1047", err)
			}
			id := 30
			if !c.lost {
				id = 40
			}
			if _, err := db.Exec("INSERT INTO keyha_txtest.t VALUES (?)", id); err != nil {
				t.Fatalf("autocommit insert after the heal: %v", err)
			}
			db.Close() // what the open transaction held, if any, is rolled back now
			if got := present(id); got == c.lost {
				t.Errorf("autocommit insert %d answered OK: committed %v, want %v", id, got, !c.lost)
			}
			if present(id - 20) {
				t.Errorf("row %d of the interrupted transaction was committed", id-20)
			}
		})
	}
}
