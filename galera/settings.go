package galera

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NodeSettings is what check-config reads from one node: its global variables of interest and
// its provider options (wsrep_provider_options, parsed).
type NodeSettings struct {
	Site        string
	Err         string
	Vars        map[string]string // lower-case variable names
	Provider    map[string]string
	ClusterSize int // wsrep_cluster_size: data nodes plus arbitrators
}

// Finding is one judgement of check-config.
type Finding struct {
	Level string `json:"level"` // ERROR, WARN, OK
	Site  string `json:"site,omitempty"`
	What  string `json:"what"`
}

// ParseProviderOptions splits "a.b = 1; c = x" into a map.
func ParseProviderOptions(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

var isoRE = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration reads Galera's ISO 8601 durations: PT5S, PT1M, PT0.5S, P1D.
func ParseISODuration(s string) (time.Duration, error) {
	m := isoRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration like PT5S", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		f, _ := strconv.ParseFloat(m[4], 64)
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}

// Provider options that are a node's own and rightly differ between sites.
var perNode = []string{"base_dir", "base_host", "base_port", "gmcast.listen_addr", "ist.recv_addr", "ist.recv_bind", "gmcast.segment",
	"pc.weight", "gcache.dir", "gcache.name", "socket.ssl_key", "socket.ssl_cert", "socket.ssl_ca", "evs.view_forget_timeout"}

// Variables that must agree between sites.
var sameVars = []string{"wsrep_cluster_name", "wsrep_sst_method", "binlog_format", "innodb_autoinc_lock_mode", "wsrep_provider",
	"wsrep_slave_threads", "wsrep_sync_wait", "default_storage_engine"}

// JudgeSettings judges a cluster's Galera settings: quorum (an even number of votes with no
// arbitrator), timeouts against the largest round-trip time measured between sites (maxRTT, 0 when
// unknown), required settings, and settings that differ between sites.
func JudgeSettings(nodes []NodeSettings, maxRTT time.Duration) []Finding {
	var fs []Finding
	add := func(level, site, f string, a ...any) { fs = append(fs, Finding{level, site, fmt.Sprintf(f, a...)}) }
	var ok []NodeSettings
	for _, n := range nodes {
		if n.Err != "" {
			add("ERROR", n.Site, "could not be read: %s", n.Err)
			continue
		}
		ok = append(ok, n)
	}
	if len(ok) == 0 {
		return fs
	}

	// Quorum: votes are data nodes plus arbitrators (each pc.weight 1 unless set).
	size := 0
	weights := map[string]bool{}
	for _, n := range ok {
		size = max(size, n.ClusterSize)
		if w := n.Provider["pc.weight"]; w != "" && w != "1" {
			weights[n.Site] = true
		}
	}
	arbitrators := size - len(nodes)
	switch {
	case len(nodes) == 2 && arbitrators <= 0 && len(weights) == 0:
		add("ERROR", "", "two data sites and no arbitrator: losing either site, or the link between them, stops both (no quorum). Run garbd at a third site, or give one site a higher pc.weight (it then survives alone, the other never does)")
	case len(nodes) == 2 && arbitrators <= 0:
		add("WARN", "", "two data sites weighted by pc.weight: only the heavier site survives a split; garbd at a third site lets either survive")
	case (len(nodes)+max(arbitrators, 0))%2 == 0 && len(weights) == 0:
		add("WARN", "", "%d votes: an even split leaves no quorum; add garbd or weights", len(nodes)+max(arbitrators, 0))
	default:
		add("OK", "", "quorum: %d data nodes, %d arbitrators", len(nodes), max(arbitrators, 0))
	}

	for _, n := range ok {
		if v := strings.ToUpper(n.Vars["binlog_format"]); v != "" && v != "ROW" {
			add("ERROR", n.Site, "binlog_format=%s: Galera replicates ROW only", v)
		}
		if v := n.Vars["innodb_autoinc_lock_mode"]; v != "" && v != "2" {
			add("WARN", n.Site, "innodb_autoinc_lock_mode=%s: use 2 (interleaved) with Galera", v)
		}
		for _, k := range []string{"pc.ignore_sb", "pc.ignore_quorum"} {
			if strings.EqualFold(n.Provider[k], "true") || n.Provider[k] == "1" {
				add("ERROR", n.Site, "%s=true: a partitioned site keeps taking writes (split brain)", k)
			}
		}
		judgeTimeouts(n, maxRTT, add)
		if IsPXC(n) {
			judgePXC(n, add)
		}
	}

	// Differences between sites.
	for _, k := range sameVars {
		diff(ok, k, func(n NodeSettings) string { return n.Vars[k] }, add)
	}
	keys := map[string]bool{}
	for _, n := range ok {
		for k := range n.Provider {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		if !slices.Contains(perNode, k) {
			sorted = append(sorted, k)
		}
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		diff(ok, k, func(n NodeSettings) string { return n.Provider[k] }, add)
	}
	return fs
}

// IsPXC reports whether the node runs Percona XtraDB Cluster (its version_comment says so).
func IsPXC(n NodeSettings) bool {
	return strings.Contains(n.Vars["version_comment"], "Percona XtraDB Cluster")
}

// judgePXC judges what Percona XtraDB Cluster adds: pxc_strict_mode, which refuses what Galera
// cannot replicate safely (tables without a primary key, LOCK TABLES, non-InnoDB tables), and its
// SST methods (8.0: xtrabackup-v2, and clone from 8.0.41; rsync and mysqldump are gone).
func judgePXC(n NodeSettings, add func(level, site, f string, a ...any)) {
	switch m := strings.ToUpper(n.Vars["pxc_strict_mode"]); m {
	case "", "ENFORCING", "MASTER":
	default:
		add("WARN", n.Site, "pxc_strict_mode=%s: what Galera cannot replicate safely (tables without a primary key, LOCK TABLES, MyISAM) is only logged, not refused; use ENFORCING", m)
	}
	switch m := n.Vars["wsrep_sst_method"]; m {
	case "", "xtrabackup-v2", "clone":
	default:
		add("ERROR", n.Site, "wsrep_sst_method=%s: Percona XtraDB Cluster 8.0 transfers state with xtrabackup-v2 (or clone, from 8.0.41); a joiner needing a full transfer would fail", m)
	}
}

func diff(nodes []NodeSettings, key string, get func(NodeSettings) string, add func(level, site, f string, a ...any)) {
	vals := map[string][]string{}
	for _, n := range nodes {
		vals[get(n)] = append(vals[get(n)], n.Site)
	}
	if len(vals) < 2 {
		return
	}
	var parts []string
	for v, sites := range vals {
		parts = append(parts, fmt.Sprintf("%s=%q", strings.Join(sites, ","), v))
	}
	slices.Sort(parts)
	add("WARN", "", "%s differs between sites: %s", key, strings.Join(parts, " "))
}

// SuspectTimeout is the evs.suspect_timeout keyha advises for sites maxRTT apart whose members
// speak up every keepalive when idle: 50 round trips (jitter), and never under the longest
// silence a peer shows over a link with 1% loss. That silence is an idle keepalive period, then
// one segment lost three times in a row (about once in 10^6 segments at 1% loss): TCP resends it
// after RTO = RTT + 200 ms, then after twice and four times that, 7 RTOs in all. Plus 0.3 s,
// rounded up to half a second. Under load nobody is idle; a segment lost four times (15 RTOs,
// over 3 s, about once in 10^8) is suspected whether the timeout is 2.5 s or 3 s.
func SuspectTimeout(maxRTT, keepalive time.Duration) time.Duration {
	quiet := keepalive + 7*(maxRTT+200*time.Millisecond) + 300*time.Millisecond
	half := 500 * time.Millisecond
	return (max(50*maxRTT, quiet) + half - 1).Truncate(half)
}

// galeraKeepalive is evs.keepalive_period when a node does not set it; fastKeepalive is keyha's
// (the lab's and the packaged example's): an idle peer's silence counts in SuspectTimeout.
const (
	galeraKeepalive = time.Second
	fastKeepalive   = 500 * time.Millisecond
)

// JoinRetrans is the evs.join_retrans_period keyha advises: 10 round trips, never under 0.3 s.
func JoinRetrans(maxRTT time.Duration) time.Duration {
	return max(10*maxRTT, 300*time.Millisecond).Round(100 * time.Millisecond)
}

// judgeTimeouts: Galera suspects a silent peer after evs.suspect_timeout and evicts it after
// evs.inactive_timeout; over a WAN these must stay well above the round-trip time and its spikes.
func judgeTimeouts(n NodeSettings, maxRTT time.Duration, add func(level, site, f string, a ...any)) {
	get := func(k string) (time.Duration, bool) {
		v, ok := n.Provider[k]
		if !ok {
			return 0, false
		}
		d, err := ParseISODuration(v)
		if err != nil {
			add("WARN", n.Site, "%s=%s: %v", k, v, err)
			return 0, false
		}
		return d, true
	}
	suspect, ok1 := get("evs.suspect_timeout")
	inactive, ok2 := get("evs.inactive_timeout")
	keepalive, ok3 := get("evs.keepalive_period")
	if ok1 && ok2 && inactive < suspect {
		add("ERROR", n.Site, "evs.inactive_timeout (%s) is shorter than evs.suspect_timeout (%s)", inactive, suspect)
	}
	if ok3 && ok1 && keepalive*3 > suspect {
		add("WARN", n.Site, "evs.keepalive_period (%s) is over a third of evs.suspect_timeout (%s): one lost keepalive can make a peer suspect", keepalive, suspect)
	}
	if maxRTT <= 0 || !ok1 {
		return
	}
	// The suspect timeout is also how long every commit in the cluster waits when a site vanishes
	// without closing its connections (cut off, its host dead): as short as is safe
	// (SuspectTimeout). 5 s (Galera's default) stalls longer for nothing up to a 60 ms round trip.
	if !ok3 {
		keepalive = galeraKeepalive
	}
	want := SuspectTimeout(maxRTT, keepalive)
	switch {
	case suspect < want:
		add("WARN", n.Site, "evs.suspect_timeout=%s is short for a %s round trip between sites: use at least %s", suspect, maxRTT.Round(time.Millisecond), want)
	case suspect > want+time.Second:
		add("INFO", n.Site, "evs.suspect_timeout=%s: every commit waits that long when a site is cut off; with a %s round trip, %s is enough (it rides out 1%% loss)",
			suspect, maxRTT.Round(time.Millisecond), want)
	case keepalive > fastKeepalive:
		if alt := SuspectTimeout(maxRTT, fastKeepalive); alt < suspect {
			add("INFO", n.Site, "evs.keepalive_period=%s: with %s, evs.suspect_timeout=%s rides out 1%% loss as well, and a cut-off site stalls commits %s less",
				keepalive, fastKeepalive, alt, suspect-alt)
		}
	}
	// After a member is evicted (keyha evicts a dead mysqld's member at once) the others agree on
	// the new view by EVS join messages, resent every join_retrans_period: with Galera's 1 s a
	// crash failover waited about a second here for nothing; 0.3 s cut that to 0.1 s in the lab.
	if jr, ok := get("evs.join_retrans_period"); ok {
		if want := JoinRetrans(maxRTT); jr > want+200*time.Millisecond {
			add("INFO", n.Site, "evs.join_retrans_period=%s: a view change after an eviction waits up to that long; with a %s round trip, %s is enough",
				jr, maxRTT.Round(time.Millisecond), want)
		}
	}
	if maxRTT > 5*time.Millisecond && n.Provider["gmcast.segment"] == "0" {
		add("WARN", n.Site, "gmcast.segment=0 with %s between sites: give each site its own segment so write-sets cross the WAN once per site", maxRTT.Round(time.Millisecond))
	}
	// EVS lets only so many messages be unacknowledged; each acknowledgement takes a round trip,
	// so Galera's defaults (4 and 2) cap replication at a few messages per RTT over a WAN.
	for _, k := range []string{"evs.send_window", "evs.user_send_window"} {
		if w, err := strconv.Atoi(n.Provider[k]); err == nil && w < 128 && maxRTT > 5*time.Millisecond {
			add("WARN", n.Site, "%s=%d: at most %d messages in flight per %s round trip caps replication; use 512", k, w, w, maxRTT.Round(time.Millisecond))
		}
	}
}
