package agent

import (
	"fmt"
	"strings"

	"github.com/keyha/keyha/config"
)

// Reload reads the cluster file again (the agent's answer to SIGHUP) and takes it in place when
// the keys that changed can change while running: priorities, failback, grace, timings of the
// checks, commands, credentials for actions, key repositories. A file that is invalid, or that
// changes a key the running agent was built from (its addresses, gossip, TLS, poller), is not
// taken: the agent keeps the file it runs, says why in its log, /status (config_pending) and
// keyha_config_reloads_total, and returns the reason.
func (a *Agent) Reload() error {
	cf := a.cfg()
	next, err := config.Load(cf.cluster.Path)
	if err != nil {
		return a.notTaken("invalid", fmt.Sprintf("%v; still running %s", err, shortHash(cf.cluster.Hash)))
	}
	if next.Hash == cf.cluster.Hash {
		a.metrics.reloads.WithLabelValues("unchanged").Inc()
		a.setPending("")
		return nil
	}
	if keys := config.NeedsRestart(cf.cluster, next); len(keys) > 0 {
		return a.notTaken("restart", fmt.Sprintf("cluster file %s changes %s: restart the agent to take it; still running %s",
			shortHash(next.Hash), strings.Join(keys, ", "), shortHash(cf.cluster.Hash)))
	}
	ncf, err := newConf(next, cf.site.Name)
	if err != nil {
		return a.notTaken("invalid", fmt.Sprintf("%v; still running %s", err, shortHash(cf.cluster.Hash)))
	}
	a.cur.Store(ncf)
	a.setPending("")
	a.metrics.reloads.WithLabelValues("ok").Inc()
	a.log.Info("cluster file reloaded", "from", shortHash(cf.cluster.Hash), "to", shortHash(next.Hash),
		"decides_writer_differently", next.Decision() != cf.cluster.Decision())
	return nil
}

func (a *Agent) notTaken(result, why string) error {
	a.metrics.reloads.WithLabelValues(result).Inc()
	a.setPending(why)
	a.log.Error("cluster file not reloaded", "why", why)
	return fmt.Errorf("cluster file not reloaded: %s", why)
}

func (a *Agent) setPending(why string) {
	a.mu.Lock()
	a.pending = why
	a.mu.Unlock()
}
