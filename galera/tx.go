package galera

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// A node that leaves the Primary component while a client's transaction is open refuses COMMIT
// and ROLLBACK alike (1047, "WSREP has not yet prepared node for application use") and keeps the
// transaction open, past the node's return to the Primary component (measured in the lab).
// database/sql puts a connection whose Rollback failed with a server error back in its pool; every
// autocommit write on it from then on joins that open transaction: answered OK, never replicated,
// never committed, gone when the connection closes. TestNemesis lost 118,777 acknowledged rows
// that way in CI. So a transaction that cannot be ended for certain takes its connection with it.

// InTx runs f in a transaction on one connection of db and commits it; f's error, or the
// commit's, is returned. When the transaction cannot be ended for certain (COMMIT failed, or f
// failed and ROLLBACK did too), the connection is closed instead of going back to the pool.
func InTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		// START TRANSACTION refused (1047 outside the Primary component) opens nothing; a broken
		// connection is dropped by database/sql itself.
		return err
	}
	if err := f(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			discard(c)
			return fmt.Errorf("%w (and the rollback failed, so the connection was closed: %v)", err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		// A certification failure (1213) has rolled back; 1047 has not. No guessing which.
		discard(c)
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// discard closes c's connection rather than returning it to the pool.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
}
