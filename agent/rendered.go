package agent

import (
	"context"
	"slices"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/render"
)

// renderedEvery spaces the agent's comparison of what its node runs with what keyha render
// writes for it: a drift lasts until someone restarts the node, so a minute is soon enough.
const renderedEvery = time.Minute

// settingsReader is a Poller that also reads the node's settings (galera.Poller does).
type settingsReader interface {
	Settings(ctx context.Context, site string, names []string) galera.NodeSettings
}

// renderedStep compares the node's running Galera settings with the galera.cnf keyha render
// writes for this site now (render.Drift), at most every renderedEvery, and keeps the result
// for /status, keyha status and the keyha_rendered_drift gauge. The poll loop's alone.
func (a *Agent) renderedStep(ctx context.Context, cf *conf, now time.Time) {
	sr, ok := a.poller.(settingsReader)
	if !ok || !render.Used(cf.cluster) || now.Sub(a.renderedAt) < renderedEvery {
		return
	}
	a.renderedAt = now
	ctx, cancel := context.WithTimeout(ctx, cf.cluster.Agent.PollTimeout)
	defer cancel()
	n := sr.Settings(ctx, cf.site.Name, render.DriftVars)
	if n.Err != "" {
		return // the poll says why the node does not answer; try again later
	}
	diffs, err := render.Drift(cf.cluster, n)
	if err != nil {
		a.log.Warn("compare the node with its rendered galera.cnf", "err", err)
		return
	}
	a.mu.Lock()
	prev := a.rendered
	a.rendered = diffs
	a.mu.Unlock()
	a.metrics.rendered.Set(float64(len(diffs)))
	if !slices.Equal(prev, diffs) && len(diffs) > 0 {
		a.log.Warn("the node runs other Galera settings than keyha render writes for it now: install the rendered galera.cnf and restart the node (keyha galera rolling-restart)", "differences", diffs)
	}
}
