package galera

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/connerr"
)

// Poller reads one node's wsrep status. One Poller serves every checker of an agent, so the load on
// the database is one poll per interval whatever the number of HAProxies and scrapers.
type Poller struct {
	db      *sql.DB
	causal  *causal
	addr    string
	timeout time.Duration
	donor   time.Time // start of the current run of Donor/Desynced polls; Poll's alone
	// The applier's watch (StallSince): when it was first seen stuck, and wsrep_last_committed
	// at the previous poll. Poll's alone.
	stall     time.Time
	committed int64
	// The watch (watch.go): its own session, whose query outlasts the poll's read timeout.
	watchDB     *sql.DB
	watchCtx    context.Context
	watchCancel context.CancelFunc
}

// NewPoller opens a pool of one connection to addr with the credential c.
func NewPoller(addr string, c config.Credential, timeout time.Duration) (*Poller, error) {
	// Status reads must never wait for the cluster: wsrep_sync_wait=0.
	db, err := Open(addr, c, timeout, timeout, map[string]string{"wsrep_sync_wait": "0"})
	if err != nil {
		return nil, err
	}
	OneConn(db)
	cr, err := newCausal(addr, c, timeout)
	if err != nil {
		db.Close()
		return nil, err
	}
	wdb, err := Open(addr, c, timeout, watchSleep+timeout+5*time.Second, map[string]string{"wsrep_sync_wait": "0"})
	if err != nil {
		db.Close()
		cr.close()
		return nil, err
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	return &Poller{db: db, causal: cr, addr: addr, timeout: timeout, watchDB: wdb, watchCtx: ctx, watchCancel: cancel}, nil
}

// OneConn makes db a pool of one connection, renewed every 10 minutes.
func OneConn(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(10 * time.Minute)
}

// Close closes the connection pools.
func (p *Poller) Close() error {
	p.watchCancel()
	return errors.Join(p.causal.close(), p.db.Close(), p.watchDB.Close())
}

// Poll reads the node's status within the poll deadline. A failure is returned inside the
// Snapshot, classified, so the verdict can say why.
func (p *Poller) Poll(ctx context.Context) Snapshot {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	s, err := p.read(ctx)
	if err != nil || s.DesignatedErr != "" {
		// A session opened while the node was joining keeps failing (Error 1047) after it is
		// Synced: after any failure the next poll gets a fresh connection.
		p.db.SetMaxIdleConns(0)
		p.db.SetMaxIdleConns(1)
	}
	if err != nil {
		class := Classify(err)
		// The driver may report an expired deadline as "invalid connection", and its own read
		// deadline (the same length) can fire a moment before the context's: the clock knows.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || time.Since(start) >= p.timeout {
			class = ErrTimeout
		}
		s = Snapshot{ErrClass: class, Err: err.Error()}
		if class == ErrUnreachable {
			s.Gone = p.gone(ctx)
		}
	}
	s.At = time.Now()
	s.Took = s.At.Sub(start)
	switch {
	case s.ErrClass != ErrNone: // a failed poll neither starts nor ends a donor run
	case s.LocalState != StateDonor:
		p.donor = time.Time{}
	case p.donor.IsZero():
		p.donor = start
	}
	if s.ErrClass == ErrNone && s.LocalState == StateDonor {
		s.DonorSince = p.donor
	}
	p.stall = StallSince(p.stall, p.committed, s)
	p.committed, s.StalledSince = s.LastCommitted, p.stall
	return s
}

// gone reports whether nothing listens on the node's SQL port: a fresh TCP connection is refused.
// The kernel answers that for a process that has exited (or not yet opened its port); a stopped
// or hung mysqld still has its listening socket, whose backlog accepts, so it is never "gone".
// The pool's broken connection after a kill says only "broken": the dial tells.
func (p *Poller) gone(ctx context.Context) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err == nil {
		c.Close()
		return false
	}
	return connerr.Refused(err)
}

func (p *Poller) read(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	rows, err := p.db.QueryContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep%'")
	if err != nil {
		return s, fmt.Errorf("read wsrep status: %w", err)
	}
	status := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return s, fmt.Errorf("read wsrep status: %w", err)
		}
		status[strings.ToLower(k)] = v
	}
	if err := rows.Close(); err != nil {
		return s, fmt.Errorf("read wsrep status: %w", err)
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("read wsrep status: %w", err)
	}
	if _, ok := status["wsrep_local_state"]; !ok {
		return s, fmt.Errorf("read wsrep status: no wsrep_local_state: is this a Galera node (wsrep_on, wsrep_provider)?")
	}
	fill(&s, status)

	// SHOW GLOBAL VARIABLES, not SELECT @@...: a variable one server lacks (pxc_maint_mode on
	// MariaDB, wsrep_sst_donor_rejects_queries on Percona XtraDB Cluster 8.0) is absent, not an error.
	vars, err := p.vars(ctx, pollVars)
	if err != nil {
		return s, fmt.Errorf("read wsrep variables: %w", err)
	}
	if err := fillVars(&s, vars); err != nil {
		return s, fmt.Errorf("read wsrep variables: %w", err)
	}

	// The view and the designated writer matter only inside the Primary component.
	if s.ClusterStatus == "Primary" {
		mrows, err := p.db.QueryContext(ctx, "SELECT node_uuid, node_name, node_incoming_address FROM mysql.wsrep_cluster_members")
		if err != nil {
			return s, fmt.Errorf("read the Galera view: %w", err)
		}
		for mrows.Next() {
			var m Member
			if err := mrows.Scan(&m.NodeUUID, &m.Name, &m.Incoming); err != nil {
				mrows.Close()
				return s, fmt.Errorf("read the Galera view: %w", err)
			}
			s.Members = append(s.Members, m)
		}
		mrows.Close()
		if s.Designated, err = readWriter(ctx, p.db); err != nil {
			if ctx.Err() != nil {
				return s, err
			}
			s.DesignatedErr = err.Error()
		} else {
			// What the node has applied, or what the cluster had committed by the previous poll
			// (the causal read) if that is newer.
			row, ok := p.causal.read()
			s.Designated = newer(s.Designated, row, ok)
		}
	}
	return s, nil
}

// Settings reads the node's settings (ReadSettings) on the poller's connection.
func (p *Poller) Settings(ctx context.Context, site string, names []string) NodeSettings {
	return ReadSettings(ctx, p.db, site, names)
}

// pollVars are the global variables each poll reads.
var pollVars = []string{"read_only", "wsrep_reject_queries", "wsrep_sst_donor_rejects_queries", "wsrep_desync", "wsrep_node_name", "pxc_maint_mode"}

func (p *Poller) vars(ctx context.Context, names []string) (map[string]string, error) {
	rows, err := p.db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('"+strings.Join(names, "','")+"')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[strings.ToLower(k)] = v
	}
	return out, rows.Err()
}

// fillVars copies the global variables into a Snapshot. Booleans read as ON or 1 (SHOW prints
// ON/OFF); a node without wsrep_node_name is not a Galera node.
func fillVars(s *Snapshot, v map[string]string) error {
	name, ok := v["wsrep_node_name"]
	if !ok {
		return errors.New("no wsrep_node_name: is this a Galera node?")
	}
	on := func(k string) bool { return strings.EqualFold(v[k], "ON") || v[k] == "1" }
	s.NodeName = name
	s.ReadOnly, s.Desync, s.SSTDonorRejectsQueries = on("read_only"), on("wsrep_desync"), on("wsrep_sst_donor_rejects_queries")
	s.RejectQueries = v["wsrep_reject_queries"]
	s.MaintMode = strings.ToUpper(v["pxc_maint_mode"])
	return nil
}

// fill copies the wsrep status variables into a Snapshot; a value that does not parse stays zero,
// which Judge treats as unhealthy.
func fill(s *Snapshot, st map[string]string) {
	i := func(k string) int64 { n, _ := strconv.ParseInt(st[k], 10, 64); return n }
	f := func(k string) float64 { n, _ := strconv.ParseFloat(st[k], 64); return n }
	on := func(k string) bool { return strings.EqualFold(st[k], "ON") }
	s.LocalState = int(i("wsrep_local_state"))
	s.LocalStateComment = st["wsrep_local_state_comment"]
	s.ClusterStatus = st["wsrep_cluster_status"]
	s.Ready = on("wsrep_ready")
	s.Connected = on("wsrep_connected")
	s.ClusterSize = int(i("wsrep_cluster_size"))
	s.ClusterConfID = i("wsrep_cluster_conf_id")
	s.ClusterStateUUID = st["wsrep_cluster_state_uuid"]
	s.LastCommitted = i("wsrep_last_committed")
	s.LocalIndex = int(i("wsrep_local_index"))
	s.RecvQueue = i("wsrep_local_recv_queue")
	s.FlowControlPaused = f("wsrep_flow_control_paused")
	s.FlowControlSent = i("wsrep_flow_control_sent")
	// MariaDB says true/false; Percona XtraDB Cluster 8.0 has wsrep_flow_control_status ON/OFF.
	s.FlowControlActive = st["wsrep_flow_control_active"] == "true" || st["wsrep_flow_control_status"] == "ON"
	s.CertFailures = i("wsrep_local_cert_failures")
	s.GcommUUID = st["wsrep_gcomm_uuid"]
	s.EvictList = st["wsrep_evs_evict_list"]
}

// Classify sorts a poll error into the classes the verdict and the metrics name.
func Classify(err error) ErrClass {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case err == nil:
		return ErrNone
	case errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698):
		return ErrAuth
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return ErrTimeout
	case errors.As(err, &me):
		return ErrQuery
	case connerr.Is(err):
		return ErrUnreachable
	}
	return ErrQuery
}
