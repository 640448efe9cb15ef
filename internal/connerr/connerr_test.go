package connerr

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

func TestIs(t *testing.T) {
	for _, c := range []struct {
		name         string
		err          error
		conn, refuse bool
	}{
		{"refused, wrapped twice", fmt.Errorf("poll bari: %w", fmt.Errorf("open: %w", dialErr(syscall.ECONNREFUSED))), true, true},
		{"reset by peer", fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true, false},
		{"broken pipe, bare errno", fmt.Errorf("write: %w", syscall.EPIPE), true, false},
		{"no route", fmt.Errorf("x: %w", syscall.EHOSTUNREACH), true, false},
		{"driver's bad conn", fmt.Errorf("exec: %w", driver.ErrBadConn), true, false},
		{"mysql invalid conn", fmt.Errorf("query: %w", mysql.ErrInvalidConn), true, false},
		{"unexpected EOF", fmt.Errorf("read packet: %w", io.ErrUnexpectedEOF), true, false},
		{"server error", fmt.Errorf("query: %w", &mysql.MySQLError{Number: 1045, Message: "Access denied"}), false, false},
		// Text is not a kind: an error that only says so is not taken for one.
		{"text only", errors.New("dial tcp 10.77.0.2:3306: connect: connection refused"), false, false},
		{"deadline", context.DeadlineExceeded, false, false},
		{"nil", nil, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Is(c.err); got != c.conn {
				t.Errorf("Is(%v) = %v, want %v", c.err, got, c.conn)
			}
			if got := Refused(c.err); got != c.refuse {
				t.Errorf("Refused(%v) = %v, want %v", c.err, got, c.refuse)
			}
		})
	}
}

// A real refused dial, as the driver's net.Dial makes it, is both.
func TestRealRefusal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Fatalf("dial %s after close succeeded", addr)
	}
	err = fmt.Errorf("poll: %w", fmt.Errorf("open: %w", err))
	if !Is(err) || !Refused(err) {
		t.Fatalf("Is = %v, Refused = %v for %v; want both", Is(err), Refused(err), err)
	}
}
