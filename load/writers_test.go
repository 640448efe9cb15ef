package load

import (
	"strings"
	"testing"
	"time"
)

// One writer at a time, moved by failovers seconds apart, is fine; a node taking writes again
// right after another did (two writers interleaved) is found and named.
func TestWriterTrack(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name    string
		rows    []string // node@ms
		changes int
		want    string
	}{
		{"one writer", []string{"lngs@0", "lngs@10", "lngs@20"}, 0, ""},
		{"a failover, then another 5 s later back", []string{"lngs@0", "lngs@100", "bari@1100", "bari@5000", "lngs@6200"}, 2, ""},
		{"two writers interleaved", []string{"lngs@0", "bari@50", "lngs@60", "bari@70"}, 3, "lngs took writes at 10:00:00.000000 and again at 10:00:00.060000, with bari taking writes in between"},
		{"back too soon", []string{"lngs@0", "bari@900", "lngs@1900"}, 2, "lngs took writes"},
	} {
		w := newWriterTrack(TwoWritersWindow)
		for _, r := range c.rows {
			node, ms, _ := strings.Cut(r, "@")
			var n int
			for _, d := range ms {
				n = n*10 + int(d-'0')
			}
			w.add(node, at(n))
		}
		got := strings.Join(w.found, "; ")
		if w.changes != c.changes || c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: changes %d, found %q; want %d, %q", c.name, w.changes, got, c.changes, c.want)
		}
	}
}
