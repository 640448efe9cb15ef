package load

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Fault is one step of a fault schedule: at offset At from the start of the load, do Verb to Site.
// The verbs are the lab's (scripts/lab kill|stop|start|partition|heal SITE).
type Fault struct {
	At   time.Duration `json:"at"`
	Verb string        `json:"verb"`
	Site string        `json:"site"`
	From string        `json:"from,omitempty"`     // partition and loss: the link to this site alone
	Loss int           `json:"loss_pct,omitempty"` // loss only: the share of packets dropped
}

func (f Fault) String() string {
	site := f.Site
	if f.From != "" {
		site += "/" + f.From
	}
	if f.Verb == "loss" {
		site += fmt.Sprintf("=%d", f.Loss)
	}
	return fmt.Sprintf("%s:%s@%s", f.Verb, site, f.At)
}

// defaultLoss is the burst of loss:SITE@T when no =PCT says how much.
const defaultLoss = 20

// Verbs are the fault verbs a schedule may use: a mysqld killed, stopped cleanly or frozen
// (pause, SIGSTOP), started or thawed (resume); a site cut off and healed; a site's agent killed
// (its supervisor starts it again) or its HAProxy restarted.
// In the DRBD lab, settle waits until both data disks are UpToDate again (resolving a split brain a
// healed cut left, as the operator would): the next fault then finds a side that may take over.
// On a lab with a WAN, loss drops a share of the packets on every link of a site, or on one link
// (loss:bari/lngs=30@20s), and clear puts the WAN back to its profile.
var Verbs = []string{"kill", "stop", "pause", "start", "resume", "partition", "heal", "agent-kill", "haproxy-restart", "settle", "loss", "clear"}

// ParseSchedule reads "kill:bari@20s,start:bari@35s,partition:padova@40s,heal:padova@55s" into
// faults sorted by time (partition:lngs/bari@10s cuts lngs off from bari only). It refuses unknown verbs and sites, and a schedule that could not run in
// order: a start of a site that was not killed or stopped, a heal of a site not partitioned, a
// second kill of a site already down.
func ParseSchedule(s string, sites []string) ([]Fault, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []Fault
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		verb, rest, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("fault %q: want VERB:SITE@OFFSET, e.g. kill:bari@20s", item)
		}
		site, at, ok := strings.Cut(rest, "@")
		if !ok {
			return nil, fmt.Errorf("fault %q: no @OFFSET: when to do it, e.g. %s:%s@20s", item, verb, site)
		}
		if !slices.Contains(Verbs, verb) {
			return nil, fmt.Errorf("fault %q: unknown verb %q (verbs: %s)", item, verb, strings.Join(Verbs, ", "))
		}
		loss := 0
		if verb == "loss" {
			var pct string
			var ok bool
			if site, pct, ok = strings.Cut(site, "="); !ok {
				loss = defaultLoss
			} else if n, err := strconv.Atoi(strings.TrimSuffix(pct, "%")); err != nil || n < 1 || n > 100 {
				return nil, fmt.Errorf("fault %q: loss %q is not a percentage from 1 to 100, e.g. loss:%s=30@20s", item, pct, site)
			} else {
				loss = n
			}
		}
		site, from, _ := strings.Cut(site, "/") // partition:lngs/bari cuts lngs off from bari only
		if from != "" && (verb != "partition" && verb != "loss" || !slices.Contains(sites, from) || from == site) {
			return nil, fmt.Errorf("fault %q: SITE/OTHER is for partition and loss only, with two different sites (sites: %s)", item, strings.Join(sites, ", "))
		}
		if !slices.Contains(sites, site) {
			return nil, fmt.Errorf("fault %q: unknown site %q (sites: %s)", item, site, strings.Join(sites, ", "))
		}
		d, err := time.ParseDuration(at)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("fault %q: offset %q is not a duration like 20s or 1m30s", item, at)
		}
		out = append(out, Fault{At: d, Verb: verb, Site: site, From: from, Loss: loss})
	}
	slices.SortStableFunc(out, func(a, b Fault) int { return int(a.At - b.At) })
	return out, checkOrder(out)
}

// checkOrder replays the schedule on a model of each site: is its mysqld down, is it cut off.
func checkOrder(fs []Fault) error {
	down, cut := map[string]string{}, map[string]bool{} // down: the verb that took it down
	lossy := ""                                         // the loss fault in force: clear ends every one
	for _, f := range fs {
		switch f.Verb {
		case "loss":
			if lossy != "" {
				return fmt.Errorf("fault %s: %s is still in force by then (clear it first)", f, lossy)
			}
			lossy = f.String()
		case "clear":
			if lossy == "" {
				return fmt.Errorf("fault %s: nothing to clear, no loss before it", f)
			}
			lossy = ""
		case "kill", "stop", "pause":
			if down[f.Site] != "" {
				return fmt.Errorf("fault %s: mysqld at %s is already down by then", f, f.Site)
			}
			down[f.Site] = f.Verb
		case "start":
			if d := down[f.Site]; d != "kill" && d != "stop" {
				return fmt.Errorf("fault %s: nothing to start, %s was not killed or stopped before", f, f.Site)
			}
			down[f.Site] = ""
		case "resume":
			if down[f.Site] != "pause" {
				return fmt.Errorf("fault %s: nothing to resume, %s was not paused before", f, f.Site)
			}
			down[f.Site] = ""
		case "partition":
			if cut[f.Site] {
				return fmt.Errorf("fault %s: %s is already cut off by then", f, f.Site)
			}
			cut[f.Site] = true
		case "heal":
			if !cut[f.Site] {
				return fmt.Errorf("fault %s: nothing to heal, %s was not partitioned before", f, f.Site)
			}
			cut[f.Site] = false
		}
	}
	return nil
}

// Unfinished names what a schedule leaves broken at its end (a site down or cut off), so the
// caller can warn that a check afterwards will see it.
func Unfinished(fs []Fault) []string {
	down, cut := map[string]bool{}, map[string]bool{}
	lossy := false
	for _, f := range fs {
		switch f.Verb {
		case "loss":
			lossy = true
		case "clear":
			lossy = false
		case "kill", "stop", "pause":
			down[f.Site] = true
		case "start", "resume":
			down[f.Site] = false
		case "partition":
			cut[f.Site] = true
		case "heal":
			cut[f.Site] = false
		}
	}
	var out []string
	for s, d := range down {
		if d {
			out = append(out, s+" left down")
		}
	}
	for s, c := range cut {
		if c {
			out = append(out, s+" left cut off")
		}
	}
	slices.Sort(out)
	if lossy {
		out = append(out, "the WAN losing packets")
	}
	return out
}
