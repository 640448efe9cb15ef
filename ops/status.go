// Package ops holds the operator commands that act on the whole cluster: status, switchover.
// They talk to the agents (HTTP /status), the nodes (SQL, admin credentials) and the HAProxies
// (runtime API).
package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/pki"
	"github.com/keyha/keyha/writer"
)

// AgentStatus is an agent's /status answer.
type AgentStatus struct {
	Site   string `json:"site"`
	State  string `json:"state"`
	Health string `json:"health"`
	Role   string `json:"role"`
	Writer string `json:"writer"`
	Reason string `json:"reason"`
	Island bool   `json:"island,omitempty"` // the site serves reads alone (island mode)
	Detail struct {
		Snapshot galera.Snapshot            `json:"snapshot"`
		Decision *writer.Decision           `json:"writer_decision"`
		Peers    map[string]membership.Peer `json:"gossip"`
		Version  string                     `json:"agent_version"`
		Config   string                     `json:"config_hash"`
		Pending  string                     `json:"config_pending"`
		Keys     map[string]string          `json:"config_keys"`
		Island   *galera.Island             `json:"island,omitempty"`
		Rendered []string                   `json:"rendered_drift,omitempty"`
	} `json:"detail"`
	Err string `json:"error,omitempty"` // the agent could not be asked
	// CertExpires is when the certificate the agent presented expires (TLS only).
	CertExpires time.Time `json:"cert_expires,omitzero"`
}

// Fetch asks every site's agent for its status, in parallel, each within timeout.
func Fetch(ctx context.Context, c *config.Cluster, timeout time.Duration) []AgentStatus {
	return fetchEach(ctx, c, timeout, fetchOne)
}

// agentConn is how to reach one site's agent: a client, the base URL, or why there is none.
type agentConn struct {
	client *http.Client
	base   string
	err    error
}

// fetchEach runs one per site, in parallel, with a connection to that site's agent whose
// requests last at most timeout.
func fetchEach[T any](ctx context.Context, c *config.Cluster, timeout time.Duration, one func(context.Context, agentConn, config.Site) T) []T {
	out := make([]T, len(c.Sites))
	var wg sync.WaitGroup
	for i, s := range c.Sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ac agentConn
			ac.client, ac.base, ac.err = pki.AgentClient(c, s.Name, timeout)
			out[i] = one(ctx, ac, s)
		}()
	}
	wg.Wait()
	return out
}

func fetchOne(ctx context.Context, ac agentConn, s config.Site) AgentStatus {
	st := AgentStatus{}
	if err := getStatus(ctx, ac, s, &st); err != nil {
		st.Err = err.Error()
	}
	st.Site = s.Name
	return st
}

// getStatus asks a site's agent for its /status and decodes the answer into v.
func getStatus(ctx context.Context, ac agentConn, s config.Site, v any) error {
	if ac.err != nil {
		return ac.err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ac.base+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := ac.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask agent at %s: %v", s.HTTP, err)
	}
	defer resp.Body.Close()
	if st, ok := v.(*AgentStatus); ok && resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		st.CertExpires = resp.TLS.PeerCertificates[0].NotAfter
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode agent status from %s: %v", s.HTTP, err)
	}
	return nil
}

// Writer returns the writer the answering agents agree on, or "" with the disagreement.
func Writer(sts []AgentStatus) (string, string) {
	seen := map[string][]string{}
	for _, s := range sts {
		if s.Err == "" && s.Detail.Snapshot.ClusterStatus == "Primary" {
			seen[s.Writer] = append(seen[s.Writer], s.Site)
		}
	}
	if len(seen) == 1 {
		for w := range seen {
			return w, ""
		}
	}
	var parts []string
	for w, by := range seen {
		parts = append(parts, fmt.Sprintf("%q by %v", w, by))
	}
	sort.Strings(parts)
	return "", "agents in the Primary component disagree: " + strings.Join(parts, ", ")
}

// PrintStatus writes the cluster as a table.
func PrintStatus(w io.Writer, c *config.Cluster, sts []AgentStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tNODE\tCLUSTER\tSIZE\tVERDICT\tROLE\tSEQNO\tGOSSIP\tCONFIG\tREASON")
	want := c.Hash
	if len(want) > 12 {
		want = want[:12]
	}
	var gossip map[string]membership.Peer
	for _, s := range sts {
		if s.Err == "" && len(s.Detail.Peers) > len(gossip) {
			gossip = s.Detail.Peers
		}
	}
	for _, s := range sts {
		if s.Err != "" {
			fmt.Fprintf(tw, "%s\t?\t?\t?\tunknown\t\t\t%s\t\t%s\n", s.Site, peerStatus(gossip, s.Site), s.Err)
			continue
		}
		sn := s.Detail.Snapshot
		role := s.Role
		if role == "writer" {
			role = "WRITER"
		}
		if s.Island {
			role = "ISLAND"
		}
		cfg := s.Detail.Config
		if cfg == want {
			cfg += " (this)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Site, orDash(sn.LocalStateComment), orDash(sn.ClusterStatus),
			sn.ClusterSize, s.Health, orDash(role), sn.LastCommitted, peerStatus(gossip, s.Site), cfg, s.Reason)
	}
	tw.Flush()
	for _, s := range sts {
		if len(s.Detail.Rendered) > 0 {
			fmt.Fprintf(w, "rendered: %s runs otherwise than keyha render writes for it: %s (install its galera.cnf, then keyha galera rolling-restart; "+
				"its haproxy.cfg, then reload HAProxy)\n",
				s.Site, strings.Join(s.Detail.Rendered, "; "))
		}
	}
	printVersions(w, c, sts)
	printCerts(w, sts, time.Now())
	printRTT(w, sts)
	if wr, why := Writer(sts); why != "" {
		fmt.Fprintln(w, "writer: UNDECIDED:", why)
	} else if wr == "" {
		fmt.Fprintln(w, "writer: none")
	} else {
		fmt.Fprintln(w, "writer:", wr)
	}
}

// printCerts says when the agents' TLS certificates expire, warning within 30 days.
func printCerts(w io.Writer, sts []AgentStatus, now time.Time) {
	var parts []string
	for _, s := range sts {
		if s.CertExpires.IsZero() {
			continue
		}
		left := s.CertExpires.Sub(now)
		p := fmt.Sprintf("%s %s (%d days)", s.Site, s.CertExpires.Format(time.DateOnly), int(left.Hours()/24))
		if left < 30*24*time.Hour {
			p += " RENEW: keyha pki issue --site " + s.Site
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 {
		fmt.Fprintln(w, "agent certificates expire:", strings.Join(parts, ", "))
	}
}

// printRTT writes the round trips each agent measures to the others (its gossip probes) as a
// matrix: row = from, column = to. Nothing when no agent has measured any.
func printRTT(w io.Writer, sts []AgentStatus) {
	m := RTTMatrix(sts)
	if len(m) == 0 {
		return
	}
	fmt.Fprintln(w, "round trips between sites (median of each agent's last 7 gossip probes; row: from, column: to):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range sts {
		fmt.Fprintf(tw, "\t%s", s.Site)
	}
	fmt.Fprintln(tw)
	for _, from := range sts {
		fmt.Fprint(tw, from.Site)
		for _, to := range sts {
			cell := "?"
			if from.Site == to.Site {
				cell = "-"
			} else if d, ok := m[[2]string{from.Site, to.Site}]; ok {
				cell = fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// RTTMatrix collects the round trips the agents measured: key {from, to}.
func RTTMatrix(sts []AgentStatus) map[[2]string]time.Duration {
	m := map[[2]string]time.Duration{}
	for _, s := range sts {
		if s.Err != "" {
			continue
		}
		for to, p := range s.Detail.Peers {
			if to != s.Site && p.RTT > 0 {
				m[[2]string{s.Site, to}] = p.RTT
			}
		}
	}
	return m
}

func peerStatus(g map[string]membership.Peer, site string) string {
	if p, ok := g[site]; ok {
		return p.Status
	}
	return "absent"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printVersions says which cluster file each site runs when they differ (a rollout in progress,
// or a site forgotten), and any file an agent was given but could not take.
func printVersions(w io.Writer, c *config.Cluster, sts []AgentStatus) {
	mine := c.Hash
	if len(mine) > 12 {
		mine = mine[:12]
	}
	at := map[string][]string{}
	digests := c.Digests()
	for _, s := range sts {
		if s.Err == "" {
			at[s.Detail.Config] = append(at[s.Detail.Config], s.Site)
		}
		if s.Err == "" && s.Detail.Pending != "" {
			fmt.Fprintf(w, "%s: %s\n", s.Site, s.Detail.Pending)
		}
		if s.Err == "" && s.Detail.Config != mine && s.Detail.Keys != nil {
			keys := config.DiffKeys(digests, s.Detail.Keys)
			if len(keys) > 8 {
				keys = append(keys[:8], fmt.Sprintf("and %d more", len(keys)-8))
			}
			fmt.Fprintf(w, "%s runs %s, which differs from this host's file in: %s\n", s.Site, s.Detail.Config, strings.Join(keys, ", "))
		}
	}
	if len(at) < 2 {
		return
	}
	var parts []string
	for h, sites := range at {
		parts = append(parts, fmt.Sprintf("%s at %s", h, strings.Join(sites, ", ")))
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "cluster file: %d versions running: %s (this host's: %s)\n", len(at), strings.Join(parts, "; "), mine)
}
