package galera

import (
	"fmt"
	"time"
)

// Island is the judgement of island mode at one moment: whether this site's node may serve reads
// alone, and how old its data is (how long since it last saw the Primary component).
type Island struct {
	Active bool          `json:"active"`
	Age    time.Duration `json:"age"`
	Reason string        `json:"reason"`
}

// JudgeIsland decides island mode from a snapshot: the node answers (its mysqld is up and read),
// it is outside the Primary component, and it left it (lastPrimary) at most maxStale ago. Whether
// a writer is reachable is HAProxy's to see: its island backend is used only when no server of
// the galera backend is. Without lastPrimary (the agent never saw this node Primary, e.g. it
// started during the cut) the data's age is unknown: no island.
func JudgeIsland(s Snapshot, lastPrimary time.Time, maxStale, staleAfter time.Duration, now time.Time) Island {
	no := func(f string, a ...any) Island { return Island{Reason: fmt.Sprintf(f, a...)} }
	switch {
	case s.At.IsZero() || now.Sub(s.At) > staleAfter:
		return no("no fresh poll of the node")
	case s.ErrClass != ErrNone:
		return no("the node does not answer (%s)", s.ErrClass)
	case s.ClusterStatus == "Primary":
		return no("the node is in the Primary component")
	case lastPrimary.IsZero():
		return no("never seen in the Primary component since the agent started: the data's age is unknown")
	}
	age := now.Sub(lastPrimary)
	if age > maxStale {
		return Island{Age: age, Reason: fmt.Sprintf("out of the Primary component for %s, past island.max_stale (%s): its data is too old to serve", age.Round(time.Second), maxStale)}
	}
	return Island{Active: true, Age: age, Reason: fmt.Sprintf("island: serving reads alone, data %s old (island.max_stale %s)", age.Round(time.Second), maxStale)}
}
