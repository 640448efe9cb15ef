package galera

import "github.com/prometheus/client_golang/prometheus"

// NewCollector exports the latest snapshot's wsrep values under mysqld_exporter's names and
// meanings (ON/Primary = 1, OFF/non-Primary/Disconnected = 0), so Galera dashboards built for
// mysqld_exporter read the agent's metrics unchanged. Nothing is exported before the first
// successful poll, and nothing while polls fail (the agent's keyha_agent_poll_ok says so). Values
// that only grow are counters (they restart with a new cluster or a restarted node, which
// Prometheus's rate() takes as a reset).
func NewCollector(get func() Snapshot) prometheus.Collector { return &collector{get: get} }

type collector struct{ get func() Snapshot }

type series struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	val  func(Snapshot) float64
}

func statusDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("mysql_global_status_"+name, help, nil, nil)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

const (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

var allSeries = []series{
	{statusDesc("wsrep_local_state", "Galera node state: 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced."), gauge, func(s Snapshot) float64 { return float64(s.LocalState) }},
	{statusDesc("wsrep_cluster_status", "1 when the node is in the Primary component."), gauge, func(s Snapshot) float64 { return b2f(s.ClusterStatus == "Primary") }},
	{statusDesc("wsrep_ready", "1 when the node accepts queries."), gauge, func(s Snapshot) float64 { return b2f(s.Ready) }},
	{statusDesc("wsrep_connected", "1 when the node is connected to the cluster."), gauge, func(s Snapshot) float64 { return b2f(s.Connected) }},
	{statusDesc("wsrep_cluster_size", "Nodes in the current view."), gauge, func(s Snapshot) float64 { return float64(s.ClusterSize) }},
	{statusDesc("wsrep_cluster_conf_id", "View changes seen by the cluster."), counter, func(s Snapshot) float64 { return float64(s.ClusterConfID) }},
	{statusDesc("wsrep_last_committed", "Seqno of the last committed write-set."), counter, func(s Snapshot) float64 { return float64(s.LastCommitted) }},
	{statusDesc("wsrep_local_index", "This node's index in the view."), gauge, func(s Snapshot) float64 { return float64(s.LocalIndex) }},
	{statusDesc("wsrep_local_recv_queue", "Write-sets waiting to be applied."), gauge, func(s Snapshot) float64 { return float64(s.RecvQueue) }},
	{statusDesc("wsrep_flow_control_paused", "Fraction of time paused by flow control since the last FLUSH STATUS."), gauge, func(s Snapshot) float64 { return s.FlowControlPaused }},
	{statusDesc("wsrep_flow_control_sent", "Flow control pause events sent."), counter, func(s Snapshot) float64 { return float64(s.FlowControlSent) }},
	{statusDesc("wsrep_local_cert_failures", "Local transactions that failed certification."), counter, func(s Snapshot) float64 { return float64(s.CertFailures) }},
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range allSeries {
		ch <- g.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.get()
	if s.At.IsZero() || s.ErrClass != ErrNone {
		return
	}
	for _, g := range allSeries {
		ch <- prometheus.MustNewConstMetric(g.desc, g.kind, g.val(s))
	}
}
