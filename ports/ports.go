// Package ports is the port plan of a keyha cluster: every port each site listens on, who must
// reach it and why, from the cluster file alone. `keyha ports` prints it; its nftables rules come
// from the same table, so the firewall cannot forget a port the plan names.
package ports

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/keyha/keyha/config"
)

// Who may connect, besides the sites named in Port.FromSites.
const (
	FromSites      = "sites"      // the other sites (FromSites lists them)
	FromClients    = "clients"    // the cloud's clients: Keystone users, Swift proxies
	FromOperator   = "operator"   // the operator's host(s)
	FromMonitoring = "monitoring" // Prometheus
	FromLocal      = "local"      // this host only (the site's own agent or HAProxy)
)

// Port is one listening port of one site.
type Port struct {
	Port     int      `json:"port"`
	Protocol string   `json:"protocol"` // tcp or udp
	Site     string   `json:"site"`     // the site that listens
	Addr     string   `json:"addr"`     // the address it listens on
	From     []string `json:"from"`     // who connects: sites, clients, operator, monitoring
	Sites    []string `json:"from_sites,omitempty"`
	Why      string   `json:"why"`
}

// Galera's IST and SST ports are not in the cluster file: Galera's defaults, as the lab runs them.
const (
	istOffset = 1     // ist.recv_addr: the gcomm port + 1
	sstPort   = 4444  // wsrep_sst_receive_address
	WireGuard = 51820 // WireGuard's UDP port at the data sites (DRBD mode)
	x11Low    = 6000
	x11High   = 6063
)

// IST is the address a site's node receives incremental state transfers on (ist.recv_addr): the
// gcomm port + 1, Galera's default, as the plan opens it and keyha render writes it.
func IST(s config.Site) string {
	host, p, err := net.SplitHostPort(s.Galera)
	if err != nil {
		return ""
	}
	n, _ := strconv.Atoi(p)
	return net.JoinHostPort(host, strconv.Itoa(n+istOffset))
}

// SST is the address a site's node receives full state transfers on (wsrep_sst_receive_address).
func SST(s config.Site) string {
	host, _, err := net.SplitHostPort(s.Galera)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(sstPort))
}

// SourcesOf is who the cluster file's firewall section lets in besides the sites.
func SourcesOf(c *config.Cluster) Sources {
	f := c.Firewall
	return Sources{Operator: f.Operator, Monitoring: f.Monitoring, Clients: f.Clients}
}

// Plan lists every port of every site (or of one site when site is not empty).
func Plan(c *config.Cluster, site string) []Port {
	var out []Port
	for _, s := range c.Sites {
		if site != "" && s.Name != site {
			continue
		}
		others := otherSites(c, s.Name)
		add := func(addr, proto, why string, from []string, sites []string) {
			host, p, err := net.SplitHostPort(addr)
			if err != nil {
				return
			}
			n, _ := strconv.Atoi(p)
			out = append(out, Port{Port: n, Protocol: proto, Site: s.Name, Addr: host, From: from, Sites: sites, Why: why})
		}
		if s.SQL != "" {
			add(s.SQL, "tcp", "the database: every site's HAProxy sends writes here; the operator's switchover and desync", []string{FromSites, FromLocal, FromOperator}, others)
		}
		if c.Mode != "drbd" && s.Galera != "" {
			add(s.Galera, "tcp", "Galera group communication (TLS with socket.ssl_*)", []string{FromSites}, others)
			add(IST(s), "tcp", "IST, incremental state transfer from a donor (TLS)", []string{FromSites}, others)
			add(SST(s), "tcp", "SST, full state transfer from a donor (rsync through stunnel)", []string{FromSites}, others)
		}
		if c.Mode == "drbd" && !s.Witness && s.SQL != "" {
			host, _, _ := net.SplitHostPort(s.SQL)
			var data []string
			for _, o := range others {
				if os, err := c.Site(o); err == nil && !os.Witness {
					data = append(data, o)
				}
			}
			add(net.JoinHostPort(host, strconv.Itoa(WireGuard)), "udp", "WireGuard, which carries DRBD's replication (docs/drbd.md)", []string{FromSites}, data)
			// Inside the tunnel the peer's DRBD connects to this one's: a new connection the
			// input policy would drop like any other.
			if s.Replication != "" {
				add(s.Replication, "tcp", "DRBD's replication, inside WireGuard: the other data site's DRBD connects here", []string{FromSites}, data)
			}
		}
		if s.Agent != "" {
			add(s.Agent, "tcp", "the agent-check: every site's HAProxy asks which node may take writes; in DRBD mode the other data site's agent probes it to tell a dead host from a dead agent (and an operator's nc, debugging)", []string{FromSites, FromLocal, FromOperator}, others)
		}
		if s.HTTP != "" {
			add(s.HTTP, "tcp", "the agent's HTTP check (HAProxy, over TLS), status and signed control requests (operator commands, other agents' fence requests)", []string{FromSites, FromLocal, FromOperator}, others)
		}
		if s.Metrics != "" {
			add(s.Metrics, "tcp", "the agent's Prometheus metrics", []string{FromMonitoring}, nil)
		}
		if s.GossipAt != "" {
			add(s.GossipAt, "tcp", "gossip between the agents (memberlist, encrypted with the gossip key)", []string{FromSites}, others)
			add(s.GossipAt, "udp", "gossip between the agents (memberlist probes)", []string{FromSites}, others)
		}
		if s.HAProxyDB != "" {
			add(s.HAProxyDB, "tcp", "the site's HAProxy database front: Keystone and the load harness connect here", []string{FromClients, FromLocal, FromOperator}, nil)
		}
		if s.Keystone.Front != "" {
			add(s.Keystone.Front, "tcp", "the site's Keystone API front (HTTPS): users and Swift proxies", []string{FromClients, FromLocal}, nil)
		}
		if s.Keystone.API != "" {
			add(s.Keystone.API, "tcp", "Keystone itself (uwsgi, HTTPS): every site's HAProxy, the other sites' as a backup of their own", []string{FromSites, FromLocal}, others)
		}
		if s.Swift.Proxy != "" {
			add(s.Swift.Proxy, "tcp", "the site's Swift proxy: the cloud's users (tokens checked at the site's Keystone front)", []string{FromClients, FromLocal}, nil)
		}
		for _, sv := range []struct{ addr, kind string }{{s.Swift.Object, "object"}, {s.Swift.Container, "container"}, {s.Swift.Account, "account"}} {
			if sv.addr != "" {
				add(sv.addr, "tcp", "Swift's "+sv.kind+" server: every site's Swift proxy, which keeps a replica at every site", []string{FromSites, FromLocal}, others)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Site != out[j].Site {
			return siteIndex(c, out[i].Site) < siteIndex(c, out[j].Site)
		}
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}

func otherSites(c *config.Cluster, me string) []string {
	var out []string
	for _, s := range c.Sites {
		if s.Name != me {
			out = append(out, s.Name)
		}
	}
	return out
}

func siteIndex(c *config.Cluster, name string) int {
	for i, s := range c.Sites {
		if s.Name == name {
			return i
		}
	}
	return len(c.Sites)
}

// X11 warns of the configured ports in 6000-6063, which X11 servers take (display :0 to :63) and
// many site firewalls block.
func X11(c *config.Cluster) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range Plan(c, "") {
		if p.Port >= x11Low && p.Port <= x11High {
			k := fmt.Sprintf("%s %d", p.Site, p.Port)
			if !seen[k] {
				seen[k] = true
				out = append(out, fmt.Sprintf("sites (%s): port %d is in X11's range 6000-6063 (%s): choose another", p.Site, p.Port, p.Why))
			}
		}
	}
	return out
}

// Sources are the addresses a site's firewall admits for what the plan calls sites, operator and
// monitoring; nil admits any address for that kind.
type Sources struct {
	Operator, Monitoring, Clients []string
}

// NFT renders site's input firewall from the plan: policy drop, established traffic and loopback
// accepted, and each planned port open to who needs it, by address where the cluster file knows it.
func NFT(c *config.Cluster, site string, src Sources) (string, error) {
	if _, err := c.Site(site); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# keyha's port plan for site %s (keyha ports --site %s --nft); cluster file sha256 %s\n", site, site, c.Hash)
	// Declared, deleted, defined: `nft -f` of this file replaces the table, run once or again.
	b.WriteString("table inet keyha\ndelete table inet keyha\n")
	b.WriteString("table inet keyha {\n  chain input {\n    type filter hook input priority 0; policy drop;\n")
	b.WriteString("    ct state established,related accept\n    iif lo accept\n    ip protocol icmp accept\n    ip6 nexthdr icmpv6 accept\n")
	for _, p := range Plan(c, site) {
		var addrs []string
		any := false
		for _, f := range p.From {
			switch f {
			case FromSites:
				for _, o := range p.Sites {
					a := siteAddrs(c, o)
					any = any || len(a) == 0
					addrs = append(addrs, a...)
				}
			case FromLocal:
				a := siteAddrs(c, site)
				any = any || len(a) == 0
				addrs = append(addrs, a...)
			case FromOperator:
				any = any || src.Operator == nil
				addrs = append(addrs, src.Operator...)
			case FromMonitoring:
				any = any || src.Monitoring == nil
				addrs = append(addrs, src.Monitoring...)
			case FromClients:
				any = any || src.Clients == nil
				addrs = append(addrs, src.Clients...)
			}
		}
		rule := fmt.Sprintf("%s dport %d", p.Protocol, p.Port)
		if !any {
			if len(addrs) == 0 {
				continue
			}
			rule = fmt.Sprintf("ip saddr { %s } %s", strings.Join(uniq(addrs), ", "), rule)
		}
		fmt.Fprintf(&b, "    %s accept comment %q\n", rule, truncate(p.Why, 120))
	}
	b.WriteString("  }\n}\n")
	return b.String(), nil
}

// siteAddrs is every IPv4 address the cluster file gives a site (a host name or an IPv6 address
// is not matched by these rules: such a site's ports stay open to any address, said in a comment).
func siteAddrs(c *config.Cluster, name string) []string {
	s, err := c.Site(name)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range []string{s.SQL, s.Agent, s.HTTP, s.Metrics, s.GossipAt, s.Galera, s.Replication, s.HAProxyDB, s.Keystone.API, s.Keystone.Front,
		s.Swift.Proxy, s.Swift.Object, s.Swift.Container, s.Swift.Account} {
		if h, _, err := net.SplitHostPort(a); err == nil && net.ParseIP(h).To4() != nil {
			out = append(out, h)
		}
	}
	return uniq(out)
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
