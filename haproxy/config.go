// Package haproxy writes a site's HAProxy configuration and talks to HAProxy's runtime API.
package haproxy

import (
	"bytes"
	"fmt"
	"net"
	"text/template"
	"time"

	"github.com/keyha/keyha/config"
)

// Timings of the generated backend. Chosen for sites joined by a WAN: a connect may take a few
// round trips, and Keystone's connection pool keeps idle connections for up to an hour.
type Timings struct {
	Connect    time.Duration // timeout connect
	Client     time.Duration // idle client connection
	Check      time.Duration // health check timeout
	CheckInter time.Duration // HTTP health check interval
	FastInter  time.Duration // the interval while a server's state is changing
	DownInter  time.Duration // the interval while a server is DOWN: how soon a new writer is seen
	AgentInter time.Duration // agent-check interval
	Fall, Rise int
}

// WANTimings are the defaults `keyha haproxy config` writes. DownInter and AgentInter are short
// because a standby is DOWN (its check answers 503, its agent "down") until its agent names it
// writer, and it comes UP only once both its checks have asked again: the failover's last step.
// The agent-check runs every AgentInter whatever the server's state (measured: a new writer came
// UP 0.38-0.57 s after its agent named it with 500 ms). The cost, per HAProxy and standby: a
// check every 100 ms (one TLS handshake) and an agent-check every 100 ms (one line), both
// answered from the agent's memory. The check timeout is 1 s: a check
// over a WAN (connect, TLS, one request) takes a few round trips, and an agent whose socket is
// held while it restarts answers well within it (see DownWithin).
func WANTimings() Timings {
	return Timings{Connect: 5 * time.Second, Client: 8 * time.Hour, Check: time.Second, CheckInter: time.Second,
		FastInter: 500 * time.Millisecond, DownInter: 100 * time.Millisecond, AgentInter: 100 * time.Millisecond, Fall: 2, Rise: 1}
}

// DownWithin bounds how long HAProxy keeps a server UP after its agent fell silent while its host
// still answers (the agent crashed or stopped: its port refuses, or its held socket never
// answers, so each check ends by the check timeout): the next check is at most one interval
// away, then fall checks fail, fastinter apart. The agents of the other sites must not name
// another writer sooner than this (agent.New checks gossip's detection against it).
func (t Timings) DownWithin() time.Duration {
	return t.CheckInter + time.Duration(t.Fall)*t.Check + time.Duration(t.Fall-1)*t.FastInter
}

// haTime writes a duration in HAProxy's syntax, which takes whole numbers only: 2s, 1500ms, 8h.
func haTime(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// ClusterTimings are WANTimings with the cluster file's haproxy section applied. In DRBD mode a
// DOWN server and the agents are asked less often (250 and 500 ms): a failover there waits for
// DRBD to notice the dead peer and for the database to start, seconds, and checks 100 ms apart
// cost most where the agents share the database's machines (in the DRBD lab, emulated ones).
func ClusterTimings(c *config.Cluster) Timings {
	t := WANTimings()
	if c.Mode == "drbd" {
		t.DownInter, t.AgentInter = 250*time.Millisecond, 500*time.Millisecond
	}
	if h := c.HAProxy; h.CheckInterval > 0 {
		t.CheckInter = h.CheckInterval
	}
	if c.HAProxy.Fall > 0 {
		t.Fall = c.HAProxy.Fall
	}
	if c.HAProxy.Rise > 0 {
		t.Rise = c.HAProxy.Rise
	}
	return t
}

type server struct {
	Name, Addr           string
	CheckHost, CheckPort string
	AgentHost, AgentPort string
	HasCheck, HasAgent   bool
}

var cfgTemplate = template.Must(template.New("haproxy.cfg").Funcs(template.FuncMap{"ha": haTime}).Parse(`# Written by keyha haproxy config for site {{.Site}} of cluster {{.Cluster}}; regenerate, do not edit.
global
    stats socket {{.Socket}} mode 600 level admin
    # Every database server starts DOWN (this file, written with the config by keyha): a started
    # or reloaded HAProxy routes nowhere until a check finds the writer, never to a standby.
    server-state-file {{.State}}
    stats timeout 10s
    maxconn 4000

defaults
    mode tcp
    timeout connect {{ha .T.Connect}}
    timeout client {{ha .T.Client}}
    timeout server {{ha .T.Client}}
    timeout check {{ha .T.Check}}

frontend galera_db
    bind {{.Bind}}
{{- if .Island}}
    # Island mode: when no server of the galera backend is usable (no writer reachable from this
    # site), this site's own node answers alone, read-only, while its agent says it is an island.
    use_backend island if { nbsrv(galera) eq 0 }
{{- end}}
    default_backend galera

# One server per site. The HTTP check asks that site's keyha agent (/health: 200 only when the
# node may take traffic), so a dead or unreachable agent takes its server out: never up on doubt.
# With the cluster's TLS, the check verifies the agent's certificate (the cluster CA, the site's
# name): a listener without that site's key never makes its node UP.
# The agent-check carries drain, maint, weight and the reason shown in "show stat".
# on-marked-down shutdown-sessions closes connections to a node the moment it is marked down.
backend galera
    balance first
    load-server-state-from-file global
    option httpchk GET /health?drain=ok
    http-check expect status 200
    default-server inter {{ha .T.CheckInter}} fastinter {{ha .T.FastInter}} downinter {{ha .T.DownInter}} fall {{.T.Fall}} rise {{.T.Rise}} on-marked-down shutdown-sessions
{{- range .Servers}}
    server {{.Name}} {{.Addr}}{{if .HasCheck}} check addr {{.CheckHost}} port {{.CheckPort}}{{if $.CA}} check-ssl verify required ca-file {{$.CA}} verifyhost {{.Name}}{{end}}{{end}}{{if .HasAgent}} agent-check agent-addr {{.AgentHost}} agent-port {{.AgentPort}} agent-inter {{ha $.T.AgentInter}}{{end}}
{{- end}}
{{- with .Island}}

# This site's own node, UP only while its agent answers /health/island with 200: cut off from the
# Primary component, read-only with dirty reads, its data younger than island.max_stale. When the
# island ends its server goes DOWN and its sessions are closed.
backend island
    load-server-state-from-file global
    option httpchk GET /health/island
    http-check expect status 200
    default-server inter {{ha $.T.CheckInter}} fastinter {{ha $.T.FastInter}} downinter {{ha $.T.DownInter}} fall {{$.T.Fall}} rise {{$.T.Rise}} on-marked-down shutdown-sessions
    server {{.Name}} {{.Addr}} check addr {{.CheckHost}} port {{.CheckPort}}{{if $.CA}} check-ssl verify required ca-file {{$.CA}} verifyhost {{.Name}}{{end}}
{{- end}}
{{- if .Keystone}}

# Keystone's API: this site's Keystone first, the other sites' as backups, each checked on
# Keystone itself (GET /v3 answers 200 only when Keystone can serve). With the cluster's TLS, the
# front serves the site's certificate and every Keystone is reached over TLS, verified by name:
# tokens and passwords never cross a link in clear.
frontend keystone_api
    mode http
    bind {{.KeystoneFront}}{{if .Bundle}} ssl crt {{.Bundle}}{{end}}
    timeout client 60s
    default_backend keystone

backend keystone
    mode http
    timeout server 60s
    option httpchk GET /v3
    http-check expect status 200
    # Which site's Keystone answered: keyha keystone tokens --own tells a site's own from a backup.
    http-response set-header X-Keyha-Keystone %[srv_name]
    default-server inter {{ha .T.CheckInter}} fall {{.T.Fall}} rise {{.T.Rise}} on-marked-down shutdown-sessions
{{- range .Keystone}}
    server {{.Name}} {{.Addr}} check{{if $.CA}} ssl verify required ca-file {{$.CA}} verifyhost {{.Name}}{{end}}{{if .Backup}} backup{{end}}
{{- end}}
{{- end}}
`))

type keystoneServer struct {
	Name, Addr string
	Backup     bool
}

// plan is what a site's HAProxy serves: every site's node in the galera backend, the Keystone
// servers (this site's first, the others as backups) and, in island mode, this site's own node.
func plan(c *config.Cluster, me *config.Site) ([]server, []keystoneServer, *server, error) {
	var servers []server
	for _, s := range c.Sites {
		if s.SQL == "" { // a DRBD witness: an agent, no database
			continue
		}
		sv := server{Name: s.Name, Addr: s.SQL}
		if s.HTTP != "" {
			sv.HasCheck = true
			sv.CheckHost, sv.CheckPort, _ = net.SplitHostPort(s.HTTP)
		}
		if s.Agent != "" {
			sv.HasAgent = true
			sv.AgentHost, sv.AgentPort, _ = net.SplitHostPort(s.Agent)
		}
		if !sv.HasCheck {
			return nil, nil, nil, fmt.Errorf("site %s has no http address in %s: HAProxy's health check asks the agent there", s.Name, c.Path)
		}
		servers = append(servers, sv)
	}
	var ks []keystoneServer
	if me.Keystone.Front != "" {
		if me.Keystone.API != "" {
			ks = append(ks, keystoneServer{Name: me.Name, Addr: me.Keystone.API})
		}
		for _, s := range c.Sites {
			if s.Name != me.Name && s.Keystone.API != "" {
				ks = append(ks, keystoneServer{Name: s.Name, Addr: s.Keystone.API, Backup: true})
			}
		}
	}
	var isl *server
	if c.Island.Enabled {
		for i := range servers {
			if servers[i].Name == me.Name {
				isl = &servers[i]
			}
		}
	}
	return servers, ks, isl, nil
}

// Server is one server of one backend, where it is.
type Server struct{ Backend, Name, Addr string }

// Servers lists every server the site's rendered haproxy.cfg defines, backend by backend.
func Servers(c *config.Cluster, site string) ([]Server, error) {
	me, err := c.Site(site)
	if err != nil {
		return nil, err
	}
	servers, ks, isl, err := plan(c, me)
	if err != nil {
		return nil, err
	}
	var out []Server
	for _, s := range servers {
		out = append(out, Server{"galera", s.Name, s.Addr})
	}
	if isl != nil {
		out = append(out, Server{"island", isl.Name, isl.Addr})
	}
	for _, s := range ks {
		out = append(out, Server{"keystone", s.Name, s.Addr})
	}
	return out, nil
}

// Drift compares the servers a running HAProxy has (ServersState) with those its rendered
// haproxy.cfg defines: a server missing, one HAProxy has that the file does not, or one at
// another address. Empty when they agree.
func Drift(want, got []Server) []string {
	key := func(s Server) string { return s.Backend + "/" + s.Name }
	have := map[string]string{}
	for _, s := range got {
		have[key(s)] = s.Addr
	}
	var out []string
	rendered := map[string]bool{}
	for _, s := range want {
		rendered[key(s)] = true
		switch addr, ok := have[key(s)]; {
		case !ok:
			out = append(out, fmt.Sprintf("HAProxy has no server %s (rendered at %s)", key(s), s.Addr))
		case !sameAddr(addr, s.Addr):
			out = append(out, fmt.Sprintf("HAProxy's server %s is at %s, rendered at %s", key(s), addr, s.Addr))
		}
	}
	for _, s := range got {
		if !rendered[key(s)] {
			out = append(out, fmt.Sprintf("HAProxy has server %s at %s, which keyha render does not write", key(s), s.Addr))
		}
	}
	return out
}

// sameAddr compares HOST:PORT addresses as HAProxy and the cluster file may write them apart
// ([::1]:3306 and [0:0::1]:3306).
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp {
		return a == b
	}
	ai, bi := net.ParseIP(ah), net.ParseIP(bh)
	if ai == nil || bi == nil {
		return ah == bh
	}
	return ai.Equal(bi)
}

// Config renders the haproxy.cfg of one site: the galera backend lists every site's node.
func Config(c *config.Cluster, site string, t Timings) ([]byte, error) {
	me, err := c.Site(site)
	if err != nil {
		return nil, err
	}
	if me.HAProxyDB == "" {
		return nil, fmt.Errorf("site %s has no haproxy_db address in %s: it says where HAProxy listens", site, c.Path)
	}
	if me.HAProxySocket == "" {
		return nil, fmt.Errorf("site %s has no haproxy_socket in %s: the runtime API needs one", site, c.Path)
	}
	servers, ks, isl, err := plan(c, me)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = cfgTemplate.Execute(&b, map[string]any{"Island": isl,
		"Site": site, "Cluster": c.Name, "Socket": me.HAProxySocket, "State": me.HAProxyState, "CA": c.TLS.CA, "Bind": me.HAProxyDB, "T": t, "Servers": servers,
		"Keystone": ks, "KeystoneFront": me.Keystone.Front, "Bundle": c.TLS.Bundle(site),
	})
	return b.Bytes(), err
}

// HAProxy's check state flags (CHK_ST_* in its source), as "show servers state" writes them.
const (
	chkConfigured = 0x02
	chkEnabled    = 0x04
	chkAgent      = 0x10
)

// StartState renders the server-state file the site's HAProxy loads at each start: every server
// of the galera backend DOWN, one successful check short of UP. HAProxy otherwise starts every
// server UP until its first check, and "balance first" would send the first connections to
// whichever node is listed first, writer or not. From this state a server needs a passing HTTP
// check (the agent's certificate, the node's health) and no "down" from its agent-check: a
// standby's agent answers down, so only the writer comes UP.
func StartState(c *config.Cluster, site string, t Timings) ([]byte, error) {
	if _, err := c.Site(site); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	// Version 1 of HAProxy's format (2.x): the header, the field names, one line per server.
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight " +
		"srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state " +
		"bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n")
	id := 0
	line := func(backend string, id int, s config.Site) error {
		host, port, err := net.SplitHostPort(s.SQL)
		if err != nil {
			return fmt.Errorf("site %s: sql %q: %w", s.Name, s.SQL, err)
		}
		checkHost, checkPort, _ := net.SplitHostPort(s.HTTP)
		agentHost, agentPort, agentState := "-", "0", 0
		if s.Agent != "" && backend == "galera" {
			agentHost, agentPort, _ = net.SplitHostPort(s.Agent)
			agentState = chkConfigured | chkEnabled | chkAgent
		}
		// op_state 0 (stopped), admin 0, weights 1, check status 1 (initialising; 0 crashes
		// HAProxy 2.6.12), result 0 (unknown), health rise-1 (DOWN; one good check brings it UP),
		// the checks configured and enabled (0 would switch them off), ids not forced: backend
		// and servers are matched by name.
		fmt.Fprintf(&b, "0 %s %d %s %s 0 0 1 1 0 1 0 %d %d %d 0 0 - %s - 0 %s %s %s %s\n",
			backend, id, s.Name, host, max(t.Rise-1, 0), chkConfigured|chkEnabled, agentState, port, checkPort, checkHost, agentHost, agentPort)
		return nil
	}
	for _, s := range c.Sites {
		if s.SQL == "" {
			continue
		}
		id++
		if err := line("galera", id, s); err != nil {
			return nil, err
		}
	}
	// The island server starts DOWN too: a restarted HAProxy must not take its own node for an
	// island before its agent says so.
	if me, _ := c.Site(site); c.Island.Enabled && me.SQL != "" {
		if err := line("island", 1, *me); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
