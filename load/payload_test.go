package load

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestPayload(t *testing.T) {
	a, b := Payload(1, 42), Payload(1, 43)
	if len(a) != payloadLen || a == b || a != Payload(1, 42) || a == Payload(2, 42) {
		t.Errorf("payloads %q %q", a, b)
	}
	// Values MariaDB returns for SELECT CRC32('hello'), CRC32(12345).
	if CRC("hello") != 907060870 || idCRC(12345) != 3421846044 {
		t.Errorf("CRC32 differs from MariaDB's: %d %d", CRC("hello"), idCRC(12345))
	}
}

func TestTransient(t *testing.T) {
	for c, want := range map[Class]bool{ClassConnection: true, ClassNotReady: true, ClassReadOnly: true, ClassDeadlock: true, ClassLockWait: true,
		ClassDuplicate: false, ClassFatal: false, ClassOther: false} {
		if c.Transient() != want {
			t.Errorf("%s: transient %v, want %v", c, c.Transient(), want)
		}
	}
	for _, c := range []struct {
		attempt       int
		ceiling, want time.Duration
	}{{0, time.Second, 25 * time.Millisecond}, {1, time.Second, 50 * time.Millisecond}, {5, time.Second, 800 * time.Millisecond},
		{9, time.Second, 800 * time.Millisecond}, {3, 100 * time.Millisecond, 100 * time.Millisecond}} {
		if got := backoff(c.attempt, c.ceiling); got != c.want {
			t.Errorf("backoff(%d, %s) = %s, want %s", c.attempt, c.ceiling, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Class
	}{
		{&mysql.MySQLError{Number: 1213}, ClassDeadlock},
		{fmt.Errorf("insert: %w", &mysql.MySQLError{Number: 1205}), ClassLockWait},
		{&mysql.MySQLError{Number: 1047}, ClassNotReady},
		{&mysql.MySQLError{Number: 1290}, ClassReadOnly},
		{&mysql.MySQLError{Number: 1062}, ClassDuplicate},
		{&mysql.MySQLError{Number: 1045}, ClassFatal},
		{&mysql.MySQLError{Number: 1146}, ClassFatal},
		{&mysql.MySQLError{Number: 1927}, ClassConnection},
		{&mysql.MySQLError{Number: 9999}, ClassOther},
		{mysql.ErrInvalidConn, ClassConnection},
		{io.ErrUnexpectedEOF, ClassConnection},
		{fmt.Errorf("write: %w", fmt.Errorf("open: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})), ClassConnection},
		{fmt.Errorf("commit: %w", syscall.ECONNRESET), ClassConnection},
		// By kind, not by text: an error that only says "connection refused" is not one.
		{errors.New("dial tcp 10.77.0.1:3307: connect: connection refused"), ClassOther},
		{errors.New("something else"), ClassOther},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%v: got %s, want %s", c.err, got, c.want)
		}
	}
}
