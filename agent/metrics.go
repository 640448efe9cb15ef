package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keyha/keyha/galera"
)

type metrics struct {
	reg      *prometheus.Registry
	checks   *prometheus.CounterVec
	polls    prometheus.Counter
	errors   *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyha_agent_checks_total", Help: "Checks answered, by kind (agent: HAProxy agent-check, http: /health).",
		}, []string{"kind"}),
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
	}
	for _, c := range []galera.ErrClass{galera.ErrUnreachable, galera.ErrAuth, galera.ErrTimeout, galera.ErrQuery} {
		m.errors.WithLabelValues(string(c))
	}
	m.checks.WithLabelValues("agent")
	m.checks.WithLabelValues("http")
	m.reg.MustRegister(m.checks, m.polls, m.errors, m.duration,
		galera.NewCollector(a.Snapshot),
		&verdictCollector{a: a},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) served(kind string) func() {
	c := m.checks.WithLabelValues(kind)
	return c.Inc
}

func (m *metrics) observe(s galera.Snapshot) {
	m.polls.Inc()
	m.duration.Observe(s.Took.Seconds())
	if s.ErrClass != galera.ErrNone {
		m.errors.WithLabelValues(string(s.ErrClass)).Inc()
	}
}

// verdictCollector exports the verdict as judged at scrape time, one series per state, with the
// reason as a label on an info series.
type verdictCollector struct{ a *Agent }

var (
	verdictDesc = prometheus.NewDesc("keyha_agent_verdict", "1 for the agent's current verdict on its node, 0 for the others.", []string{"state"}, nil)
	reasonDesc  = prometheus.NewDesc("keyha_agent_verdict_info", "The current verdict and its reason.", []string{"state", "reason"}, nil)
)

func (v *verdictCollector) Describe(ch chan<- *prometheus.Desc) { ch <- verdictDesc; ch <- reasonDesc }

func (v *verdictCollector) Collect(ch chan<- prometheus.Metric) {
	r := v.a.Report()
	for _, s := range []string{"up", "drain", "down", "maint"} {
		val := 0.0
		if r.State == s {
			val = 1
		}
		ch <- prometheus.MustNewConstMetric(verdictDesc, prometheus.GaugeValue, val, s)
	}
	ch <- prometheus.MustNewConstMetric(reasonDesc, prometheus.GaugeValue, 1, r.State, r.Reason)
}
