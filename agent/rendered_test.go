package agent

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// settingsPoller is a node whose settings are given.
type settingsPoller struct {
	n     galera.NodeSettings
	reads int
}

func (p *settingsPoller) Poll(context.Context) galera.Snapshot { return galera.Snapshot{} }
func (p *settingsPoller) Settings(_ context.Context, site string, _ []string) galera.NodeSettings {
	p.reads++
	n := p.n
	n.Site = site
	return n
}

// The agent compares its node with the galera.cnf keyha render writes for it, every minute, and
// says what differs in /status and keyha_rendered_drift.
func TestRenderedDrift(t *testing.T) {
	c, err := config.Parse([]byte(`cluster: t
credentials: {monitor: /nonexistent/monitor.cnf}
gossip: {key_file: /nonexistent/cluster.key}
galera: {suspect_timeout: 3s}
sites:
  - {name: lngs, sql: 127.0.0.1:1, gossip: 127.0.0.1:2, galera: 127.0.0.1:7}
  - {name: bari, sql: 127.0.0.1:3, gossip: 127.0.0.1:4, galera: 127.0.0.1:8}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(c, "bari", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p := &settingsPoller{n: galera.NodeSettings{Vars: map[string]string{}, Provider: map[string]string{"evs.suspect_timeout": "PT5S"}}}
	a.poller = p
	now := time.Now()
	a.renderedStep(t.Context(), a.cfg(), now)
	rep := a.Report().Detail.(Detail)
	if len(rep.Rendered) != 1 || !strings.Contains(rep.Rendered[0], `evs.suspect_timeout is "PT5S", rendered "PT3S"`) {
		t.Errorf("rendered_drift = %q", rep.Rendered)
	}
	if v := value(t, gather(t, a.metrics.reg), "keyha_rendered_drift"); v != 1 {
		t.Errorf("keyha_rendered_drift = %v, want 1", v)
	}
	// Within the minute nothing is read again; after it, the restarted node agrees.
	p.n.Provider["evs.suspect_timeout"] = "PT3S"
	a.renderedStep(t.Context(), a.cfg(), now.Add(time.Second))
	if p.reads != 1 {
		t.Errorf("settings read %d times within a minute", p.reads)
	}
	a.renderedStep(t.Context(), a.cfg(), now.Add(renderedEvery))
	if rep := a.Report().Detail.(Detail); len(rep.Rendered) != 0 {
		t.Errorf("rendered_drift = %q after the node agrees", rep.Rendered)
	}
	if v := value(t, gather(t, a.metrics.reg), "keyha_rendered_drift"); v != 0 {
		t.Errorf("keyha_rendered_drift = %v, want 0", v)
	}
}
