package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// BankSchema is the bank's own database.
const BankSchema = "keyha_bank"

// BankConfig is one bank run: Concurrency clients move money between Accounts accounts through
// Targets while an auditor per node reads the total every AuditEvery. The total never changes, so
// any read that sees another total is a violation of transactional consistency.
type BankConfig struct {
	Accounts    int
	Balance     int64 // each account's opening balance
	Concurrency int
	Targets     []Target // where transfers go
	Nodes       []Target // each site's node, audited directly
	Cred        config.Credential
	Duration    time.Duration // 0: until ctx is done
	AuditEvery  time.Duration
	Reset       bool
	Progress    io.Writer
}

// BankReport is what the bank saw. OK only with no violation, every node's final books equal.
type BankReport struct {
	Accounts   int                   `json:"accounts"`
	Total      int64                 `json:"expected_total"`
	Transfers  uint64                `json:"transfers_committed"`
	Failed     map[Class]uint64      `json:"transfer_errors"`
	Reads      map[string]uint64     `json:"audits_by_site"`
	ReadErrors map[string]uint64     `json:"audit_errors_by_site"`
	Violations []Violation           `json:"violations"`
	Final      map[string]FinalBooks `json:"final"`
	Elapsed    float64               `json:"elapsed_seconds"`
	Problems   []string              `json:"problems"`
	OK         bool                  `json:"ok"`
}

// Violation is one read whose total was wrong.
type Violation struct {
	Site  string  `json:"site"`
	At    float64 `json:"at_seconds"`
	Total int64   `json:"total"`
	Rows  int     `json:"accounts"`
}

// FinalBooks is a node's end state: its total and a checksum over every balance.
type FinalBooks struct {
	Total    int64  `json:"total"`
	Checksum uint64 `json:"checksum"`
	Error    string `json:"error,omitempty"`
}

// Bank runs the bank until Duration or ctx ends, then compares every node's books.
func Bank(ctx context.Context, c BankConfig) (*BankReport, error) {
	if c.Accounts < 2 {
		return nil, errors.New("--accounts must be at least 2")
	}
	if c.Concurrency < 1 || len(c.Targets) == 0 || len(c.Nodes) == 0 {
		return nil, errors.New("the bank needs --concurrency ≥ 1, a target and the nodes to audit")
	}
	if c.Balance <= 0 {
		c.Balance = 1000
	}
	if c.AuditEvery <= 0 {
		c.AuditEvery = 100 * time.Millisecond
	}
	dbs := make([]*sql.DB, len(c.Targets))
	for i, t := range c.Targets {
		db, err := openTarget(ctx, t, c.Cred, c.Concurrency)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		dbs[i] = db
	}
	if err := prepareBank(ctx, dbs[0], c); err != nil {
		return nil, err
	}
	r := &BankReport{Accounts: c.Accounts, Total: int64(c.Accounts) * c.Balance, Failed: map[Class]uint64{},
		Reads: map[string]uint64{}, ReadErrors: map[string]uint64{}, Final: map[string]FinalBooks{}}
	runCtx := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	start := time.Now()
	var mu sync.Mutex
	var transfers atomic.Uint64
	var wg sync.WaitGroup
	for i := range c.Concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			db := dbs[i%len(dbs)]
			for runCtx.Err() == nil {
				from, to := rng.IntN(c.Accounts)+1, rng.IntN(c.Accounts-1)+1
				if to >= from {
					to++
				}
				err := transfer(runCtx, db, from, to, int64(rng.IntN(50)+1))
				if err == nil {
					transfers.Add(1)
					continue
				}
				if runCtx.Err() != nil {
					return
				}
				mu.Lock()
				r.Failed[Classify(err)]++
				mu.Unlock()
				select {
				case <-runCtx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	auditors := make([]*sql.DB, len(c.Nodes))
	for i, n := range c.Nodes {
		db, err := galera.Open(n.Addr, c.Cred, time.Second, 2*time.Second, nil)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		defer db.Close()
		auditors[i] = db
		wg.Go(func() {
			t := time.NewTicker(c.AuditEvery)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
				}
				total, rows, err := books(runCtx, db)
				mu.Lock()
				switch {
				case err != nil:
					if runCtx.Err() == nil {
						r.ReadErrors[n.Site]++
					}
				case total != r.Total || rows != c.Accounts:
					r.Reads[n.Site]++
					r.Violations = append(r.Violations, Violation{Site: n.Site, At: time.Since(start).Seconds(), Total: total, Rows: rows})
				default:
					r.Reads[n.Site]++
				}
				mu.Unlock()
			}
		})
	}
	if c.Progress != nil {
		wg.Go(func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					mu.Lock()
					fmt.Fprintf(c.Progress, "bank: %d transfers, %d violations, audits %v\n", transfers.Load(), len(r.Violations), r.Reads)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	r.Transfers = transfers.Load()
	r.Elapsed = time.Since(start).Seconds()

	// The end: every node, caught up (wsrep_sync_wait), must hold the same books.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var first *FinalBooks
	for _, n := range c.Nodes {
		fb := finalBooks(endCtx, n, c.Cred)
		r.Final[n.Site] = fb
		switch {
		case fb.Error != "":
			r.Problems = append(r.Problems, fmt.Sprintf("site %s: final books unreadable: %s", n.Site, fb.Error))
		case fb.Total != r.Total:
			r.Problems = append(r.Problems, fmt.Sprintf("site %s: final total %d, want %d", n.Site, fb.Total, r.Total))
		case first != nil && fb.Checksum != first.Checksum:
			r.Problems = append(r.Problems, fmt.Sprintf("site %s: balances differ from %s's", n.Site, c.Nodes[0].Site))
		}
		if first == nil && fb.Error == "" {
			first = &fb
		}
	}
	for _, v := range r.Violations {
		r.Problems = append(r.Problems, fmt.Sprintf("site %s at %.1fs read total %d over %d accounts, want %d", v.Site, v.At, v.Total, v.Rows, r.Total))
	}
	if r.Transfers == 0 {
		r.Problems = append(r.Problems, "no transfer committed")
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}

func prepareBank(ctx context.Context, db *sql.DB, c BankConfig) error {
	var exists int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", BankSchema).Scan(&exists); err != nil {
		return fmt.Errorf("look for an existing %s database: %w", BankSchema, err)
	}
	if exists > 0 && !c.Reset {
		return fmt.Errorf("%w: database %s already exists; pass --reset to drop it and open new books", ErrSchemaInUse, BankSchema)
	}
	stmts := []string{
		"DROP DATABASE IF EXISTS " + BankSchema,
		"CREATE DATABASE " + BankSchema,
		"CREATE TABLE " + BankSchema + ".account (id INT NOT NULL PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB",
		fmt.Sprintf("INSERT INTO %s.account SELECT seq, %d FROM %s.seq_1_to_%d", BankSchema, c.Balance, BankSchema, c.Accounts),
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("open the books (%s): %w", q, err)
		}
	}
	return nil
}

// transfer moves amount from one account to another in one transaction, if the money is there.
// galera.InTx closes the connection when the transaction cannot be ended: a half-done transfer
// left open on a pooled connection would be committed by that connection's next BEGIN.
func transfer(ctx context.Context, db *sql.DB, from, to int, amount int64) error {
	return galera.InTx(ctx, db, func(tx *sql.Tx) error {
		var bal int64
		// Lock both rows in id order, so two opposite transfers cannot deadlock locally.
		lo, hi := min(from, to), max(from, to)
		rows, err := tx.QueryContext(ctx, "SELECT id, balance FROM "+BankSchema+".account WHERE id IN (?, ?) ORDER BY id FOR UPDATE", lo, hi)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int
			var b int64
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return err
			}
			if id == from {
				bal = b
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if bal < amount {
			return nil // nothing to move: still a consistent transaction
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+BankSchema+".account SET balance = balance - ? WHERE id = ?", amount, from); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE "+BankSchema+".account SET balance = balance + ? WHERE id = ?", amount, to)
		return err
	})
}

func books(ctx context.Context, db *sql.DB) (total int64, rows int, err error) {
	var t sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT SUM(balance), COUNT(*) FROM "+BankSchema+".account").Scan(&t, &rows)
	return t.Int64, rows, err
}

func finalBooks(ctx context.Context, n Target, cred config.Credential) FinalBooks {
	// A node that has only just come back may refuse a first read (not yet ready, a connection the
	// nemesis's last fault left broken): the books are read again until ctx ends, and only the last
	// error counts.
	for {
		fb := readBooks(ctx, n, cred)
		if fb.Error == "" || ctx.Err() != nil {
			return fb
		}
		select {
		case <-ctx.Done():
			return fb
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func readBooks(ctx context.Context, n Target, cred config.Credential) FinalBooks {
	db, err := galera.Open(n.Addr, cred, 3*time.Second, 20*time.Second, map[string]string{"wsrep_sync_wait": "1"})
	if err != nil {
		return FinalBooks{Error: err.Error()}
	}
	defer db.Close()
	var fb FinalBooks
	var t sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT SUM(balance), BIT_XOR(CRC32(CONCAT(id, '#', balance))) FROM "+BankSchema+".account").Scan(&t, &fb.Checksum)
	if err != nil {
		return FinalBooks{Error: err.Error()}
	}
	fb.Total = t.Int64
	return fb
}
