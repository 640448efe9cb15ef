package load

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeInjector records when each fault ran; a start takes `slow`, like a state transfer. It stands
// in for the lab script only in this test of the scheduling rule.
type fakeInjector struct {
	mu   sync.Mutex
	at   map[string]time.Duration
	t0   time.Time
	slow time.Duration
}

func (f *fakeInjector) Inject(ctx context.Context, x Fault) (string, error) {
	if x.Verb == "start" {
		time.Sleep(f.slow)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at[x.String()] = time.Since(f.t0)
	return "", nil
}

func TestRunFaultsKeepsGaps(t *testing.T) {
	fs, err := ParseSchedule("kill:bari@10ms,start:bari@20ms,partition:padova@30ms,heal:padova@130ms", labSites)
	if err != nil {
		t.Fatal(err)
	}
	inj := &fakeInjector{at: map[string]time.Duration{}, t0: time.Now(), slow: 200 * time.Millisecond}
	res := runFaults(context.Background(), make(chan struct{}), inj.t0, fs, inj, nil, nil)
	if len(res) != 4 {
		t.Fatalf("results %+v", res)
	}
	// start ends at ≥ 220ms; partition keeps its 10ms gap after it, heal its 100ms after that.
	if p := inj.at["partition:padova@30ms"]; p < 230*time.Millisecond {
		t.Errorf("partition ran at %v, before the slow start's end + 10ms", p)
	}
	if h, p := inj.at["heal:padova@130ms"], inj.at["partition:padova@30ms"]; h-p < 100*time.Millisecond {
		t.Errorf("heal ran %v after partition, want ≥ 100ms", h-p)
	}
}

func TestRunFaultsAfterTheLoad(t *testing.T) {
	fs, err := ParseSchedule("kill:bari@1h,start:bari@2h,partition:lngs@0s,heal:lngs@3h", labSites)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	inj := &fakeInjector{at: map[string]time.Duration{}, t0: time.Now()}
	go func() {
		for {
			inj.mu.Lock()
			n := len(inj.at)
			inj.mu.Unlock()
			if n == 1 {
				close(done)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res := runFaults(context.Background(), done, inj.t0, fs, inj, nil, nil)
	got := map[string]string{}
	for _, r := range res {
		switch {
		case r.Skipped:
			got[r.Verb] = "skipped"
		case r.Early:
			got[r.Verb] = "early"
		default:
			got[r.Verb] = "on time"
		}
	}
	want := map[string]string{"partition": "on time", "kill": "skipped", "start": "skipped", "heal": "early"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s (all: %v)", k, got[k], v, got)
		}
	}
}

// downInjector finds no mysqld at the sites in gone (Galera took them down) until a start.
type downInjector struct {
	gone map[string]bool
	ran  []string
}

func (d *downInjector) Inject(ctx context.Context, x Fault) (string, error) {
	d.ran = append(d.ran, x.Verb+":"+x.Site)
	switch {
	case x.Verb == "start":
		d.gone[x.Site] = false
	case d.gone[x.Site] && x.Verb != "heal" && x.Verb != "partition":
		return "", fmt.Errorf("lab: %w", ErrNotRunning)
	case x.Verb == "resume" && x.Site == "bari":
		d.gone[x.Site] = true // bari aborts while it rejoins
		return "", fmt.Errorf("lab: %w", ErrNotRunning)
	}
	return "", nil
}

// A node Galera took down is no failed fault: a break that finds it down leaves its repair to start
// it, a repair that finds it down starts it at once; everything else runs as scheduled.
func TestRunFaultsNodeTakenDown(t *testing.T) {
	fs, err := ParseSchedule("pause:bari@0s,resume:bari@1ms,stop:bari@2ms,start:bari@3ms,"+
		"pause:lngs@4ms,resume:lngs@5ms,partition:lngs@6ms,heal:lngs@7ms", labSites)
	if err != nil {
		t.Fatal(err)
	}
	inj := &downInjector{gone: map[string]bool{"lngs": true}}
	res := runFaults(context.Background(), make(chan struct{}), time.Now(), fs, inj, nil, nil)
	want := []string{"pause:bari", "resume:bari", "start:bari", "stop:bari", "start:bari",
		"pause:lngs", "start:lngs", "partition:lngs", "heal:lngs"}
	if fmt.Sprint(inj.ran) != fmt.Sprint(want) {
		t.Errorf("ran %v, want %v", inj.ran, want)
	}
	down := map[string]bool{}
	for _, r := range res {
		if r.Error != "" {
			t.Errorf("%s failed: %s", r.Fault, r.Error)
		}
		if r.Down != "" {
			down[r.Verb+":"+r.Site] = true
		}
	}
	if want := map[string]bool{"resume:bari": true, "pause:lngs": true}; fmt.Sprint(down) != fmt.Sprint(want) {
		t.Errorf("counted down %v, want %v", down, want)
	}
}
