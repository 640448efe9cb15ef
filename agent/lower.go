package agent

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
)

// When a site is cut off, its HAProxy server stays UP at the other sites until their checks of
// its agent have each timed out, fall times over: 3.5 s with keyha's defaults, 4 s with a WAN's
// 1.5 s check interval. Until then balance first sends new connections there, where they hang
// in connect, and sessions there wait on a node that cannot commit. This site's node knows
// sooner: the moment its view leaves that node out, the node is outside the Primary component.
// The agent then marks that server down in its own site's HAProxy (galera.Outside decides). It
// only ever lowers, and the checks still decide when the server comes back.

// lowerEvery spaces attempts while a node stays outside and its server still shows UP.
const lowerEvery = time.Second

// lowerStep marks down, in this site's HAProxy, the servers of nodes outside this node's Primary
// component. The poll loop's alone; the runtime API is asked off the loop.
func (a *Agent) lowerStep(cf *conf, snap galera.Snapshot, now time.Time) {
	if cf.site.HAProxySocket == "" {
		return
	}
	nodes := map[string]string{}
	for _, s := range cf.cluster.Sites {
		nodes[s.Name] = s.NodeName
	}
	out := galera.Outside(snap, nodes)
	if len(out) == 0 {
		a.lowered = nil
		return
	}
	if slices.Equal(out, a.lowered) && now.Sub(a.loweredAt) < lowerEvery || !a.lowering.CompareAndSwap(false, true) {
		return // just asked, or still asking
	}
	a.lowered, a.loweredAt = out, now
	rt := haproxy.Runtime{Socket: cf.site.HAProxySocket, Timeout: cf.cluster.Agent.PollTimeout}
	go func() {
		defer a.lowering.Store(false)
		a.lower(rt, out)
	}()
}

// lower marks down each of sites' servers that HAProxy still has UP (or draining).
func (a *Agent) lower(rt haproxy.Runtime, sites []string) {
	ctx, cancel := context.WithTimeout(context.Background(), rt.Timeout)
	defer cancel()
	rows, err := rt.ShowStat(ctx, "galera")
	if err != nil {
		a.log.Warn("read this site's HAProxy to take out nodes outside the Primary component", "sites", sites, "err", err)
		return
	}
	for _, r := range rows {
		if !slices.Contains(sites, r.Server) || strings.HasPrefix(r.Status, "DOWN") || strings.HasPrefix(r.Status, "MAINT") {
			continue
		}
		if err := rt.MarkDown(ctx, "galera", r.Server); err != nil {
			a.log.Warn("mark down, in this site's HAProxy, a node outside the Primary component", "server", r.Server, "err", err)
			a.metrics.lowered.WithLabelValues("failed").Inc()
			continue
		}
		a.log.Info("marked down in this site's HAProxy: its node is outside the Primary component (its checks would take seconds more)", "server", r.Server, "was", r.Status)
		a.metrics.lowered.WithLabelValues("ok").Inc()
	}
}
