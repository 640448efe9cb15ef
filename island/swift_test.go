package island_test

import (
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/swift"
)

// Island on, padova cut off: what its Swift users keep and what they lose. GETs of objects
// written before the cut succeed at padova with tokens issued at padova during the cut (the
// island's Keystone validates them, and padova holds a replica of every object); a PUT fails
// (two of three replicas need another site).
func TestIslandSwift(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	c, tok, err := l.Swift(t, "lngs")
	if err != nil {
		t.Fatal(err)
	}
	container := fmt.Sprintf("island-%d", mrand.Uint32())
	sums := labtest.PutObjects(t, c, tok, container, 6)

	cut, heal := cutPadova(t, l)
	var pc *swift.Client
	var ptok string
	took := labtest.Eventually(t, 60*time.Second, "padova's Keystone issues a token during the cut (island)", func() (bool, string) {
		pc, ptok, err = l.Swift(t, "padova")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	t.Logf("first token at padova %.1f s after the cut", took.Seconds())
	for name, sum := range sums {
		t0 := time.Now()
		if _, err := pc.Get(t.Context(), ptok, container, name, sum); err != nil {
			t.Errorf("GET %s at padova during the cut, with a token issued there during it: %v", name, err)
		} else {
			t.Logf("GET %s at padova during the cut: %.2f s", name, time.Since(t0).Seconds())
		}
	}
	t0 := time.Now()
	perr := pc.Put(t.Context(), ptok, container, "during-the-cut", []byte("no quorum"))
	t.Logf("PUT at padova during the cut: %v after %.1f s", perr, time.Since(t0).Seconds())
	if perr == nil {
		t.Error("a PUT at padova succeeded while padova was cut off: two of three replicas cannot have been written")
	}
	if d := time.Since(cut); d > 90*time.Second {
		t.Errorf("the checks took %s of the cut: too long to say anything", d)
	}
	heal()
	l.AllSynced(t, 2*time.Minute)
}
