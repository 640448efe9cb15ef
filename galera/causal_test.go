package galera

import "testing"

// The later record wins: a lagging node's own row gives way to the causal read's when that records a
// later choice, never to an older or a failed one.
func TestNewer(t *testing.T) {
	own := WriterRow{Site: "lngs", Epoch: 7}
	for _, c := range []struct {
		causal WriterRow
		ok     bool
		want   string
	}{
		{WriterRow{Site: "bari", Epoch: 8}, true, "bari"},  // the node has not applied the switchover yet
		{WriterRow{Site: "bari", Epoch: 8}, false, "lngs"}, // no causal read came back
		{WriterRow{Site: "bari", Epoch: 6}, true, "lngs"},  // an older read (it started before a change)
		{WriterRow{Site: "lngs", Epoch: 7}, true, "lngs"},
	} {
		if got := newer(own, c.causal, c.ok); got.Site != c.want {
			t.Errorf("own %+v, causal %+v ok %v: %s, want %s", own, c.causal, c.ok, got.Site, c.want)
		}
	}
}
