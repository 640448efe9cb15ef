package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Decision is a short digest of what the writer decision depends on: the mode, writer.mode and
// writer.failback, and every site's name, priority, node name and role. Agents whose digests
// differ could pick different successors from the same facts, so while a cluster-file change is
// rolled out they keep the designated writer and pick no other (agent, writer.Input.Agreed).
func (c *Cluster) Decision() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode=%s writer=%s failback=%v\n", c.Mode, c.Writer.Mode, c.Writer.Failback)
	sites := slices.Clone(c.Sites)
	slices.SortFunc(sites, func(x, y Site) int { return strings.Compare(x.Name, y.Name) })
	for _, s := range sites {
		fmt.Fprintf(&b, "site=%s priority=%d node=%s witness=%v\n", s.Name, s.Priority, s.NodeName, s.Witness)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:6])
}

// NeedsRestart lists the keys that differ between old and new which a running agent cannot take:
// its listeners, its gossip member, its poller and its TLS identity were built from them. An
// empty list means new can replace old in place (agent reload).
func NeedsRestart(old, new *Cluster) []string {
	return DiffKeys(fixed(old), fixed(new))
}

// fixed gives the restart-only keys with their values.
func fixed(c *Cluster) map[string]string {
	m := map[string]string{
		"cluster":             c.Name,
		"mode":                c.Mode,
		"credentials.monitor": c.Credentials.Monitor,
		"agent.poll_interval": c.Agent.PollInterval.String(),
		"agent.poll_timeout":  c.Agent.PollTimeout.String(),
		"agent.state_dir":     c.Agent.StateDir,
		"gossip.preset":       c.Gossip.Preset,
		"gossip.key_file":     c.Gossip.KeyFile,
		"tls":                 fmt.Sprint(c.TLS),
		"sites":               strings.Join(c.SiteNames(), ","),
		"writer.mode":         c.Writer.Mode,
		"island.enabled":      fmt.Sprint(c.Island.Enabled), // HAProxy's island backend is rendered from it
	}
	if c.Mode == "drbd" {
		m["drbd"] = fmt.Sprint(c.DRBD) // the DRBD agent is not reloaded
	}
	for _, s := range c.Sites {
		k := "sites (" + s.Name + ")."
		for name, v := range map[string]string{"sql": s.SQL, "agent": s.Agent, "http": s.HTTP, "metrics": s.Metrics,
			"gossip": s.GossipAt, "keystone.api": s.Keystone.API, "witness": fmt.Sprint(s.Witness)} {
			m[k+name] = v
		}
	}
	return m
}
