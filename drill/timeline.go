package drill

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Sample is one operation at a site: a Keystone token's, or a Swift object's.
type Sample struct {
	Site string        `json:"site"`
	At   time.Duration `json:"at"`   // when the answer came, from the start of the drill
	Op   string        `json:"op"`   // issue, validate (a token issued at From); Swift: put, get (an object put at From)
	From string        `json:"from"` // for validate: the site that issued the token
	OK   bool          `json:"ok"`
	Err  string        `json:"error,omitempty"`
}

// Mark is one event of the drill (a fault, a repair) or a writer observation.
type Mark struct {
	At   time.Duration `json:"at"`
	What string        `json:"what"`
}

// WriterAt is the writer the agents agreed on at a moment ("" when they did not agree).
type WriterAt struct {
	At     time.Duration `json:"at"`
	Writer string        `json:"writer"`
}

// Timeline is everything a drill recorded.
type Timeline struct {
	Sites   []string      `json:"sites"`
	Length  time.Duration `json:"length"`
	Samples []Sample      `json:"samples"`
	Events  []Mark        `json:"events"`
	Writers []WriterAt    `json:"writers"`
}

// The operations, in the order the timeline shows them; put and get are Swift's.
var opOrder = []string{"issue", "validate", "put", "get"}

// kindOf says what an operation exercises: Keystone's tokens, or Swift's objects.
func kindOf(op string) string {
	if op == "put" || op == "get" {
		return "swift"
	}
	return "token"
}

// opsOf lists the operations a site has samples of, in the timeline's order.
func (t Timeline) opsOf(site string) []string {
	seen := map[string]bool{}
	for _, s := range t.Samples {
		if s.Site == site {
			seen[s.Op] = true
		}
	}
	var out []string
	for _, op := range opOrder {
		if seen[op] || kindOf(op) == "token" {
			out = append(out, op)
		}
	}
	return out
}

// Window is a span during which a site's token operations (or its Swift operations) failed.
type Window struct {
	Site     string        `json:"site"`
	Kind     string        `json:"kind"`  // token or swift
	Event    string        `json:"event"` // the drill event it followed
	From, To time.Duration `json:"-"`
	Length   time.Duration `json:"length"`
	Failed   int           `json:"failed"`
}

// Windows finds, per site and per event, the error window: from the first failed operation after
// the event to the first success after the last failure before the next event. A site with no
// failure after an event has no window for it.
func (t Timeline) Windows() []Window {
	var out []Window
	for _, site := range t.Sites {
		for _, kind := range []string{"token", "swift"} {
			out = append(out, t.windows(site, kind)...)
		}
	}
	return out
}

func (t Timeline) windows(site, kind string) []Window {
	var out []Window
	var ss []Sample
	for _, s := range t.Samples {
		if s.Site == site && kindOf(s.Op) == kind {
			ss = append(ss, s)
		}
	}
	slices.SortFunc(ss, func(a, b Sample) int { return int(a.At - b.At) })
	for i, e := range t.Events {
		end := t.Length
		if i+1 < len(t.Events) {
			end = t.Events[i+1].At
		}
		w := Window{Site: site, Kind: kind, Event: e.What, From: -1}
		lastFail := -1
		for j, s := range ss {
			if s.At < e.At || s.At >= end {
				continue
			}
			if !s.OK {
				if w.From < 0 {
					w.From = s.At
				}
				w.Failed++
				lastFail = j
			}
		}
		if w.Failed == 0 {
			continue
		}
		w.To = end
		for _, s := range ss[lastFail+1:] {
			if s.OK {
				w.To = s.At
				break
			}
		}
		w.Length = w.To - w.From
		out = append(out, w)
	}
	return out
}

// Cut is what a cut-off site's own clients got between "partition SITE" and "heal SITE": per
// operation, ok and total. With island mode on, its tokens and Swift reads keep working; Swift
// writes need a quorum of replicas, two of them at other sites.
type Cut struct {
	Site string            `json:"site"`
	Ops  map[string][2]int `json:"ops"`
}

// Cuts lists, for each cut of the drill, the cut-off site's operations during it.
func (t Timeline) Cuts() []Cut {
	var out []Cut
	for i, e := range t.Events {
		rest, ok := strings.CutPrefix(e.What, "partition ")
		if !ok {
			continue
		}
		site, _, _ := strings.Cut(rest, " ")
		end := t.Length
		for _, h := range t.Events[i+1:] {
			if h.What == "heal "+site {
				end = h.At
				break
			}
		}
		c := Cut{Site: site, Ops: map[string][2]int{}}
		for _, s := range t.Samples {
			if s.Site != site || s.At < e.At || s.At >= end {
				continue
			}
			n := c.Ops[s.Op]
			if s.OK {
				n[0]++
			}
			n[1]++
			c.Ops[s.Op] = n
		}
		out = append(out, c)
	}
	return out
}

// CrossSite counts validations by issuing site and validating site: ok and total.
func (t Timeline) CrossSite() map[[2]string][2]int {
	out := map[[2]string][2]int{}
	for _, s := range t.Samples {
		if s.Op != "validate" {
			continue
		}
		k := [2]string{s.From, s.Site}
		v := out[k]
		if s.OK {
			v[0]++
		}
		v[1]++
		out[k] = v
	}
	return out
}

// Print writes the timeline as text: a column per second; per site '.' all ok, 'x' all failed,
// '~' some failed; the writer row shows each second's writer by its initial.
func (t Timeline) Print(w io.Writer) {
	secs := int(t.Length/time.Second) + 1
	row := func(name string, cell func(sec int) byte) {
		b := make([]byte, secs)
		for i := range b {
			b[i] = cell(i)
		}
		fmt.Fprintf(w, "%-16s|%s|\n", name, b)
	}
	var axis strings.Builder
	for i := 0; i < secs; i++ {
		if i%10 == 0 {
			axis.WriteString(fmt.Sprintf("%-10d", i))
		}
	}
	fmt.Fprintf(w, "%-16s %s\n", "seconds", axis.String()[:min(axis.Len(), secs)])
	row("writer", func(sec int) byte {
		wr := t.writerAt(time.Duration(sec) * time.Second)
		if wr == "" {
			return '-'
		}
		return wr[0]
	})
	for _, site := range t.Sites {
		for _, op := range t.opsOf(site) {
			ok, bad := make([]int, secs), make([]int, secs)
			for _, s := range t.Samples {
				if s.Site != site || s.Op != op {
					continue
				}
				i := int(s.At / time.Second)
				if i >= secs {
					continue
				}
				if s.OK {
					ok[i]++
				} else {
					bad[i]++
				}
			}
			row(site+" "+op, func(i int) byte {
				switch {
				case ok[i] == 0 && bad[i] == 0:
					return ' '
				case bad[i] == 0:
					return '.'
				case ok[i] == 0:
					return 'x'
				}
				return '~'
			})
		}
	}
	fmt.Fprintln(w, "events:")
	for _, e := range t.Events {
		fmt.Fprintf(w, "  %6.1fs  %s\n", e.At.Seconds(), e.What)
	}
}

func (t Timeline) writerAt(at time.Duration) string {
	cur := ""
	for _, wa := range t.Writers {
		if wa.At > at {
			break
		}
		cur = wa.Writer
	}
	return cur
}
