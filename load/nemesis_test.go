package load

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The nemesis is reproducible, runs in order, breaks one thing at a time, repairs all of it before
// the end, reads back from its printed form, and over many seeds uses every kind of fault: loss
// bursts only when the lab has a WAN.
func TestNemesisSchedule(t *testing.T) {
	d := 2 * time.Minute
	a, b := Nemesis(42, d, labSites, false), Nemesis(42, d, labSites, false)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 42 drew two schedules:\n%v\n%v", a, b)
	}
	if slices.Equal(a, Nemesis(43, d, labSites, false)) {
		t.Error("seeds 42 and 43 drew the same schedule")
	}
	for _, wan := range []bool{false, true} {
		seen := map[string]bool{}
		for seed := uint64(1); seed <= 200; seed++ {
			fs := Nemesis(seed, d, labSites, wan)
			if len(fs) < 8 {
				t.Errorf("seed %d: %d faults in %v, want a busy schedule", seed, len(fs), d)
			}
			if err := checkOrder(fs); err != nil {
				t.Errorf("seed %d: %v\n%v", seed, err, fs)
			}
			if u := Unfinished(fs); len(u) > 0 {
				t.Errorf("seed %d leaves %v", seed, u)
			}
			printed := make([]string, len(fs))
			for i, f := range fs {
				printed[i] = f.String()
			}
			if back, err := ParseSchedule(strings.Join(printed, ","), labSites); err != nil || !slices.Equal(back, fs) {
				t.Errorf("seed %d: the printed schedule reads back as %v (%v), want %v", seed, back, err, fs)
			}
			broken := ""
			for _, f := range fs {
				if f.At > d {
					t.Errorf("seed %d: %s after the end (%v)", seed, f, d)
				}
				if f.Verb == "loss" && (f.Loss < 10 || f.Loss > 40) {
					t.Errorf("seed %d: %s: a burst of %d%%, want 10-40", seed, f, f.Loss)
				}
				if f.From != "" {
					seen[f.Verb+"-link"] = true
				} else {
					seen[f.Verb] = true
				}
				switch {
				case isRepair(f.Verb):
					broken = ""
				case broken != "":
					t.Errorf("seed %d: %s while %s is still broken", seed, f, broken)
				case f.Verb != "agent-kill" && f.Verb != "haproxy-restart": // over at once
					broken = f.String()
				}
			}
		}
		want := []string{"kill", "stop", "pause", "partition", "partition-link", "agent-kill", "haproxy-restart", "start", "resume", "heal"}
		if wan {
			want = append(want, "loss", "loss-link", "clear")
		} else if seen["loss"] || seen["loss-link"] {
			t.Error("a schedule for a lab without a WAN has loss bursts")
		}
		for _, v := range want {
			if !seen[v] {
				t.Errorf("wan %v: no schedule of 200 used %s", wan, v)
			}
		}
	}
}

// The DRBD nemesis: reproducible, in order, every break repaired and followed by a settle before
// the next one (an agent killed or an HAProxy restarted is over at once), every kind used over many
// seeds, and the witness's agent killed with kill (its start follows).
func TestNemesisDRBDSchedule(t *testing.T) {
	d := 2 * time.Minute
	data := []string{"lngs", "bari"}
	if a, b := NemesisDRBD(7, d, data, "padova", false), NemesisDRBD(7, d, data, "padova", false); !slices.Equal(a, b) {
		t.Fatalf("seed 7 drew two schedules:\n%v\n%v", a, b)
	}
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		fs := NemesisDRBD(seed, d, data, "padova", seed%2 == 0) // loss bursts in half of them
		if len(fs) < 6 {
			t.Errorf("seed %d: %d faults in %v, want a busy schedule", seed, len(fs), d)
		}
		if err := checkOrder(fs); err != nil {
			t.Errorf("seed %d: %v\n%v", seed, err, fs)
		}
		if u := Unfinished(fs); len(u) > 0 {
			t.Errorf("seed %d leaves %v", seed, u)
		}
		for i, f := range fs {
			switch {
			case f.At > d:
				t.Errorf("seed %d: %s after the end (%v)", seed, f, d)
			case f.Verb == "agent-kill" && f.Site == "padova":
				t.Errorf("seed %d: %s: the witness's agent is killed with kill (and started again by start)", seed, f)
			case f.Verb == "agent-kill" || f.Verb == "haproxy-restart":
				// Over at once: the next fault may follow.
			case isBreak(f.Verb) && (i+2 >= len(fs) || !isRepair(fs[i+1].Verb) || fs[i+2].Verb != "settle"):
				t.Errorf("seed %d: %s is not repaired then settled before the next fault: %v", seed, f, fs)
			}
			if f.Verb == "loss" && seed%2 == 1 {
				t.Errorf("seed %d: %s in a lab without a WAN", seed, f)
			}
			key := f.Verb + "@" + f.Site
			if f.From != "" {
				key = f.Verb + "-link"
			} else if f.Site != "padova" {
				key = f.Verb + "@data"
			}
			seen[key] = true
		}
	}
	for _, k := range []string{"kill@data", "start@data", "kill@padova", "start@padova", "partition@data", "partition@padova", "heal@data", "partition-link", "settle@data",
		"agent-kill@data", "haproxy-restart@data", "haproxy-restart@padova", "loss@data", "loss-link", "clear@data"} {
		if !seen[k] {
			t.Errorf("no schedule of 200 used %s", k)
		}
	}
}
