package load

import (
	"context"
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
