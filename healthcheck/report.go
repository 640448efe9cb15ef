// Package healthcheck answers HAProxy's agent-check protocol, an HTTP check and Prometheus, from
// a Source it knows only by its Report: a state, a weight and a reason. It knows nothing of Galera
// or DRBD.
package healthcheck

import (
	"strconv"
	"strings"
)

// States a Report may carry, as HAProxy's agent-check words.
const (
	StateUp    = "up"
	StateDrain = "drain"
	StateDown  = "down"
	StateMaint = "maint"
)

// Report is what every check answers at one moment.
type Report struct {
	Site   string `json:"site"`
	State  string `json:"state"`            // the answer to HAProxy
	Health string `json:"health,omitempty"` // the node's own health; differs from State for a standby
	Role   string `json:"role,omitempty"`   // writer, standby, or "" when every healthy node serves
	Weight int    `json:"weight"`
	Reason string `json:"reason"`
	Writer string `json:"writer,omitempty"` // the site every agent agrees takes writes, when known
	// Island: the node serves reads alone while its site is cut off (island mode): its HAProxy's
	// island backend asks /health/island.
	Island bool `json:"island,omitempty"`
	Detail any  `json:"detail,omitempty"` // the full snapshot, for /status
}

// Source gives the current report. It must return at once: checks never wait for a database.
type Source interface {
	Report() Report
}

// AgentReply renders a report as an agent-check answer. "ready" is sent with "up": a server that
// was drained or put in maintenance by an earlier answer leaves that state only on "ready".
func AgentReply(r Report) string {
	var words string
	switch r.State {
	case StateUp:
		w := r.Weight
		if w <= 0 || w > 100 {
			w = 100
		}
		words = "up ready " + strconv.Itoa(w) + "%"
	case StateDrain:
		words = "up drain"
	case StateMaint:
		words = "maint"
	default: // anything unknown is down: never up on doubt
		words = "down"
	}
	return words + " #" + cleanReason(r.Reason) + "\n"
}

// cleanReason keeps the reason to one short line of printable ASCII, as HAProxy shows it.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
