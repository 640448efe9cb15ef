package load

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/keyha/keyha/internal/connerr"
)

// Class is what kind of failure a write met; it decides whether to retry and whether the write
// may have committed anyway.
type Class string

const (
	ClassDeadlock   Class = "deadlock"      // 1213: InnoDB deadlock or a Galera certification conflict (MariaDB reports both as 1213)
	ClassLockWait   Class = "lock_wait"     // 1205: lock wait timeout; the statement was rolled back
	ClassNotReady   Class = "not_ready"     // 1047 and friends: the node is not in a Primary component; nothing was done
	ClassReadOnly   Class = "read_only"     // 1290/1836: the node refuses writes; nothing was done
	ClassConnection Class = "connection"    // the connection failed: the write may or may not have committed
	ClassDuplicate  Class = "duplicate_key" // 1062 on a first attempt: the id existed before this run
	ClassFatal      Class = "fatal"         // credentials, grants, missing schema: retrying cannot help
	ClassOther      Class = "other"
)

// Transient reports a failure that leaves nothing done, or nothing certain, and may pass: a lost
// connection, a node out of the Primary component or refusing writes, a deadlock or a lock wait.
// The run's set-up retries these; a writer retries every class but fatal and duplicate_key.
func (c Class) Transient() bool {
	switch c {
	case ClassConnection, ClassNotReady, ClassReadOnly, ClassDeadlock, ClassLockWait:
		return true
	}
	return false
}

// backoff is the wait before attempt+1: 25 ms doubling, at most ceiling.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	return min(time.Duration(1<<min(attempt, 5))*25*time.Millisecond, ceiling)
}

// Classify sorts a write error.
func Classify(err error) Class {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case errors.As(err, &me):
		switch me.Number {
		case 1213:
			return ClassDeadlock
		case 1205:
			return ClassLockWait
		case 1047, 1180, 4163:
			return ClassNotReady
		case 1290, 1836:
			return ClassReadOnly
		case 1062:
			return ClassDuplicate
		case 1044, 1045, 1049, 1142, 1146, 1698:
			return ClassFatal
		case 1053, 1317, 1927, 2006, 2013:
			return ClassConnection // interrupted by a shutdown or a kill: outcome unknown
		}
		return ClassOther
	case errors.Is(err, context.Canceled):
		return ClassOther
	case errors.As(err, &ne), connerr.Is(err), errors.Is(err, context.DeadlineExceeded):
		return ClassConnection
	}
	return ClassOther
}
