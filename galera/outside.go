package galera

import (
	"maps"
	"slices"
)

// Outside lists, of nodes (site -> wsrep_node_name), the sites whose node is outside the Primary
// component that snap, a good poll of a member of it, sees: they cannot commit, so no HAProxy
// should send them anything. It is what a survivor knows seconds before its HAProxy does when a
// site is cut off: that HAProxy's checks of the cut-off site's agent must each time out, fall
// times over. Nil when snap is not a good poll inside the Primary component, or its view holds a
// node that nodes does not name (the names are off: a node would look outside that is not): doubt
// lowers nothing.
func Outside(snap Snapshot, nodes map[string]string) []string {
	if snap.ErrClass != ErrNone || snap.ClusterStatus != "Primary" || len(snap.Members) == 0 || !snap.InView(snap.NodeName) {
		return nil
	}
	named := slices.Collect(maps.Values(nodes))
	for _, m := range snap.Members {
		if !slices.Contains(named, m.Name) {
			return nil
		}
	}
	var out []string
	for site, node := range nodes {
		if !snap.InView(node) {
			out = append(out, site)
		}
	}
	slices.Sort(out)
	return out
}
