package galera

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SitePosition is what one site's agent says about its node when a cluster has lost its Primary
// component: the node's position and how it was learned.
type SitePosition struct {
	Site     string `json:"site"`
	Priority int    `json:"priority"`
	// Err is set when the site could not be asked, or its node's position could not be read: such
	// a site might be the most advanced one.
	Err string `json:"error,omitempty"`
	// Running: mysqld answers SQL. ClusterStatus is then its wsrep_cluster_status.
	Running       bool   `json:"running"`
	ClusterStatus string `json:"cluster_status,omitempty"`
	Position
	Source          string `json:"source"` // grastate.dat, wsrep-recover or wsrep_last_committed
	SafeToBootstrap bool   `json:"safe_to_bootstrap"`
}

// Bootstrap methods.
const (
	// PCBootstrap makes a running non-Primary node Primary (pc.bootstrap=YES), no restart.
	PCBootstrap = "pc.bootstrap"
	// NewCluster starts a stopped node with --wsrep-new-cluster after marking it safe_to_bootstrap.
	NewCluster = "new-cluster"
)

// RecoveryPlan says which node to bootstrap and how, and what becomes of the others.
type RecoveryPlan struct {
	Bootstrap string   `json:"bootstrap"`
	Method    string   `json:"method"`
	From      Position `json:"position"`
	Start     []string `json:"start"`  // stopped sites to start after the bootstrap, in order
	Rejoin    []string `json:"rejoin"` // running non-Primary sites that rejoin by themselves
	Forced    []string `json:"forced"` // sites left out by --force-without
	Why       string   `json:"why"`
}

// Refusals a caller may tell apart.
var (
	ErrPrimaryExists = errors.New("a Primary component exists")
	ErrUnknownSite   = errors.New("a site's position is unknown")
	ErrUUIDs         = errors.New("positions from different clusters")
)

// PlanRecovery chooses the node to bootstrap: the most advanced (highest seqno of the cluster's
// state UUID), ties broken by site priority, then name. It refuses when a Primary component still
// exists, when positions come from different cluster UUIDs, and when a site cannot be asked
// (it might be the most advanced) unless that site is named in forceWithout.
func PlanRecovery(ps []SitePosition, forceWithout []string) (RecoveryPlan, error) {
	var known []SitePosition
	var forced []string
	for _, p := range ps {
		if p.Running && p.ClusterStatus == "Primary" {
			return RecoveryPlan{}, fmt.Errorf("%w at %s: nothing to recover; start the stopped sites instead", ErrPrimaryExists, p.Site)
		}
	}
	for _, p := range ps {
		unknown := p.Err != "" || p.Seqno < 0
		if unknown {
			why := p.Err
			if why == "" {
				why = "its seqno is -1 and could not be recovered"
			}
			if !slices.Contains(forceWithout, p.Site) {
				return RecoveryPlan{}, fmt.Errorf("%w: %s: %s; it might be the most advanced node. Bring it back, or rerun with --force-without %s to accept losing what only it holds",
					ErrUnknownSite, p.Site, why, p.Site)
			}
			forced = append(forced, p.Site)
			continue
		}
		known = append(known, p)
	}
	for _, f := range forceWithout {
		if !slices.Contains(forced, f) {
			return RecoveryPlan{}, fmt.Errorf("--force-without %s: that site's position is known; name only sites that cannot be asked", f)
		}
	}
	if len(known) == 0 {
		return RecoveryPlan{}, fmt.Errorf("%w: no site's position is known", ErrUnknownSite)
	}
	uuids := map[string][]string{}
	for _, p := range known {
		if p.UUID != ZeroUUID {
			uuids[p.UUID] = append(uuids[p.UUID], p.Site)
		}
	}
	if len(uuids) > 1 {
		var parts []string
		for u, s := range uuids {
			parts = append(parts, fmt.Sprintf("%s at %s", u, strings.Join(s, ",")))
		}
		slices.Sort(parts)
		return RecoveryPlan{}, fmt.Errorf("%w: %s; these nodes do not share a history: decide by hand which cluster is the real one", ErrUUIDs, strings.Join(parts, "; "))
	}
	slices.SortStableFunc(known, func(a, b SitePosition) int {
		switch {
		case a.Seqno != b.Seqno:
			return cmpInt(b.Seqno, a.Seqno)
		case a.Priority != b.Priority:
			return b.Priority - a.Priority
		}
		return strings.Compare(a.Site, b.Site)
	})
	best := known[0]
	if best.UUID == ZeroUUID {
		return RecoveryPlan{}, errors.New("no node holds any cluster state: this is a new cluster, bootstrap it as such")
	}
	plan := RecoveryPlan{Bootstrap: best.Site, From: best.Position, Forced: forced, Method: NewCluster}
	if best.Running {
		plan.Method = PCBootstrap
	}
	plan.Why = fmt.Sprintf("%s is the most advanced at seqno %d (%s)", best.Site, best.Seqno, best.Source)
	if len(known) > 1 && known[1].Seqno == best.Seqno {
		plan.Why += fmt.Sprintf("; tied with %s, chosen by priority", known[1].Site)
	}
	for _, p := range known[1:] {
		if p.Running {
			plan.Rejoin = append(plan.Rejoin, p.Site)
		} else {
			plan.Start = append(plan.Start, p.Site)
		}
	}
	return plan, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
