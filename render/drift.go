package render

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// DriftVars are the variables Drift compares; check-config reads them from every node.
var DriftVars = []string{"wsrep_cluster_address", "wsrep_node_name", "wsrep_node_address", "wsrep_node_incoming_address",
	"wsrep_sst_receive_address", "wsrep_sst_method", "wsrep_slave_threads", "wsrep_provider", "wsrep_cluster_name",
	"binlog_format", "innodb_autoinc_lock_mode", "default_storage_engine", "require_secure_transport", "port", "bind_address"}

// Used reports whether the cluster file says how its nodes' my.cnf is rendered (a galera section
// beyond the defaults): only then is a node's difference from it drift.
func Used(c *config.Cluster) bool {
	return c.Mode != "drbd" && !reflect.DeepEqual(c.Galera, config.Galera{Provider: c.Galera.Provider, SSTMethod: c.Galera.SSTMethod, SlaveThreads: c.Galera.SlaveThreads})
}

// Drift names each setting a node runs with that differs from what its rendered galera.cnf sets
// now: a file not installed, edited by hand, or installed but not yet restarted into. Settings
// the node did not report are not judged.
func Drift(c *config.Cluster, n galera.NodeSettings) ([]string, error) {
	s, err := c.Site(n.Site)
	if err != nil {
		return nil, err
	}
	mysqld, provider, _, err := galeraParts(c, s)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range mysqld {
		name := strings.ReplaceAll(kv.k, "-", "_")
		got, ok := n.Vars[name]
		if !ok || name == "wsrep_provider_options" || strings.EqualFold(got, kv.v) {
			continue
		}
		out = append(out, fmt.Sprintf("%s is %q, rendered %q", name, got, kv.v))
	}
	for _, kv := range provider {
		got, ok := n.Provider[kv.k]
		if !ok || sameOption(kv.k, got, kv.v) {
			continue
		}
		out = append(out, fmt.Sprintf("provider option %s is %q, rendered %q", kv.k, got, kv.v))
	}
	return out, nil
}

// sameOption compares a provider option as Galera reports it with the rendered value: durations
// by value (PT3S, PT0.25S), listen addresses without their scheme (tcp:// turns ssl:// with TLS).
func sameOption(key, got, want string) bool {
	if strings.EqualFold(got, want) {
		return true
	}
	if g, err := galera.ParseISODuration(got); err == nil {
		if w, err := galera.ParseISODuration(want); err == nil {
			return g == w
		}
	}
	strip := func(v string) string {
		if _, rest, ok := strings.Cut(v, "://"); ok {
			return rest
		}
		return v
	}
	return strip(got) == strip(want)
}
