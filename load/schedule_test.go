package load

import (
	"strings"
	"testing"
	"time"
)

var labSites = []string{"lngs", "bari", "padova"}

func TestParseSchedule(t *testing.T) {
	got, err := ParseSchedule("partition:padova@40s, kill:bari@20s,start:bari@35s,heal:padova@55s", labSites)
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{{At: 20 * time.Second, Verb: "kill", Site: "bari"}, {At: 35 * time.Second, Verb: "start", Site: "bari"},
		{At: 40 * time.Second, Verb: "partition", Site: "padova"}, {At: 55 * time.Second, Verb: "heal", Site: "padova"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("fault %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if fs, err := ParseSchedule("partition:lngs/bari@3s,heal:lngs@9s", labSites); err != nil || fs[0].From != "bari" || fs[0].String() != "partition:lngs/bari@3s" {
		t.Errorf("partition from one site: %v, %v", fs, err)
	}
	for in, want := range map[string]Fault{
		"loss:bari=30@2s,clear:bari@5s":      {At: 2 * time.Second, Verb: "loss", Site: "bari", Loss: 30},
		"loss:bari/lngs=5%@2s,clear:bari@5s": {At: 2 * time.Second, Verb: "loss", Site: "bari", From: "lngs", Loss: 5},
		"loss:padova@2s,clear:padova@5s":     {At: 2 * time.Second, Verb: "loss", Site: "padova", Loss: defaultLoss},
	} {
		if fs, err := ParseSchedule(in, labSites); err != nil || fs[0] != want {
			t.Errorf("%q: %v, %v; want %v first", in, fs, err, want)
		}
	}
	if fs, err := ParseSchedule("  ", labSites); err != nil || fs != nil {
		t.Errorf("empty schedule: %v, %v", fs, err)
	}
}

func TestParseScheduleRefuses(t *testing.T) {
	for in, want := range map[string]string{
		"kill:bari":                           "no @OFFSET",
		"kill@20s":                            "want VERB:SITE@OFFSET",
		"explode:bari@1s":                     "unknown verb",
		"kill:milano@1s":                      "unknown site",
		"kill:bari@soon":                      "not a duration",
		"kill:lngs/bari@1s":                   "for partition and loss only",
		"partition:lngs/lngs@1s":              "for partition and loss only",
		"loss:bari=0@1s":                      "not a percentage",
		"loss:bari=lots@1s":                   "not a percentage",
		"loss:bari@1s,loss:lngs@2s":           "still in force",
		"clear:bari@1s":                       "nothing to clear",
		"kill:bari@-1s":                       "not a duration",
		"start:bari@5s":                       "was not killed",
		"kill:bari@5s,start:bari@2s":          "was not killed",
		"heal:padova@5s":                      "was not partitioned",
		"kill:bari@1s,stop:bari@2s":           "already down",
		"partition:lngs@1s,partition:lngs@2s": "already cut off",
	} {
		_, err := ParseSchedule(in, labSites)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", in, err, want)
		}
	}
}

func TestUnfinished(t *testing.T) {
	fs, err := ParseSchedule("kill:bari@1s,partition:lngs@2s,start:bari@3s", labSites)
	if err != nil {
		t.Fatal(err)
	}
	if got := Unfinished(fs); len(got) != 1 || got[0] != "lngs left cut off" {
		t.Errorf("got %v", got)
	}
	if fs, err = ParseSchedule("loss:bari/lngs@1s", labSites); err != nil {
		t.Fatal(err)
	}
	if got := Unfinished(fs); len(got) != 1 || got[0] != "the WAN losing packets" {
		t.Errorf("a loss never cleared: got %v", got)
	}
}

func FuzzParseSchedule(f *testing.F) {
	f.Add("kill:bari@20s,start:bari@35s,partition:padova@40s,heal:padova@55s")
	f.Add("kill:lngs@0s")
	f.Add(",,:@")
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := ParseSchedule(s, labSites)
		if err != nil {
			return
		}
		for i := 1; i < len(fs); i++ {
			if fs[i].At < fs[i-1].At {
				t.Fatalf("not sorted: %v", fs)
			}
		}
		if checkOrder(fs) != nil {
			t.Fatalf("accepted a schedule out of order: %v", fs)
		}
	})
}
