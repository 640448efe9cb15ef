package membership

import (
	"testing"
	"time"
)

func TestRTTMedian(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name    string
		samples []time.Duration
		want    time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{10 * ms}, 10 * ms},
		{"even count averages the middle two", []time.Duration{10 * ms, 12 * ms}, 11 * ms},
		{"a retransmitted probe does not move it", []time.Duration{10 * ms, 11 * ms, 1010 * ms, 10 * ms, 12 * ms}, 11 * ms},
		{"only the last 7 count", []time.Duration{500 * ms, 500 * ms, 500 * ms, 500 * ms, 20 * ms, 20 * ms, 20 * ms, 20 * ms, 21 * ms, 22 * ms, 20 * ms}, 20 * ms},
		{"a changed link shows after 4 probes", []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 40 * ms, 40 * ms, 40 * ms, 40 * ms}, 40 * ms},
	} {
		var s rttSamples
		for _, d := range c.samples {
			s.add(d)
		}
		if got := s.median(); got != c.want {
			t.Errorf("%s: median %v, want %v", c.name, got, c.want)
		}
	}
}
