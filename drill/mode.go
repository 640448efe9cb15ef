package drill

import (
	"context"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/ops"
)

// mode is what the drill asks of the cluster, in Galera or DRBD mode: who takes writes, and
// whether a site is back in service after a restart or a heal.
type mode struct {
	cl *config.Cluster
	k  *ops.Controller
}

func (m mode) drbd() bool { return m.cl.Mode == "drbd" }

// writer names the site taking writes: the writer the Galera agents agree on, the DRBD site
// whose agent answers up; "" and why when there is none.
func (m mode) writer(ctx context.Context) (string, string) {
	if m.drbd() {
		st := ops.DRBDStatusOf(m.cl, m.k.DRBDStatus(ctx))
		return st.Writer, st.Problem
	}
	w, why := ops.Writer(ops.Fetch(ctx, m.cl, time.Second))
	if w == "-" {
		w = ""
	}
	return w, why
}

// rejoined: a Galera node is Synced in the Primary component; a DRBD data site is connected
// with its disk UpToDate (resynced), a witness answers; and some site takes writes.
func (m mode) rejoined(ctx context.Context, site string) bool {
	if !m.drbd() {
		for _, st := range ops.Fetch(ctx, m.cl, time.Second) {
			if st.Site == site {
				return st.Err == "" && st.Detail.Snapshot.ClusterStatus == "Primary" && st.Detail.Snapshot.LocalState == galera.StateSynced
			}
		}
		return false
	}
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

func (m mode) rejoinedWord() string {
	if m.drbd() {
		return "UpToDate and connected"
	}
	return "Synced"
}

func (m mode) killed(site string) string {
	if m.drbd() {
		return "kill the VM of " + site + " (the DRBD Primary)"
	}
	return "kill -9 mysqld at " + site + " (the writer)"
}

func (m mode) started(site string) string {
	if m.drbd() {
		return "boot the VM of " + site
	}
	return "start mysqld at " + site
}
