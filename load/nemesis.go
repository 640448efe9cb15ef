package load

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Nemesis draws a fault schedule of length d from seed: the same seed and sites give the same
// schedule, so a failing run can be replayed. One fault at a time: each break (kill, clean stop or
// SIGSTOP of a mysqld, a site cut off, one link cut, an agent killed, an HAProxy restarted) is
// repaired before the next begins, so a majority of the sites is always whole and the cluster
// comes back by itself, with no operator's recovery. Breaks last 3-10 s, calm between them 3-8 s.
// With wan (a lab whose sites talk through the WAN router), bursts of 10-40 % packet loss on one
// link or on every link of a site are drawn too; without, the schedule is the same as before
// they existed.
func Nemesis(seed uint64, d time.Duration, sites []string, wan bool) []Fault {
	rng := newDraws(seed)
	kinds := 7
	if wan {
		kinds = 8
	}
	var out []Fault
	at := rng.between(3*time.Second, 6*time.Second)
	for at < d-3*time.Second {
		site := rng.pick(sites)
		end := min(at+rng.between(3*time.Second, 10*time.Second), d)
		switch kind := rng.IntN(kinds); kind {
		case 0, 1, 2: // a mysqld: killed, stopped cleanly, or frozen
			verb, repair := []string{"kill", "stop", "pause"}[kind], "start"
			if verb == "pause" {
				repair = "resume"
			}
			out = append(out, Fault{At: at, Verb: verb, Site: site}, Fault{At: end, Verb: repair, Site: site})
		case 3: // the whole site cut off
			out = append(out, Fault{At: at, Verb: "partition", Site: site}, Fault{At: end, Verb: "heal", Site: site})
		case 4: // one link cut: the site still hears the third
			out = append(out, Fault{At: at, Verb: "partition", Site: site, From: rng.other(sites, site)}, Fault{At: end, Verb: "heal", Site: site})
		case 5:
			out = append(out, Fault{At: at, Verb: "agent-kill", Site: site})
			end = at
		case 6:
			out = append(out, Fault{At: at, Verb: "haproxy-restart", Site: site})
			end = at
		case 7:
			out = append(out, rng.loss(at, sites, site), Fault{At: end, Verb: "clear", Site: site})
		}
		at = end + rng.between(3*time.Second, 8*time.Second)
	}
	return out
}

// draws is a schedule's source of chance: the same seed gives the same draws, in the same order.
type draws struct{ *rand.Rand }

func newDraws(seed uint64) draws { return draws{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// between draws a duration in [lo, hi).
func (r draws) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// pick draws one of sites.
func (r draws) pick(sites []string) string { return sites[r.IntN(len(sites))] }

// other draws one of sites that is not site (the far end of a cut link).
func (r draws) other(sites []string, site string) string {
	from := site
	for from == site {
		from = r.pick(sites)
	}
	return from
}

// loss draws a burst of 10-40 % packet loss at offset at, on every link of site or on one.
func (r draws) loss(at time.Duration, sites []string, site string) Fault {
	f := Fault{At: at, Verb: "loss", Site: site, Loss: 10 + r.IntN(31)}
	if r.IntN(2) == 0 {
		f.From = r.other(sites, site)
	}
	return f
}

// NemesisDRBD draws a fault schedule for the DRBD lab: a data site's VM killed (its VM started
// again), the witness's agent killed (and started), a site cut off, or one link cut (and healed),
// a data site's agent killed (its supervisor starts it again), a site's HAProxy restarted. Each
// repair ends with settle: both disks UpToDate again, a split brain that a healed cut left
// resolved as the operator would, so that the next fault finds a side that may take over (a
// Secondary still resyncing cannot). Breaks last 3-10 s, calm between them 3-8 s. With wan, loss
// bursts as in Nemesis.
func NemesisDRBD(seed uint64, d time.Duration, data []string, witness string, wan bool) []Fault {
	rng := newDraws(seed)
	all := append(slices.Clone(data), witness)
	kinds := 7
	if wan {
		kinds = 8
	}
	var out []Fault
	at := rng.between(3*time.Second, 6*time.Second)
	for at < d-3*time.Second {
		end := min(at+rng.between(3*time.Second, 10*time.Second), d)
		var site string
		switch kind := rng.IntN(kinds); kind {
		case 0, 1: // a data site's VM dies
			site = rng.pick(data)
			out = append(out, Fault{At: at, Verb: "kill", Site: site}, Fault{At: end, Verb: "start", Site: site})
		case 2: // the witness's agent dies
			site = witness
			out = append(out, Fault{At: at, Verb: "kill", Site: site}, Fault{At: end, Verb: "start", Site: site})
		case 3: // a site cut off
			site = rng.pick(all)
			out = append(out, Fault{At: at, Verb: "partition", Site: site}, Fault{At: end, Verb: "heal", Site: site})
		case 4: // one link cut
			site = rng.pick(all)
			out = append(out, Fault{At: at, Verb: "partition", Site: site, From: rng.other(all, site)}, Fault{At: end, Verb: "heal", Site: site})
		case 5: // a data site's agent dies; DRBD and the database go on
			out = append(out, Fault{At: at, Verb: "agent-kill", Site: rng.pick(data)})
			end = at
		case 6:
			out = append(out, Fault{At: at, Verb: "haproxy-restart", Site: rng.pick(all)})
			end = at
		case 7:
			site = rng.pick(all)
			out = append(out, rng.loss(at, all, site), Fault{At: end, Verb: "clear", Site: site})
		}
		if end > at {
			out = append(out, Fault{At: end, Verb: "settle", Site: site})
		}
		at = end + rng.between(3*time.Second, 8*time.Second)
	}
	return out
}
