package ops

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/keyha/keyha/agent"
	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/drbd"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/render"
)

// CheckConfig reads every node's Galera settings and the round-trip times the agents measure
// between sites, judges them (galera.JudgeSettings) and prints the findings. It fails when a
// finding is an ERROR.
func CheckConfig(ctx context.Context, c *config.Cluster, out io.Writer) error {
	cred, err := c.Credential("monitor")
	if err != nil {
		return err
	}
	nodes := make([]galera.NodeSettings, len(c.Sites))
	var wg sync.WaitGroup
	for i, s := range c.Sites {
		wg.Go(func() { nodes[i] = readSettings(ctx, s, cred) })
	}
	wg.Wait()
	var maxRTT time.Duration
	sts := Fetch(ctx, c, 3*time.Second)
	for _, st := range sts {
		for _, p := range st.Detail.Peers {
			maxRTT = max(maxRTT, p.RTT)
		}
	}
	rtt := "unknown (no agent answered with gossip round-trip times)"
	if maxRTT > 0 {
		rtt = maxRTT.Round(100 * time.Microsecond).String()
	}
	fmt.Fprintf(out, "largest round trip between sites (agents' gossip): %s\n", rtt)
	fs := append(galera.JudgeSettings(nodes, maxRTT), judgeLinks(c, nodes, sts, time.Now())...)
	fs = append(fs, judgeRendered(c, nodes)...)
	if err := agent.CheckTimings(c); err != nil {
		fs = append(fs, galera.Finding{Level: "ERROR", What: err.Error()})
	}
	return printFindings(out, fs)
}

// judgeRendered compares what each node runs with what keyha render writes for it now (WARN): a
// galera.cnf not installed, edited by hand, or not yet restarted into. Clusters whose my.cnf is
// not rendered by keyha (no galera section in the cluster file) are not judged.
func judgeRendered(c *config.Cluster, nodes []galera.NodeSettings) []galera.Finding {
	if !render.Used(c) {
		return nil
	}
	var fs []galera.Finding
	for _, n := range nodes {
		if n.Err != "" {
			continue
		}
		diffs, err := render.Drift(c, n)
		if err != nil {
			fs = append(fs, galera.Finding{Level: "WARN", Site: n.Site, What: "cannot compare with the rendered galera.cnf: " + err.Error()})
			continue
		}
		for _, d := range diffs {
			fs = append(fs, galera.Finding{Level: "WARN", Site: n.Site, What: d + ": install `keyha render`'s galera.cnf and restart the node (keyha galera rolling-restart)"})
		}
		if len(diffs) == 0 {
			fs = append(fs, galera.Finding{Level: "OK", Site: n.Site, What: "runs what keyha render writes for it (galera.cnf)"})
		}
	}
	return fs
}

// printFindings writes one line per finding and fails when one is an ERROR.
func printFindings(out io.Writer, fs []galera.Finding) error {
	errs := 0
	for _, f := range fs {
		where := ""
		if f.Site != "" {
			where = f.Site + ": "
		}
		fmt.Fprintf(out, "%-5s %s%s\n", f.Level, where, f.What)
		if f.Level == "ERROR" {
			errs++
		}
	}
	if errs > 0 {
		return fmt.Errorf("check-config: %d errors", errs)
	}
	fmt.Fprintln(out, "OK    no link between sites in clear")
	return nil
}

// DRBDCheckConfig is check-config for DRBD mode: every link between sites is judged as each
// agent reports it. ERROR for the agents' HTTP without TLS, a data site whose replication is not
// carried by WireGuard or whose DRBD peers do not authenticate, and an agent that cannot be asked.
func (k *Controller) DRBDCheckConfig(ctx context.Context, out io.Writer) error {
	return printFindings(out, judgeDRBDLinks(k.Cluster, k.DRBDStatus(ctx)))
}

func judgeDRBDLinks(c *config.Cluster, sts []DRBDSite) []galera.Finding {
	var out []galera.Finding
	if !c.TLS.On() {
		out = append(out, galera.Finding{Level: "ERROR", What: "the agents' HTTP port (HAProxy's checks, operator commands, control requests, fence votes) crosses sites in clear: set up the cluster PKI and the tls section (docs/tls.md)"})
	}
	for _, s := range sts {
		switch {
		case s.Err != "":
			out = append(out, galera.Finding{Level: "ERROR", Site: s.Site, What: "its agent cannot be asked: " + s.Err})
		case s.Detail.Link != nil:
			for _, what := range drbd.JudgeLink(*s.Detail.Link) {
				out = append(out, galera.Finding{Level: "ERROR", Site: s.Site, What: what})
			}
		}
	}
	return out
}

func readSettings(ctx context.Context, s config.Site, cred config.Credential) galera.NodeSettings {
	db, err := galera.Open(s.SQL, cred, 3*time.Second, 5*time.Second, nil)
	if err != nil {
		return galera.NodeSettings{Site: s.Name, Err: err.Error()}
	}
	defer db.Close()
	return galera.ReadSettings(ctx, db, s.Name, append([]string{"wsrep_sync_wait", "have_ssl", "version_comment",
		"pxc_strict_mode", "pxc_encrypt_cluster_traffic"}, render.DriftVars...))
}

// judgeLinks reports the links between sites that travel in clear (ERROR: the WAN is nobody's)
// and agent certificates that expire within 30 days (WARN).
func judgeLinks(c *config.Cluster, nodes []galera.NodeSettings, sts []AgentStatus, now time.Time) []galera.Finding {
	var out []galera.Finding
	if !c.TLS.On() {
		out = append(out, galera.Finding{Level: "ERROR", What: "the agents' HTTP port (HAProxy's checks, operator commands, control requests) crosses sites in clear: set up the cluster PKI and the tls section (docs/tls.md)"})
	}
	for _, n := range nodes {
		if n.Err != "" {
			continue
		}
		if !strings.EqualFold(n.Provider["socket.ssl"], "yes") && n.Provider["socket.ssl_cert"] == "" && !strings.EqualFold(n.Vars["pxc_encrypt_cluster_traffic"], "ON") {
			out = append(out, galera.Finding{Level: "ERROR", Site: n.Site, What: "Galera replication and IST cross sites in clear (no socket.ssl_cert in wsrep_provider_options): give the node its site certificate (docs/tls.md)"})
		}
		switch {
		case !strings.EqualFold(n.Vars["have_ssl"], "YES"):
			out = append(out, galera.Finding{Level: "ERROR", Site: n.Site, What: "its clients (HAProxy's, the agents', Keystone's) connect in clear: the node has no TLS (ssl_cert, ssl_key, ssl_ca; docs/tls.md)"})
		case !strings.EqualFold(n.Vars["require_secure_transport"], "ON"):
			out = append(out, galera.Finding{Level: "ERROR", Site: n.Site, What: "the node accepts clients in clear: set require_secure_transport=ON (docs/tls.md)"})
		}
	}
	for _, st := range sts {
		if !st.CertExpires.IsZero() && st.CertExpires.Sub(now) < 30*24*time.Hour {
			out = append(out, galera.Finding{Level: "WARN", Site: st.Site, What: fmt.Sprintf("its agent certificate expires %s: keyha pki issue --site %s", st.CertExpires.Format(time.DateOnly), st.Site)})
		}
	}
	return out
}
