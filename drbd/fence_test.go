package drbd

import "testing"

func TestNextAck(t *testing.T) {
	for _, c := range []struct {
		name, me, current string
		heard             Fences
		want              string
	}{
		{"nothing to hold", "padova", "", Fences{"lngs": {}, "bari": {}}, ""},
		{"votes for the fence it hears", "padova", "", Fences{"lngs": {Fence: "bari"}, "bari": {}}, "lngs>bari"},
		{"keeps the fence it holds: the other side cannot win", "padova", "lngs>bari", Fences{"lngs": {Fence: "bari"}, "bari": {Fence: "lngs"}}, "lngs>bari"},
		{"keeps it while the owner is silent", "padova", "lngs>bari", Fences{"bari": {Fence: "lngs"}}, "lngs>bari"},
		{"drops it when the owner lifts it, then votes anew", "padova", "lngs>bari", Fences{"lngs": {}, "bari": {Fence: "lngs"}}, "bari>lngs"},
		{"never votes against itself", "bari", "", Fences{"lngs": {Fence: "bari"}}, ""},
	} {
		if got := NextAck(c.me, c.current, c.heard); got != c.want {
			t.Errorf("%s: NextAck = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestHeldAndFencedBy(t *testing.T) {
	witness := Fences{"padova": {Ack: "lngs>bari"}}
	if !Held("lngs", "bari", 3, witness) {
		t.Error("lngs + the witness's vote are 2 of 3: held")
	}
	if Held("lngs", "bari", 3, Fences{"padova": {Ack: "bari>lngs"}}) {
		t.Error("the witness holds bari's fence: lngs's is not held")
	}
	if Held("lngs", "bari", 5, witness) {
		t.Error("2 of 5 is no majority")
	}
	if got := FencedBy("bari", witness); got != "lngs" {
		t.Errorf("FencedBy(bari) through the witness = %q, want lngs", got)
	}
	if got := FencedBy("bari", Fences{"lngs": {Fence: "bari"}}); got != "lngs" {
		t.Errorf("FencedBy(bari) from lngs itself = %q, want lngs", got)
	}
	if got := FencedBy("lngs", witness); got != "" {
		t.Errorf("FencedBy(lngs) = %q, want none", got)
	}
}
