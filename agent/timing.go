package agent

import (
	"fmt"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/membership"
)

// CheckTimings refuses HAProxy and gossip timings under which a writer's site whose agent fell
// silent (crashed, stopped) could be replaced while some HAProxy still routes to it: the other
// agents name another writer only once gossip declares the silent one dead, and that must come
// after every HAProxy has dropped its node.
func CheckTimings(c *config.Cluster) error {
	if c.Mode != "galera" || c.Writer.Mode != "single" || len(c.Sites) < 2 {
		return nil
	}
	down := haproxy.ClusterTimings(c).DownWithin()
	dead := membership.DeadAfter(c.Gossip.Preset, len(c.Sites))
	if down >= dead {
		slower := "wan"
		if c.Gossip.Preset == "local" {
			slower = "lan or wan"
		}
		return fmt.Errorf("haproxy timings and gossip.preset %s: HAProxy may keep a silent agent's node UP for %v, "+
			"but gossip can declare that agent dead after %v and the others then name another writer: two writers for a moment; "+
			"lower haproxy.check_interval (1500ms rides out a lost SYN) or haproxy.fall, or use a slower gossip preset (%s)", c.Gossip.Preset, down, dead, slower)
	}
	return nil
}
