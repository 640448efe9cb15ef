// Package writer decides which site's node takes writes. Decide is a pure function: every agent
// feeds it what it knows (the designated writer recorded in the database, Galera's view, the
// gossiped health of every site) and answers for its own node only.
package writer

import (
	"fmt"
	"sort"
	"strings"
)

// Hold is the designated value that means "no writer": set by a switchover between taking the
// old writer out and putting the new one in, with an expiry so a switchover that dies half-way
// cannot leave the cluster without a writer.
const Hold = "-"

// Site is what one agent knows of one site.
type Site struct {
	Name     string
	Priority int
	InView   bool // its node is in this agent's Galera view (mysql.wsrep_cluster_members)
	Known    bool // gossip has told us something (alive, suspect or dead), or the grace has passed
	Healthy  bool // gossip says its agent is alive and judges its node up (or it is us, judged now)
	Heard    bool // its agent is heard now (alive in gossip, its state readable), or it is us
}

func (s Site) eligible() bool { return s.InView && s.Known && s.Healthy }

// Input is one agent's view at one moment.
type Input struct {
	Me         string
	Designated string // the site recorded in keyha.writer; "" none; Hold during a switchover
	HoldActive bool   // Designated == Hold and its expiry has not passed
	Failback   bool   // move back to a higher-priority site when it is eligible again
	Sites      []Site
	// Differ names the sites whose agents run a cluster file that decides differently (other
	// priorities, failback, node names: a rollout in progress). They could pick another successor
	// from the same facts, so until they agree the designated writer is kept and no other chosen.
	Differ []string
}

// Decision names the writer ("" for none) and whether this agent should record itself as the
// designated writer (it is the successor, or the failback target, and the record says otherwise).
type Decision struct {
	Writer string
	Reason string
	Record bool
}

// Decide returns the writer. Any agent with the same inputs gets the same answer; agents whose
// inputs differ (gossip not yet converged) can differ only while the differing facts propagate,
// and the rule "claim only with positive evidence about every better candidate" makes the error
// "no writer" rather than "two writers" (see docs/writer.md).
func Decide(in Input) Decision {
	if in.Designated == Hold && in.HoldActive {
		return Decision{Reason: "switchover in progress: no writer until it completes"}
	}
	sites := append([]Site(nil), in.Sites...)
	sort.SliceStable(sites, func(i, j int) bool {
		if sites[i].Priority != sites[j].Priority {
			return sites[i].Priority > sites[j].Priority
		}
		return sites[i].Name < sites[j].Name
	})
	var designated *Site
	for i := range sites {
		if sites[i].Name == in.Designated {
			designated = &sites[i]
		}
	}
	if len(in.Differ) > 0 {
		why := fmt.Sprintf("the cluster file at %s decides the writer differently", strings.Join(in.Differ, ", "))
		if designated != nil && designated.eligible() {
			return Decision{Writer: designated.Name, Reason: "designated writer, healthy; " + why + ": no failback or successor until the files agree"}
		}
		return Decision{Reason: why + ": no successor until every site runs the same file"}
	}
	// The successor: the best eligible site, provided no better site is in the view with unknown
	// health (it may be healthy: do not claim over it).
	var succ *Site
	var waitFor string
	for i := range sites {
		s := &sites[i]
		if s.eligible() {
			succ = s
			break
		}
		if s.InView && !s.Known {
			waitFor = s.Name
			break
		}
	}
	if designated != nil && designated.eligible() {
		// A healthy designated writer keeps the writes whatever is unknown of the others: only a
		// failback moves them, and only to a site known eligible with nothing unknown above it.
		if in.Failback && succ != nil && succ.Name != designated.Name && succ.Priority > designated.Priority {
			return Decision{Writer: succ.Name, Reason: fmt.Sprintf("failback to %s (priority %d)", succ.Name, succ.Priority), Record: succ.Name == in.Me}
		}
		return Decision{Writer: designated.Name, Reason: "designated writer, healthy"}
	}
	if waitFor != "" {
		return Decision{Reason: fmt.Sprintf("waiting for news of %s before choosing a writer", waitFor)}
	}
	if designated != nil && designated.InView && !designated.Known {
		return Decision{Reason: fmt.Sprintf("waiting for news of the designated writer %s", designated.Name)}
	}
	if succ == nil {
		return Decision{Reason: "no eligible site: none is healthy in the Primary component"}
	}
	why := "no designated writer"
	if designated != nil {
		why = fmt.Sprintf("designated writer %s is not eligible", designated.Name)
	}
	// A successor is named only by an agent that hears most of the agents whose nodes are in
	// its view: one cut off from the others' gossip alone (a path that drops only gossip) finds
	// every other site unfit, and claiming would take the writes from a writer still serving
	// and, the others claiming back, move them forever.
	inView, heard := 0, 0
	for _, s := range sites {
		if s.InView {
			inView++
			if s.Heard {
				heard++
			}
		}
	}
	if 2*heard <= inView {
		return Decision{Reason: fmt.Sprintf("%s, but this agent hears only %d of the %d agents whose nodes are in its view: it names no successor", why, heard, inView)}
	}
	return Decision{Writer: succ.Name, Reason: fmt.Sprintf("%s; successor by priority: %s", why, succ.Name), Record: succ.Name == in.Me}
}
