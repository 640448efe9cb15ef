// Package connerr tells, by the error's kind and never by its text, whether a database call failed
// because the connection to the server could not be made or broke. Callers decide what that means:
// a poll reports the node unreachable, a write's outcome is unknown.
package connerr

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// errnos a socket reports when the peer is gone, refuses, or cannot be reached.
var errnos = []syscall.Errno{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN, syscall.ENOTCONN,
}

// sentinels the standard library and the MySQL driver return for a connection that broke.
var sentinels = []error{
	io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
	driver.ErrBadConn, sql.ErrConnDone, mysql.ErrInvalidConn, mysql.ErrMalformPkt,
}

// Is reports whether err, however deeply wrapped, is a failed or broken connection.
func Is(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	var op *net.OpError
	return errors.As(err, &op)
}

// Refused reports whether nothing listens at the address: the server is not running (or not yet).
func Refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
