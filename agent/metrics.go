package agent

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/pki"
)

// Metric conventions (docs/agent.md lists every series): names follow Prometheus's, values that
// only grow are counters, label values come from small fixed sets (a verdict's reason is free text:
// it goes to /status and the log, never into a label), and a series does not vanish when a poll
// fails: keyha_agent_poll_ok says so instead.

// shared registers what both modes export under the same names: the build, the checks answered,
// whether the last poll of the local node succeeded, and the process. served counts a check.
func shared(reg *prometheus.Registry, mode string, pollOK func() bool, hash func() string) (served func(kind string) func()) {
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyha_agent_checks_total", Help: "Checks answered, by kind (agent: HAProxy agent-check, http: the HTTP check).",
	}, []string{"kind"})
	checks.WithLabelValues("agent")
	checks.WithLabelValues("http")
	reg.MustRegister(checks,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyha_build_info", Help: "Always 1; the agent's version, Go version and mode as labels.",
			ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version(), "mode": mode},
		}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyha_agent_poll_ok", Help: "1 when the last poll of the local node succeeded (Galera: wsrep status read; DRBD: its state read), else 0.",
		}, func() float64 { return b2f(pollOK()) }),
		configInfo{hash},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return func(kind string) func() { return checks.WithLabelValues(kind).Inc }
}

// configInfo exports the running cluster file's hash (its first 12 hex digits, as gossip and
// `keyha status` show it): sites whose agents export different hashes run different files.
type configInfo struct{ hash func() string }

var configInfoDesc = prometheus.NewDesc("keyha_config_info", "Always 1; the running cluster file's SHA-256 (first 12 hex digits) as the hash label.", []string{"hash"}, nil)

func (c configInfo) Describe(ch chan<- *prometheus.Desc) { ch <- configInfoDesc }
func (c configInfo) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(configInfoDesc, prometheus.GaugeValue, 1, shortHash(c.hash()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type metrics struct {
	reg          *prometheus.Registry
	served       func(kind string) func()
	polls        prometheus.Counter
	errors       *prometheus.CounterVec
	duration     prometheus.Histogram
	evicted      *prometheus.CounterVec
	stallEvicted *prometheus.CounterVec
	lowered      *prometheus.CounterVec
	reloads      *prometheus.CounterVec
	islandOn     prometheus.Gauge
	islandAge    prometheus.Gauge
	rendered     prometheus.Gauge

	stalled prometheus.Gauge
}

// island exports island mode's judgement.
func (m *metrics) island(j galera.Island) {
	m.islandOn.Set(b2f(j.Active))
	age := 0.0
	if j.Active {
		age = j.Age.Seconds()
	}
	m.islandAge.Set(age)
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		polls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyha_agent_polls_total", Help: "Polls of the local node.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyha_agent_poll_errors_total", Help: "Failed polls of the local node, by class (unreachable, auth, timeout, query).",
		}, []string{"class"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keyha_agent_poll_duration_seconds", Help: "How long a poll of the local node took.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyha_galera_evictions_total", Help: "Members this agent evicted from the group (evs.evict) because their site's agent reported the process gone, by result (ok, failed).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyha_config_reloads_total", Help: "Cluster-file reloads (SIGHUP), by result: ok (taken), unchanged, invalid (kept the running file), restart (a key that needs a restart changed; kept the running file).",
		}, []string{"result"}),
	}
	for _, r := range []string{"ok", "unchanged", "invalid", "restart"} {
		m.reloads.WithLabelValues(r)
	}
	m.islandOn = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyha_island_active", Help: "1 while this site's node serves reads alone as an island (island mode), else 0."})
	m.islandAge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyha_island_data_age_seconds", Help: "While an island: how long since the node last saw the Primary component (the age of its data); 0 otherwise."})
	m.rendered = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyha_rendered_drift", Help: "Galera settings the node runs, and HAProxy servers the site runs, unlike the galera.cnf and haproxy.cfg keyha render writes for it now (checked every minute); 0 when they agree."})
	m.stalled = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keyha_applier_stalled_seconds", Help: "How long the node's applier has not moved with write-sets waiting (it holds every site in flow control); 0 while it moves."})
	m.reg.MustRegister(m.islandOn, m.islandAge, m.rendered, m.stalled)
	m.evicted.WithLabelValues("ok")
	m.evicted.WithLabelValues("failed")
	m.stallEvicted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyha_galera_stall_evictions_total", Help: "Members this agent evicted from the group (evs.evict) because their applier held the cluster in flow control for agent.evict_stalled_after, by result (ok, failed).",
	}, []string{"result"})
	m.lowered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyha_haproxy_marked_down_total", Help: "Servers this agent marked down in its site's HAProxy because their node left the Primary component (its checks were still passing or timing out), by result (ok, failed).",
	}, []string{"result"})
	m.lowered.WithLabelValues("ok")
	m.lowered.WithLabelValues("failed")
	m.stallEvicted.WithLabelValues("ok")
	m.stallEvicted.WithLabelValues("failed")
	for _, c := range []galera.ErrClass{galera.ErrUnreachable, galera.ErrAuth, galera.ErrTimeout, galera.ErrQuery} {
		m.errors.WithLabelValues(string(c))
	}
	m.served = shared(m.reg, "galera", func() bool { s := a.Snapshot(); return !s.At.IsZero() && s.ErrClass == galera.ErrNone },
		func() string { return a.cfg().cluster.Hash })
	tlsExpiry(m.reg, a.cfg().cluster, a.cfg().site.Name)
	m.reg.MustRegister(m.polls, m.errors, m.duration, m.evicted, m.stallEvicted, m.lowered, m.reloads, galera.NewCollector(a.Snapshot), &verdictCollector{a: a})
	return m
}

func (m *metrics) observe(s galera.Snapshot) {
	m.polls.Inc()
	m.duration.Observe(s.Took.Seconds())
	if s.ErrClass != galera.ErrNone {
		m.errors.WithLabelValues(string(s.ErrClass)).Inc()
	}
}

// verdictCollector exports the verdict as judged at scrape time, one series per state. Its reason
// is in /status and the log.
type verdictCollector struct{ a *Agent }

var (
	verdictDesc = prometheus.NewDesc("keyha_agent_verdict", "1 for the agent's current verdict on its node, 0 for the others.", []string{"state"}, nil)
	writerDesc  = prometheus.NewDesc("keyha_agent_writer", "1 when this site's node takes the writes (its agent answers writer), else 0.", nil, nil)
	namedDesc   = prometheus.NewDesc("keyha_writer_named", "Single-writer mode: 1 for the site this agent names as the writer, 0 for the others; agents that disagree name different sites.", []string{"site"}, nil)
)

func (v *verdictCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- verdictDesc
	ch <- writerDesc
	ch <- namedDesc
}

func (v *verdictCollector) Collect(ch chan<- prometheus.Metric) {
	r := v.a.Report()
	// writer.mode all: every node that is up takes writes.
	ch <- prometheus.MustNewConstMetric(writerDesc, prometheus.GaugeValue, b2f((r.Role == "writer" || !v.a.single) && r.State == "up"))
	if v.a.single {
		for _, s := range v.a.cfg().cluster.Sites {
			ch <- prometheus.MustNewConstMetric(namedDesc, prometheus.GaugeValue, b2f(r.Writer == s.Name), s.Name)
		}
	}
	for _, s := range []string{"up", "drain", "down", "maint"} {
		val := 0.0
		if r.State == s {
			val = 1
		}
		ch <- prometheus.MustNewConstMetric(verdictDesc, prometheus.GaugeValue, val, s)
	}
}

// tlsExpiry exports when the site's agent certificate expires (read at each scrape, so a renewed
// file shows at once): alert well before it, every HAProxy's check fails after it.
func tlsExpiry(reg *prometheus.Registry, c *config.Cluster, site string) {
	if !c.TLS.On() {
		return
	}
	cert, _ := c.TLS.Agent(site)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyha_tls_cert_expiry_timestamp_seconds", Help: "When this site's agent certificate (tls.agent_cert) expires, as a Unix time; 0 when it cannot be read.",
	}, func() float64 {
		t, err := pki.Expiry(cert)
		if err != nil {
			return 0
		}
		return float64(t.Unix())
	}))
}
