package load_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/keyha/keyha/load"
)

// TestPrepareSchemaRetriesBrokenConnection: the CI's DRBD nemesis once stopped before writing
// anything, its front's connection broken as it recorded the run ("invalid connection"). Here a
// proxy in front of a real MariaDB breaks the connection that sends the meta row, once: with
// time to retry, the set-up completes, also without --reset (what the broken attempt made is
// the run's own); with none, the broken connection is the error.
func TestPrepareSchemaRetriesBrokenConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	_, _, sock := freezableDB(t)
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		reset    bool
		retryFor time.Duration
		ok       bool
	}{
		{"reset, retried", true, 10 * time.Second, true},
		{"no reset, retried", false, 10 * time.Second, true},
		{"no time to retry", true, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cuts := &atomic.Int32{}
			cuts.Store(1)
			db := openVia(t, cutProxy(t, sock, []byte("INTO "+load.Schema+".meta"), cuts, &atomic.Int32{}))
			if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+load.Schema); err != nil {
				t.Fatal(err)
			}
			h := load.Header{Run: "retried", Rows: 3, Created: time.Now()}
			err := load.PrepareSchema(ctx, db, h, 1, c.reset, c.retryFor, time.Second)
			if cuts.Load() != 0 {
				t.Fatal("the proxy never broke the meta row's connection")
			}
			if !c.ok {
				if !errors.Is(err, mysql.ErrInvalidConn) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("with no time to retry: %v, want the broken connection", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("set-up with one broken connection: %v", err)
			}
			var run string
			if err := db.QueryRowContext(ctx, "SELECT v FROM "+load.Schema+".meta WHERE k = 'run'").Scan(&run); err != nil || run != h.Run {
				t.Fatalf("meta names run %q (%v), want %q", run, err, h.Run)
			}
		})
	}
	t.Run("in use is not retried", func(t *testing.T) {
		looks := &atomic.Int32{} // attempts: each looks for the database first
		db := openVia(t, cutProxy(t, sock, []byte("information_schema.SCHEMATA"), &atomic.Int32{}, looks))
		err := load.PrepareSchema(ctx, db, load.Header{Run: "second", Rows: 3, Created: time.Now()}, 1, false, 10*time.Second, time.Second)
		if !errors.Is(err, load.ErrSchemaInUse) || looks.Load() != 1 {
			t.Fatalf("a schema in use: %v after %d attempts, want ErrSchemaInUse after 1", err, looks.Load())
		}
	})
}

// openVia opens a pool to the server at the unix socket sock as root, with a 2 s read timeout
// like the harness's own.
func openVia(t *testing.T, sock string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", sock
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// cutProxy forwards a unix socket to sock, counts in hits the client's writes holding marker,
// and closes the connection instead of forwarding one, as many times as cuts says.
func cutProxy(t *testing.T, sock string, marker []byte, cuts, hits *atomic.Int32) string {
	path := filepath.Join(t.TempDir(), "cut.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", sock)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(c, s); c.Close() }()
			go func() {
				defer s.Close()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 && bytes.Contains(buf[:n], marker) {
						hits.Add(1)
						if left := cuts.Load(); left > 0 && cuts.CompareAndSwap(left, left-1) {
							return
						}
					}
					if n > 0 {
						if _, werr := s.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return path
}
