package galera

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name string
		err  error
		want ErrClass
	}{
		{"none", nil, ErrNone},
		{"wrong password", fmt.Errorf("poll: %w", &mysql.MySQLError{Number: 1045}), ErrAuth},
		{"deadline", fmt.Errorf("poll: %w", context.DeadlineExceeded), ErrTimeout},
		{"refused, wrapped twice", fmt.Errorf("poll: %w", fmt.Errorf("open: %w", refused)), ErrUnreachable},
		{"reset", fmt.Errorf("poll: %w", syscall.ECONNRESET), ErrUnreachable},
		{"invalid conn", mysql.ErrInvalidConn, ErrUnreachable},
		{"server error", &mysql.MySQLError{Number: 1146}, ErrQuery},
		// By kind, not by text.
		{"text that looks like one", errors.New("read: connection reset by peer, EOF"), ErrQuery},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

func TestTransientWriteErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1180, Message: "Error while appending streaming replication fragment(provider status: Not connected to Primary Component)"}, true},
		{fmt.Errorf("record: %w", &mysql.MySQLError{Number: 1047, Message: "WSREP has not yet prepared node for application use"}), true},
		{&mysql.MySQLError{Number: 1213}, true},
		{&mysql.MySQLError{Number: 1146}, false},
		{&mysql.MySQLError{Number: 1045}, false},
		{errors.New("connection refused"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
