package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/control"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/internal/connerr"
	"github.com/keyha/keyha/membership"
)

// The control endpoints let an operator command act on this site's node: read its position,
// bootstrap it, start and stop it, put it in maintenance. Every request must be signed with the
// cluster key (control package); one action runs at a time.
//
//	GET  /galera/position
//	POST /galera/bootstrap?method=new-cluster|pc.bootstrap
//	POST /galera/start
//	POST /galera/stop
//	POST /maint?on=1|0&reason=...
//	GET  /haproxy/galera   this site's HAProxy's view of the galera backend (its runtime socket)
type controller struct {
	a *Agent
	*guard
}

// guard checks each control request's signature, signs each answer, and runs one exclusive
// action at a time.
type guard struct {
	mtls   bool // the cluster runs TLS: a request must come with a verified client certificate
	keys   control.Keys
	verify *control.Verifier
	site   string
	log    *slog.Logger
	busy   sync.Mutex
}

// newGuard reads the cluster key; without a usable one every request is refused.
func newGuard(c *config.Cluster, site string, log *slog.Logger) *guard {
	keyFile := c.Gossip.KeyFile
	g := &guard{site: site, log: log, mtls: c.TLS.On()}
	if keyFile != "" {
		k, err := membership.ReadKey(keyFile)
		if err != nil {
			log.Warn("control requests will be refused: no usable key", "err", err)
		}
		g.keys = control.Derive(k)
	}
	g.verify = &control.Verifier{Key: g.keys.Control, Site: site}
	return g
}

const actionTimeout = 4 * time.Minute

// maxControlBody bounds a request body (a sealed Keystone key set is the largest).
const maxControlBody = 16 << 20

func (a *Agent) controlRoutes(mux *http.ServeMux) {
	c := &controller{a: a, guard: newGuard(a.cfg().cluster, a.cfg().site.Name, a.log)}
	mux.HandleFunc("GET /galera/position", c.handle(c.position))
	mux.HandleFunc("POST /galera/bootstrap", c.handle(c.bootstrap))
	mux.HandleFunc("POST /galera/start", c.handle(func(r *http.Request) (any, string, error) { return c.command("start", true) }))
	mux.HandleFunc("POST /galera/stop", c.handle(func(r *http.Request) (any, string, error) { return c.command("stop", false) }))
	mux.HandleFunc("POST /maint", c.handle(c.maint))
	mux.HandleFunc("GET /haproxy/galera", c.handleAs(false, c.haproxyServers))
	keyRepos{guard: c.guard, site: func() *config.Site { return c.a.cfg().site }}.routes(mux)
}

func (c *guard) handle(f func(r *http.Request) (any, string, error)) http.HandlerFunc {
	return c.handleAs(true, f)
}

// handleAs serves f; exclusive actions wait for no other, the rest (DRBD's fence request, which
// arrives while a promotion holds the lock) run alongside.
func (c *guard) handleAs(exclusive bool, f func(r *http.Request) (any, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep := control.Reply{}
		code := http.StatusOK
		nonce := ""
		defer func() {
			b, _ := json.Marshal(rep)
			b = append(b, '\n')
			w.Header().Set("Content-Type", "application/json")
			if len(c.keys.Reply) > 0 {
				w.Header().Set(control.ReplyHeader, control.SignReply(c.keys.Reply, c.site, nonce, code, b))
			}
			w.WriteHeader(code)
			w.Write(b)
		}()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
		if err != nil {
			code, rep.Error = http.StatusRequestEntityTooLarge, fmt.Sprintf("read the request body: %v", err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if c.mtls && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			nonce = control.NonceOf(r.Header.Get(control.Header))
			c.log.Warn("control request refused: no client certificate of this cluster", "path", r.URL.Path, "from", r.RemoteAddr)
			code, rep.Error = http.StatusForbidden, "control requests need a client certificate of this cluster (mutual TLS): see tls.operator_cert"
			return
		}
		nonce, err = c.verify.Verify(r.Method, r.URL.RequestURI(), body, r.Header.Get(control.Header), time.Now())
		if err != nil {
			nonce = control.NonceOf(r.Header.Get(control.Header))
			c.log.Warn("control request refused", "path", r.URL.Path, "from", r.RemoteAddr, "err", err)
			code, rep.Error = http.StatusForbidden, err.Error()
			return
		}
		if exclusive {
			if !c.busy.TryLock() {
				code, rep.Error = http.StatusConflict, "another control action is running at this site"
				return
			}
			defer c.busy.Unlock()
		}
		// Actions outlast the listener's 5 s write timeout.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(actionTimeout + 10*time.Second))
		lvl := slog.LevelInfo
		if r.Method == http.MethodGet {
			lvl = slog.LevelDebug // reads; a switchover polls them ten times a second
		}
		c.log.Log(r.Context(), lvl, "control action", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "from", r.RemoteAddr)
		res, out, err := f(r)
		rep.Output = out
		if err != nil {
			code, rep.Error = http.StatusInternalServerError, err.Error()
			c.log.Warn("control action failed", "path", r.URL.Path, "err", err)
			return
		}
		if res != nil {
			rep.Result, _ = json.Marshal(res)
		}
	}
}

// sqlState reads the node's wsrep position over SQL; ok is false when mysqld refuses the
// connection (it is not running), err when it could not tell (it may be hung).
func (c *controller) sqlState(ctx context.Context) (st map[string]string, running bool, err error) {
	cred, err := c.a.cfg().cluster.Credential("monitor")
	if err != nil {
		return nil, false, err
	}
	db, err := galera.Open(c.a.cfg().site.SQL, cred, 2*time.Second, 3*time.Second, nil)
	if err != nil {
		return nil, false, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status','wsrep_local_state_uuid','wsrep_last_committed','wsrep_local_state_comment')")
	if err != nil {
		if connerr.Refused(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read the node's wsrep status: %w", err)
	}
	defer rows.Close()
	st = map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, true, err
		}
		st[strings.ToLower(k)] = v
	}
	return st, true, rows.Err()
}

func (c *controller) position(r *http.Request) (any, string, error) {
	ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
	defer cancel()
	p := galera.SitePosition{Site: c.a.cfg().site.Name, Priority: c.a.cfg().site.Priority}
	st, running, err := c.sqlState(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("is mysqld running? %w", err)
	}
	if running {
		p.Running, p.ClusterStatus, p.Source = true, st["wsrep_cluster_status"], "wsrep_last_committed"
		p.UUID = st["wsrep_local_state_uuid"]
		fmt.Sscan(st["wsrep_last_committed"], &p.Seqno)
		return p, "", nil
	}
	if c.a.cfg().site.Datadir == "" {
		return nil, "", errors.New("the cluster file names no datadir for this site: grastate.dat cannot be read")
	}
	g, err := galera.ReadGraState(c.a.cfg().site.Datadir)
	if err != nil {
		return nil, "", err
	}
	p.Position, p.SafeToBootstrap, p.Source = galera.Position{UUID: g.UUID, Seqno: g.Seqno}, g.SafeToBootstrap, "grastate.dat"
	if g.Seqno >= 0 {
		return p, "", nil
	}
	// An unclean stop: ask InnoDB where it really is.
	out, err := c.run(ctx, "recover")
	if err != nil {
		return nil, out, err
	}
	rp, err := galera.ParseRecovered([]byte(out))
	if err != nil {
		return nil, out, err
	}
	if rp.UUID != g.UUID && g.UUID != galera.ZeroUUID {
		return nil, out, fmt.Errorf("recovered position %s names another cluster than grastate.dat (%s)", rp, g.UUID)
	}
	p.Position, p.Source = rp, "wsrep-recover"
	return p, out, nil
}

func (c *controller) bootstrap(r *http.Request) (any, string, error) {
	ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
	defer cancel()
	_, running, err := c.sqlState(ctx)
	if err != nil {
		return nil, "", err
	}
	switch m := r.URL.Query().Get("method"); m {
	case galera.PCBootstrap:
		if !running {
			return nil, "", errors.New("pc.bootstrap needs a running node, and mysqld is not running here")
		}
		cred, err := c.a.cfg().cluster.Credential("admin")
		if err != nil {
			return nil, "", err
		}
		db, err := galera.Open(c.a.cfg().site.SQL, cred, 2*time.Second, 10*time.Second, nil)
		if err != nil {
			return nil, "", err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'"); err != nil {
			return nil, "", fmt.Errorf("set pc.bootstrap=YES: %w", err)
		}
		return nil, "", nil
	case galera.NewCluster:
		if running {
			return nil, "", errors.New("mysqld is running here: a new cluster is bootstrapped from a stopped node (use pc.bootstrap for a running one)")
		}
		if err := galera.SetSafeToBootstrap(c.a.cfg().site.Datadir); err != nil {
			return nil, "", err
		}
		out, err := c.run(ctx, "bootstrap")
		return nil, out, err
	default:
		return nil, "", fmt.Errorf("method %q: want %s or %s", m, galera.NewCluster, galera.PCBootstrap)
	}
}

// command runs start or stop; start refuses when mysqld already answers, stop is idempotent.
func (c *controller) command(name string, refuseRunning bool) (any, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	_, running, err := c.sqlState(ctx)
	if err == nil && running == refuseRunning {
		if refuseRunning {
			return nil, "", errors.New("mysqld is already running here")
		}
		return nil, "mysqld is not running", nil
	}
	out, err := c.run(ctx, name)
	return nil, out, err
}

func (c *controller) run(ctx context.Context, name string) (string, error) {
	cmds := c.a.cfg().site.Commands
	line := map[string]string{"start": cmds.Start, "stop": cmds.Stop, "bootstrap": cmds.Bootstrap, "recover": cmds.Recover}[name]
	if line == "" {
		return "", fmt.Errorf("the cluster file sets no commands.%s for site %s", name, c.a.cfg().site.Name)
	}
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "sh", "-c", line).CombinedOutput()
	c.a.log.Info("ran command", "command", name, "seconds", time.Since(t0).Seconds(), "ok", err == nil)
	if err != nil {
		return string(out), fmt.Errorf("commands.%s (%s): %w", name, line, err)
	}
	return string(out), nil
}

func (c *controller) maint(r *http.Request) (any, string, error) {
	on := r.URL.Query().Get("on") == "1"
	if err := c.a.maint.Set(on, r.URL.Query().Get("reason")); err != nil {
		return nil, "", err
	}
	return nil, "", nil
}

// haproxyServers reads this site's HAProxy's galera backend through its runtime socket, a local
// path: operator commands elsewhere see every site's HAProxy through the sites' agents.
func (c *controller) haproxyServers(r *http.Request) (any, string, error) {
	if c.a.cfg().site.HAProxySocket == "" {
		return nil, "", fmt.Errorf("site %s has no haproxy_socket in the cluster file", c.a.cfg().site.Name)
	}
	rows, err := haproxy.Runtime{Socket: c.a.cfg().site.HAProxySocket}.ShowStat(r.Context(), "galera")
	return rows, "", err
}
