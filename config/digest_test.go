package config

import (
	"slices"
	"strings"
	"testing"
)

func TestDigestsNameWhatDiffers(t *testing.T) {
	a, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(strings.Replace(strings.Replace(good, "priority: 300", "priority: 50", 1), "gossip:\n", "writer:\n  grace: 20s\ngossip:\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := DiffKeys(a.Digests(), a.Digests()); len(got) != 0 {
		t.Errorf("a file differs from itself in %v", got)
	}
	want := []string{"sites (lngs).priority", "writer.grace"}
	if got := DiffKeys(a.Digests(), b.Digests()); !slices.Equal(got, want) {
		t.Errorf("DiffKeys = %v, want %v", got, want)
	}
	d := a.Digests()
	if _, ok := d["sites (bari).gossip"]; !ok {
		t.Errorf("no digest for a site's key: %v", d)
	}
}
