package drill

import (
	"context"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/ops"
)

// mode is what the drill asks of the cluster, Galera or DRBD: who takes writes, whether a site
// is back in service after a restart or a heal, which databases hold Keystone's data, and how
// the events read.
type mode interface {
	// writer names the site taking writes; "" and why when there is none.
	writer(ctx context.Context) (string, string)
	// rejoined: site is back in service, and some site takes writes.
	rejoined(ctx context.Context, site string) bool
	rejoinedWord() string
	// databases are the sites whose databases the final checksum reads, with the session
	// parameters that make a read current.
	databases(ctx context.Context) ([]string, map[string]string)
	killed(site string) string
	started(site string) string
}

func newMode(cl *config.Cluster, k *ops.Controller) mode {
	if cl.Mode == "drbd" {
		return drbdMode{cl, k}
	}
	return galeraMode{cl}
}

// galeraMode: every site has a node; the writer is the one the agents agree on.
type galeraMode struct{ cl *config.Cluster }

func (m galeraMode) writer(ctx context.Context) (string, string) {
	w, why := ops.Writer(ops.Fetch(ctx, m.cl, time.Second))
	if w == "-" {
		w = ""
	}
	return w, why
}

// rejoined: the node is Synced in the Primary component.
func (m galeraMode) rejoined(ctx context.Context, site string) bool {
	for _, st := range ops.Fetch(ctx, m.cl, time.Second) {
		if st.Site == site {
			return st.Err == "" && st.Detail.Snapshot.ClusterStatus == "Primary" && st.Detail.Snapshot.LocalState == galera.StateSynced
		}
	}
	return false
}

func (galeraMode) rejoinedWord() string { return "Synced" }

// databases: every node, each made to catch up first (wsrep_sync_wait).
func (m galeraMode) databases(context.Context) ([]string, map[string]string) {
	var sites []string
	for _, s := range m.cl.Sites {
		sites = append(sites, s.Name)
	}
	return sites, map[string]string{"wsrep_sync_wait": "1"}
}

func (galeraMode) killed(site string) string  { return "kill -9 mysqld at " + site + " (the writer)" }
func (galeraMode) started(site string) string { return "start mysqld at " + site }

// drbdMode: two data sites and a witness; the writer is the Primary whose agent answers up.
type drbdMode struct {
	cl *config.Cluster
	k  *ops.Controller
}

func (m drbdMode) writer(ctx context.Context) (string, string) {
	st := ops.DRBDStatusOf(m.cl, m.k.DRBDStatus(ctx))
	return st.Writer, st.Problem
}

// rejoined: a data site is connected with its disk UpToDate (resynced), a witness answers.
func (m drbdMode) rejoined(ctx context.Context, site string) bool {
	sts := m.k.DRBDStatus(ctx)
	if ops.DRBDStatusOf(m.cl, sts).Writer == "" {
		return false
	}
	for _, st := range sts {
		if st.Site != site {
			continue
		}
		if s, err := m.cl.Site(site); err == nil && s.Witness {
			return st.Err == ""
		}
		r := st.Detail.Resource
		return st.Err == "" && r.UpToDate() && r.PeerLink()
	}
	return false
}

func (drbdMode) rejoinedWord() string { return "UpToDate and connected" }

// databases: only the Primary has one.
func (m drbdMode) databases(ctx context.Context) ([]string, map[string]string) {
	if w, _ := m.writer(ctx); w != "" {
		return []string{w}, nil
	}
	return nil, nil
}

func (drbdMode) killed(site string) string  { return "kill the VM of " + site + " (the DRBD Primary)" }
func (drbdMode) started(site string) string { return "boot the VM of " + site }
