package writer_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/labtest"
)

// agentConfig is what an agent's /status says of the cluster file it runs.
type agentConfig struct {
	Detail struct {
		Config   string `json:"config_hash"`
		Pending  string `json:"config_pending"`
		Decision *struct {
			Writer string `json:"Writer"`
			Reason string `json:"Reason"`
		} `json:"writer_decision"`
	} `json:"detail"`
}

// runs waits until site's agent runs the file whose short hash is want (and, when pending is
// not empty, says it could not take a newer one for that reason).
func runs(t *testing.T, l *labtest.Lab, site, want, pending string) {
	t.Helper()
	labtest.Eventually(t, 10*time.Second, site+"'s agent runs cluster file "+want, func() (bool, string) {
		var st agentConfig
		if err := l.AgentStatus(t, site, &st); err != nil {
			return false, err.Error()
		}
		return st.Detail.Config == want && strings.Contains(st.Detail.Pending, pending), st.Detail.Config + " " + st.Detail.Pending
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func shortHash(t *testing.T, file []byte) string {
	t.Helper()
	c, err := config.Parse(file)
	if err != nil {
		t.Fatalf("the rolled-out cluster file is invalid: %v", err)
	}
	return c.Hash[:12]
}

// A changed cluster file is rolled out site by site (systemctl reload keyha-agent; here SIGHUP)
// under writes through every HAProxy. The change makes the writer's site the least preferred,
// which agents running the old and the new file would judge differently: the writer must stay,
// no write may fail, and keyha status must show two versions, then one. A file that changes a
// key the agent cannot take while running is refused, and said so, first.
func TestClusterFileRollout(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	orig, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	was := shortHash(t, orig)
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(l.Config, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		write(orig)
		for _, s := range all {
			l.Lab(t, "agent-reload", s)
			runs(t, l, s, was, "")
		}
	})

	restart := []byte(strings.Replace(string(orig), "  preset: lan\n", "  preset: wan\n", 1))
	write(restart)
	l.Lab(t, "agent-reload", "lngs")
	runs(t, l, "lngs", was, "changes gossip.preset: restart the agent")
	if out := keyha(t, l, "status"); !strings.Contains(out, "lngs: cluster file "+shortHash(t, restart)+" changes gossip.preset") {
		t.Errorf("keyha status does not say lngs could not take the file:\n%s", out)
	}

	prio := regexp.MustCompile(`(?m)^(  - name: ` + w + `\n    priority: )\d+`)
	next := []byte(strings.Replace(prio.ReplaceAllString(string(orig), "${1}10"), "writer:\n", "writer:\n  grace: 15s\n", 1))
	if !prio.Match(orig) || !strings.Contains(string(next), "grace: 15s") {
		t.Fatalf("the lab's cluster file has no priority for %s or no writer section:\n%s", w, orig)
	}
	now := shortHash(t, next)
	write(next)
	c := startClient(t, l)
	start := time.Now()
	for i, s := range all {
		l.Lab(t, "agent-reload", s)
		runs(t, l, s, now, "")
		if i < len(all)-1 {
			out := keyha(t, l, "status")
			if !strings.Contains(out, "cluster file: 2 versions running") {
				t.Errorf("after the reload at %s, keyha status shows no rollout in progress:\n%s", s, out)
			}
			// It names the settings that differ, at a site still on the old file.
			if late := all[len(all)-1]; !strings.Contains(out, late+" runs "+was+", which differs from this host's file in: sites ("+w+").priority, writer.grace") {
				t.Errorf("keyha status does not name what differs at %s:\n%s", late, out)
			}
			// Every agent knows the files differ, and keeps the writer for that reason.
			for _, o := range all {
				labtest.Eventually(t, 10*time.Second, o+"'s agent sees the files decide differently", func() (bool, string) {
					var st agentConfig
					if err := l.AgentStatus(t, o, &st); err != nil || st.Detail.Decision == nil {
						return false, fmt.Sprint(err)
					}
					d := st.Detail.Decision
					return d.Writer == w && strings.Contains(d.Reason, "decides the writer differently"), d.Writer + ": " + d.Reason
				})
			}
			// The sites stay mixed while a good number of writes go through.
			mark := time.Now()
			labtest.Eventually(t, 60*time.Second, "1000 writes with the files mixed", func() (bool, string) {
				cs, _ := c.snapshot()
				return len(nodesAfter(cs, mark)) > 0 && sum(nodesAfter(cs, mark)) >= 1000, ""
			})
		}
		if got, _ := agreeOn(t, l, all, "", 5*time.Second); got != w {
			t.Fatalf("the writer moved from %s to %s when %s took the new file", w, got, s)
		}
		t.Logf("%s runs %s (%.1fs into the rollout)", s, now, time.Since(start).Seconds())
	}
	out := keyha(t, l, "status")
	if strings.Contains(out, "versions running") || strings.Count(out, now+" (this)") != len(all) {
		t.Errorf("after the rollout keyha status does not show every site on %s:\n%s", now, out)
	}
	done := time.Now()
	labtest.Eventually(t, 10*time.Second, "writes after the rollout", func() (bool, string) {
		cs, _ := c.snapshot()
		return len(cs) > 0 && cs[len(cs)-1].at.After(done), ""
	})
	c.halt()
	cs, fails := c.snapshot()
	t.Logf("during the rollout: %d commits, %d failed, served by %v, longest gap %v", len(cs), fails, nodesAfter(cs, start), gap(cs, start, done).Round(time.Millisecond))
	if fails > 0 {
		t.Errorf("%d writes failed during the rollout", fails)
	}
	if n := nodesAfter(cs, start); len(n) != 1 || n[w] == 0 {
		t.Errorf("writes went to %v during the rollout, want only %s", n, w)
	}
}
