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
	Connect    string // timeout connect
	Client     string // idle client connection
	Check      string // health check timeout
	CheckInter string // HTTP health check interval
	AgentInter string // agent-check interval
	Fall, Rise int
}

// WANTimings are the defaults `keyha haproxy config` writes.
func WANTimings() Timings {
	return Timings{Connect: "5s", Client: "8h", Check: "2s", CheckInter: "1s", AgentInter: "500ms", Fall: 2, Rise: 2}
}

// haTime writes a duration in HAProxy's syntax, which takes whole numbers only: 2s, 1500ms.
func haTime(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// ClusterTimings are WANTimings with the cluster file's haproxy section applied.
func ClusterTimings(c *config.Cluster) Timings {
	t := WANTimings()
	if h := c.HAProxy; h.CheckInterval > 0 {
		t.CheckInter = haTime(h.CheckInterval)
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

var cfgTemplate = template.Must(template.New("haproxy.cfg").Parse(`# Written by keyha haproxy config for site {{.Site}} of cluster {{.Cluster}}; regenerate, do not edit.
global
    stats socket {{.Socket}} mode 600 level admin
    stats timeout 10s
    maxconn 4000

defaults
    mode tcp
    timeout connect {{.T.Connect}}
    timeout client {{.T.Client}}
    timeout server {{.T.Client}}
    timeout check {{.T.Check}}

frontend galera_db
    bind {{.Bind}}
    default_backend galera

# One server per site. The HTTP check asks that site's keyha agent (/health: 200 only when the
# node may take traffic), so a dead or unreachable agent takes its server out: never up on doubt.
# The agent-check carries drain, maint, weight and the reason shown in "show stat".
# on-marked-down shutdown-sessions closes connections to a node the moment it is marked down.
backend galera
    balance first
    option httpchk GET /health?drain=ok
    http-check expect status 200
    default-server inter {{.T.CheckInter}} fastinter 500ms downinter 1s fall {{.T.Fall}} rise {{.T.Rise}} on-marked-down shutdown-sessions
{{- range .Servers}}
    server {{.Name}} {{.Addr}}{{if .HasCheck}} check addr {{.CheckHost}} port {{.CheckPort}}{{end}}{{if .HasAgent}} agent-check agent-addr {{.AgentHost}} agent-port {{.AgentPort}} agent-inter {{$.T.AgentInter}}{{end}}
{{- end}}
{{- if .Keystone}}

# Keystone's API: this site's Keystone first, the other sites' as backups, each checked on
# Keystone itself (GET /v3 answers 200 only when Keystone can serve).
frontend keystone_api
    mode http
    bind {{.KeystoneFront}}
    timeout client 60s
    default_backend keystone

backend keystone
    mode http
    timeout server 60s
    option httpchk GET /v3
    http-check expect status 200
    default-server inter {{.T.CheckInter}} fall {{.T.Fall}} rise {{.T.Rise}} on-marked-down shutdown-sessions
{{- range .Keystone}}
    server {{.Name}} {{.Addr}} check{{if .Backup}} backup{{end}}
{{- end}}
{{- end}}
`))

type keystoneServer struct {
	Name, Addr string
	Backup     bool
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
			return nil, fmt.Errorf("site %s has no http address in %s: HAProxy's health check asks the agent there", s.Name, c.Path)
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
	var b bytes.Buffer
	err = cfgTemplate.Execute(&b, map[string]any{
		"Site": site, "Cluster": c.Name, "Socket": me.HAProxySocket, "Bind": me.HAProxyDB, "T": t, "Servers": servers,
		"Keystone": ks, "KeystoneFront": me.Keystone.Front,
	})
	return b.Bytes(), err
}
