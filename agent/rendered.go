package agent

import (
	"context"
	"slices"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/render"
)

// renderedEvery spaces the agent's comparison of what its site runs with what keyha render
// writes for it: a drift lasts until someone restarts the node or reloads HAProxy, so a minute
// is soon enough.
const renderedEvery = time.Minute

// settingsReader is a Poller that also reads the node's settings (galera.Poller does).
type settingsReader interface {
	Settings(ctx context.Context, site string, names []string) galera.NodeSettings
}

// renderedStep compares what the site runs with what keyha render writes for it now, at most
// every renderedEvery: the node's Galera settings with its galera.cnf (render.Drift), and the
// servers of the site's HAProxy with its haproxy.cfg (haproxy.Drift). The result is kept for
// /status, keyha status and the keyha_rendered_drift gauge; a part that cannot be read now
// keeps its last result. The poll loop's alone.
func (a *Agent) renderedStep(ctx context.Context, cf *conf, now time.Time) {
	if now.Sub(a.renderedAt) < renderedEvery {
		return
	}
	a.renderedAt = now
	ctx, cancel := context.WithTimeout(ctx, cf.cluster.Agent.PollTimeout)
	defer cancel()
	if d, ok := a.galeraDrift(ctx, cf); ok {
		if !slices.Equal(a.renderedGalera, d) && len(d) > 0 {
			a.log.Warn("the node runs other Galera settings than keyha render writes for it now: install the rendered galera.cnf and restart the node (keyha galera rolling-restart)", "differences", d)
		}
		a.renderedGalera = d
	}
	if d, ok := a.haproxyDrift(ctx, cf); ok {
		if !slices.Equal(a.renderedHAProxy, d) && len(d) > 0 {
			a.log.Warn("the site's HAProxy runs other servers than keyha render writes for it now: install the rendered haproxy.cfg and reload HAProxy", "differences", d)
		}
		a.renderedHAProxy = d
	}
	all := append(slices.Clone(a.renderedGalera), a.renderedHAProxy...)
	a.mu.Lock()
	a.rendered = all
	a.mu.Unlock()
	a.metrics.rendered.Set(float64(len(all)))
}

// galeraDrift is render.Drift of the node; false when it cannot be judged now.
func (a *Agent) galeraDrift(ctx context.Context, cf *conf) ([]string, bool) {
	sr, ok := a.poller.(settingsReader)
	if !ok || !render.Used(cf.cluster) {
		return nil, false
	}
	n := sr.Settings(ctx, cf.site.Name, render.DriftVars)
	if n.Err != "" {
		return nil, false // the poll says why the node does not answer; try again later
	}
	d, err := render.Drift(cf.cluster, n)
	if err != nil {
		a.log.Warn("compare the node with its rendered galera.cnf", "err", err)
		return nil, false
	}
	return d, true
}

// haproxyDrift is haproxy.Drift of the site's HAProxy (through its runtime socket); false when
// the site has none or it does not answer now.
func (a *Agent) haproxyDrift(ctx context.Context, cf *conf) ([]string, bool) {
	if cf.site.HAProxySocket == "" || cf.site.HAProxyDB == "" {
		return nil, false
	}
	want, err := haproxy.Servers(cf.cluster, cf.site.Name)
	if err != nil {
		a.log.Warn("list the servers of the rendered haproxy.cfg", "err", err)
		return nil, false
	}
	got, err := haproxy.Runtime{Socket: cf.site.HAProxySocket}.ServersState(ctx)
	if err != nil {
		return nil, false // HAProxy down or restarting: its checks and metrics say so
	}
	return haproxy.Drift(want, got), true
}
