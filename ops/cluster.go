package ops

import (
	"fmt"
	"strings"

	"github.com/keyha/keyha/config"
)

// ClusterStatus is `keyha status --json` in either mode: the same top level, and for every site
// the same keys (site, state, role, reason, error, detail); detail is the mode's own.
type ClusterStatus struct {
	Cluster string `json:"cluster"`
	Mode    string `json:"mode"`
	// Writer is the one site taking writes: the writer the agents agree on (galera), the site
	// whose agent answers up (drbd); "" when there is none, and Problem says why.
	Writer  string `json:"writer"`
	Problem string `json:"problem,omitempty"`
	Sites   any    `json:"sites"` // []AgentStatus or []DRBDSite
}

// GaleraStatus gathers the Galera mode's status.
func GaleraStatus(c *config.Cluster, sts []AgentStatus) ClusterStatus {
	w, why := Writer(sts)
	if w == "" && why == "" {
		why = "the agents name no writer"
	}
	return ClusterStatus{Cluster: c.Name, Mode: c.Mode, Writer: w, Problem: why, Sites: sts}
}

// DRBDStatusOf gathers the DRBD mode's status.
func DRBDStatusOf(c *config.Cluster, sites []DRBDSite) ClusterStatus {
	var up []string
	for _, s := range sites {
		if s.Err == "" && s.State == "up" {
			up = append(up, s.Site)
		}
	}
	st := ClusterStatus{Cluster: c.Name, Mode: c.Mode, Sites: sites}
	switch len(up) {
	case 0:
		st.Problem = "no site's agent answers up"
	case 1:
		st.Writer = up[0]
	default:
		st.Problem = fmt.Sprintf("more than one site answers up: %s", strings.Join(up, ", "))
	}
	return st
}
