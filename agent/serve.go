package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/healthcheck"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/pki"
)

// listeners are a site's agent-check, HTTP and metrics listeners; nil where the cluster file
// gives no address.
type listeners struct{ agent, http, metrics net.Listener }

// listen opens them all, or none: a failure to listen ends the agent (an agent that cannot answer
// must not pretend to run; HAProxy's check then fails and the node goes down). Sockets systemd
// passes (socket activation) are taken for the addresses they listen on; the others are opened.
func listen(ctx context.Context, c *config.Cluster, s *config.Site, log *slog.Logger) (ls listeners, err error) {
	var lc net.ListenConfig
	passed, err := inherited()
	if err != nil {
		return listeners{}, err
	}
	defer func() {
		for _, l := range passed {
			if err == nil {
				log.Warn("socket activation: a passed socket listens on an address the cluster file does not give this site; closed", "addr", l.Addr())
			}
		}
		closeAll(passed)
	}()
	for _, l := range []struct {
		what, addr string
		into       *net.Listener
	}{{"agent-check", s.Agent, &ls.agent}, {"http check", s.HTTP, &ls.http}, {"metrics", s.Metrics, &ls.metrics}} {
		if l.addr == "" {
			continue
		}
		if nl := take(&passed, l.addr); nl != nil {
			*l.into = nl
			continue
		}
		nl, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			ls.close()
			return listeners{}, fmt.Errorf("listen for %s on %s: %w", l.what, l.addr, err)
		}
		*l.into = nl
	}
	if ls.http != nil && c.TLS.On() {
		// The HTTP port speaks TLS with the site's certificate: HAProxy's check verifies it, so
		// a listener without this site's key never makes the node UP.
		cert, key := c.TLS.Agent(s.Name)
		cfg, err := pki.ServerConfig(c.TLS.CA, cert, key)
		if err != nil {
			ls.close()
			return listeners{}, fmt.Errorf("TLS for the http port: %w", err)
		}
		ls.http = tls.NewListener(ls.http, cfg)
	}
	return ls, nil
}

func (ls listeners) close() {
	for _, l := range []net.Listener{ls.agent, ls.http, ls.metrics} {
		if l != nil {
			l.Close()
		}
	}
}

// serve answers HAProxy's agent-check, the HTTP check (with the control routes) and Prometheus
// from src, in g, until ctx ends. served counts the checks answered, by kind.
func (ls listeners) serve(ctx context.Context, g *errgroup.Group, src healthcheck.Source, log *slog.Logger,
	served func(kind string) func(), reg *prometheus.Registry, routes func(*http.ServeMux)) {
	if ls.agent != nil {
		srv := &healthcheck.AgentServer{Source: src, Log: log, Served: served("agent")}
		g.Go(func() error { return srv.Serve(ctx, ls.agent) })
	}
	failed := prometheus.NewCounter(prometheus.CounterOpts{Name: "keyha_agent_http_conn_errors_total",
		Help: "Connections to the agent's HTTP and metrics ports that failed before any request (TLS handshake, protocol); logged at most once a minute."})
	reg.MustRegister(failed)
	errLog := (&healthcheck.ConnErrors{Log: log, Count: failed.Inc, Every: time.Minute}).Logger()
	if ls.http != nil {
		mux := http.NewServeMux()
		mux.Handle("/", healthcheck.HTTPHandler(src, served("http")))
		routes(mux)
		g.Go(func() error { return healthcheck.ServeHTTP(ctx, ls.http, mux, errLog) })
	}
	if ls.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		g.Go(func() error { return healthcheck.ServeHTTP(ctx, ls.metrics, mux, errLog) })
	}
}

// every runs f at once and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startGossip joins this site's agent to the other sites' agents.
// Refusals are counted in keyha_gossip_refused_total.
func startGossip(ctx context.Context, c *config.Cluster, site *config.Site, log *slog.Logger, reg *prometheus.Registry, initial *membership.State) (*membership.Gossip, error) {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyha_gossip_refused_total",
		Help: "Gossip members and states refused, by reason (stranger: a name outside the cluster file; state_mismatch: a state naming another site).",
	}, []string{"reason"})
	refused.WithLabelValues("stranger")
	refused.WithLabelValues("state_mismatch")
	if err := reg.Register(refused); err != nil {
		return nil, fmt.Errorf("register the gossip metrics: %w", err)
	}
	var peers []string
	for _, s := range c.Sites {
		if s.Name != site.Name && s.GossipAt != "" {
			peers = append(peers, s.GossipAt)
		}
	}
	return membership.Start(ctx, membership.Config{Site: site.Name, Bind: site.GossipAt, Peers: peers,
		Preset: c.Gossip.Preset, KeyFile: c.Gossip.KeyFile, Sites: c.SiteNames(), Initial: initial,
		Refused: func(reason string) { refused.WithLabelValues(reason).Inc() }}, log)
}
