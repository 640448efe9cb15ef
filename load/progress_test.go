package load

import (
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/syncbuf"
)

// On a terminal each redraw returns to the line's start and clears what a longer earlier line left
// behind; elsewhere the lines are plain, with no control characters.
func TestProgressOutput(t *testing.T) {
	defer func(r, p time.Duration) { redrawEvery, plainEvery = r, p }(redrawEvery, plainEvery)
	redrawEvery, plainEvery = 10*time.Millisecond, 10*time.Millisecond
	for _, tty := range []bool{true, false} {
		var buf syncbuf.Buffer
		l := &loader{cfg: RunConfig{Rows: 100000, Progress: &buf, TTY: tty}}
		l.acked.Store(40000)
		stop := l.progress(time.Now().Add(-time.Second))
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(buf.String(), "rows") < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // polling the output, bounded by the deadline
		}
		l.acked.Store(100000)
		stop()
		out := buf.String()
		if strings.Count(out, "rows") < 2 {
			t.Fatalf("tty=%v: fewer than two progress lines in 5 s: %q", tty, out)
		}
		if !tty {
			if strings.ContainsAny(out, "\r\x1b") {
				t.Errorf("plain progress has control characters: %q", out)
			}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if !strings.HasPrefix(line, "load: ") {
					t.Errorf("plain progress line %q", line)
				}
			}
			continue
		}
		draws := strings.Split(out, "\r")[1:]
		for i, d := range draws {
			want := "\x1b[K"
			if i == len(draws)-1 {
				want += "\n" // the last one ends the line
			}
			if !strings.HasSuffix(d, want) {
				t.Errorf("redraw %d is %q: want it to end with %q", i, d, want)
			}
		}
		if !strings.Contains(draws[len(draws)-1], "100000/100000 rows") {
			t.Errorf("the final line %q does not show the end", draws[len(draws)-1])
		}
	}
}
