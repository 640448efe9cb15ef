package wan_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/ops"
)

func TestMain(m *testing.M) { labtest.Main(m, "KEYHA_LAB_WAN=italy") }

func wanLab(t *testing.T) *labtest.Lab {
	l := labtest.Get(t)
	if l.WAN == nil || len(l.WAN.Links) == 0 {
		t.Fatalf("the lab runs without a WAN: scripts/lab info has no wan section")
	}
	return l
}

// The round trips the agents measure (gossip probes) match the profile within ±20%, for every
// ordered pair of sites at one moment.
func TestRTTMatchesProfile(t *testing.T) {
	l := wanLab(t)
	cl := l.Cluster(t)
	want := map[[2]string]float64{}
	for _, k := range l.WAN.Links {
		want[[2]string{k.A, k.B}] = k.RTTms
		want[[2]string{k.B, k.A}] = k.RTTms
	}
	var table string
	labtest.Eventually(t, 90*time.Second, "every measured round trip within ±20% of the profile", func() (bool, string) {
		m := ops.RTTMatrix(ops.Fetch(context.Background(), cl, 2*time.Second))
		ok := true
		var lines []string
		for pair, rtt := range want {
			got, seen := m[pair]
			ms := float64(got) / float64(time.Millisecond)
			dev := (ms - rtt) / rtt
			if !seen || math.Abs(dev) > 0.20 {
				ok = false
			}
			lines = append(lines, fmt.Sprintf("%s→%s %.2f ms (profile %.0f, %+.0f%%)", pair[0], pair[1], ms, rtt, 100*dev))
		}
		sort.Strings(lines)
		table = strings.Join(lines, "; ")
		return ok, table
	})
	t.Logf("measured: %s", table)
}

// With 5% loss each way on every link of the writer's site, for a minute, the agents keep the
// same writer, it stays UP in every HAProxy, and writes through every HAProxy still commit.
func TestLossyLinkKeepsWriter(t *testing.T) {
	l := wanLab(t)
	cl := l.Cluster(t)
	w := l.Writer(t, 30*time.Second)
	l.Lab(t, "wan", "set", w, "loss=5")
	t.Cleanup(func() { l.Lab(t, "wan", "reset") })

	dbs := map[string]*sql.DB{}
	for _, s := range labtest.Sites {
		dbs[s] = l.DB(t, l.Sites[s].HAProxyDB, "app")
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS keyha_wan",
		"CREATE TABLE IF NOT EXISTS keyha_wan.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, site VARCHAR(16))"} {
		if _, err := dbs[w].Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var polls, writes, failed, shaky int
	var flaps []string
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		polls++
		for _, st := range ops.Fetch(ctx, cl, 2*time.Second) {
			if st.Err != "" {
				continue // an unanswered poll is not a decision
			}
			if st.Writer != w {
				flaps = append(flaps, fmt.Sprintf("poll %d: %s's agent says writer %q", polls, st.Site, st.Writer))
			}
		}
		for _, s := range labtest.Sites {
			// "UP 1/2" (one check failed, still taking traffic) is UP; "DOWN" or any other is not.
			r, err := l.Server(s, w)
			switch {
			case err != nil || !strings.HasPrefix(r.Status, "UP"):
				flaps = append(flaps, fmt.Sprintf("poll %d: %s is %s in %s's HAProxy (%v)", polls, w, r.Status, s, err))
			case r.Status != "UP":
				shaky++
			}
		}
		if polls%2 == 0 {
			for s, db := range dbs {
				writes++
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
				if _, err := db.ExecContext(wctx, "INSERT INTO keyha_wan.t (site) VALUES (?)", s); err != nil && ctx.Err() == nil {
					failed++
					t.Logf("write through %s's HAProxy: %v", s, err)
				}
				wcancel()
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	t.Logf("%d polls of every agent and HAProxy, %d writes (%d failed) over 60 s with 5%% loss on %s's links; %s seen with a failed check (still UP) %d times",
		polls, writes, failed, w, w, shaky)
	if len(flaps) > 0 {
		t.Errorf("the writer moved or went down %d times, first: %s", len(flaps), strings.Join(flaps[:min(len(flaps), 5)], "; "))
	}
	if failed > 0 {
		t.Errorf("%d of %d writes failed", failed, writes)
	}
	if polls < 60 {
		t.Errorf("only %d polls in 60 s: the check did not watch closely", polls)
	}
}
