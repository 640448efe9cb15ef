package config

import (
	"slices"
	"strings"
	"testing"
)

// rich is good with the keys the cases below change.
var rich = strings.Replace(good, "gossip:\n", "agent:\n  poll_interval: 250ms\nwriter:\n  failback: false\n  grace: 10s\ngossip:\n  preset: wan\n", 1)

func TestNeedsRestartAndDecision(t *testing.T) {
	base, err := Parse([]byte(rich))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to string
		restart        []string
		decisionSame   bool
	}{
		{"grace only", "grace: 10s", "grace: 20s", nil, true},
		{"a priority", "priority: 300", "priority: 50", nil, false},
		{"failback", "failback: false", "failback: true", nil, false},
		{"the gossip preset", "preset: wan", "preset: lan", []string{"gossip.preset"}, true},
		{"a site's agent address", "10.0.0.1:9250", "10.0.0.1:9251", []string{"sites (lngs).agent"}, true},
		{"the poll interval", "poll_interval: 250ms", "poll_interval: 300ms", []string{"agent.poll_interval"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(rich, tc.from) {
				t.Fatalf("the test's cluster file has no %q", tc.from)
			}
			next, err := Parse([]byte(strings.Replace(rich, tc.from, tc.to, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if got := NeedsRestart(base, next); !slices.Equal(got, tc.restart) {
				t.Errorf("NeedsRestart = %v, want %v", got, tc.restart)
			}
			if same := base.Decision() == next.Decision(); same != tc.decisionSame {
				t.Errorf("decision digest unchanged = %v, want %v", same, tc.decisionSame)
			}
		})
	}
}
