package island_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/internal/labtest"
)

func TestMain(m *testing.M) {
	labtest.Main(m, "KEYHA_LAB_KEYSTONE=1", "KEYHA_LAB_ISLAND=1", "KEYHA_LAB_SWIFT=1")
}

// issue gets a token at k, or fails the test.
func issue(t *testing.T, k *drill.Keystone, pw string) string {
	t.Helper()
	tok, err := k.Issue(t.Context(), "admin", pw)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// cutPadova cuts padova off from the other sites; heal undoes it (once; the test's end heals if
// the test did not).
func cutPadova(t *testing.T, l *labtest.Lab) (cut time.Time, heal func()) {
	t.Helper()
	l.Lab(t, "partition", "padova")
	healed := false
	heal = func() {
		if !healed {
			healed = true
			l.Lab(t, "heal", "padova")
		}
	}
	t.Cleanup(func() {
		if !healed {
			labtest.Script(l.Root, l.Bin, "heal", "padova")
		}
	})
	return time.Now(), heal
}

// node reads padova's node as the host sees it (a cut leaves the host's link): read_only, the
// node's state and its cluster status.
func node(t *testing.T, l *labtest.Lab, site string) (readOnly, state, status string) {
	t.Helper()
	out, err := labtest.Script(l.Root, l.Bin, "sql", site, "SELECT @@read_only, "+
		"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT'), "+
		"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_STATUS')")
	if err != nil {
		return "?", "?", "?"
	}
	f := strings.Fields(strings.TrimSpace(out))
	if len(f) != 3 {
		return "?", "?", "?"
	}
	return f[0], f[1], f[2]
}

// Island on, padova cut off for 60 s: its Keystone issues tokens, validates its own and those
// issued at lngs before the cut; writes there fail at once; a token revoked at lngs during the
// cut is refused at padova once it is back; and padova's node takes writes again only once it is
// back in the Primary component, Synced, its island over.
func TestIslandKeepsKeystoneServing(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	ctx := t.Context()
	pw := l.KeystoneAdminPassword
	lngs, padova := l.Keystone(t, "lngs"), l.Keystone(t, "padova")
	before, revoked := issue(t, lngs, pw), issue(t, lngs, pw)
	cut, heal := cutPadova(t, l)
	took := labtest.Eventually(t, 20*time.Second, "padova's agent says island", func() (bool, string) {
		hc, base := l.Agent(t, "padova")
		resp, err := hc.Get(base + "/health/island")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200, string(b)
	})
	t.Logf("padova an island %.1fs after the cut", took.Seconds())

	// The switch to the island costs the requests in flight (their database connections to the
	// writer are cut, and Keystone's workers reconnect): a client retries. Past the first seconds
	// of the island nothing fails.
	island := time.Now()
	var issued, validated, writes, retried int
	var slowest time.Duration
	for i := 0; time.Since(cut) < 60*time.Second; i++ {
		var own string
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; {
			if own, err = padova.Issue(ctx, "admin", pw); err == nil {
				break
			}
			retried++
			if time.Now().After(deadline) || time.Since(island) > 10*time.Second {
				t.Fatalf("%.0fs into the cut: issue at padova: %v", time.Since(cut).Seconds(), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		issued++
		for name, tok := range map[string]string{"issued at padova during the cut": own, "issued at lngs before the cut": before} {
			if err := padova.Validate(ctx, own, tok); err != nil {
				t.Errorf("%.0fs into the cut: a token %s refused at padova: %v", time.Since(cut).Seconds(), name, err)
			}
			validated++
		}
		start := time.Now()
		werr := padova.CreateProject(ctx, own, fmt.Sprintf("island-%d", i))
		d := time.Since(start)
		slowest = max(slowest, d)
		if werr == nil {
			t.Errorf("%.0fs into the cut: a write at padova succeeded: a cut-off site must not take writes", time.Since(cut).Seconds())
		} else if d > 2*time.Second {
			t.Errorf("a write at padova failed only after %s (%v): want within 2 s", d.Round(time.Millisecond), werr)
		}
		writes++
		if i == 3 {
			if err := lngs.Revoke(ctx, issue(t, lngs, pw), revoked); err != nil {
				t.Fatal(err)
			}
		}
		if ro, _, status := node(t, l, "padova"); ro != "1" || status == "Primary" {
			t.Errorf("%.0fs into the cut: padova's node read_only=%s, %s: want read-only, out of the Primary component", time.Since(cut).Seconds(), ro, status)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("during the 60 s cut at padova: %d tokens issued (%d attempts failed at the switch to the island, all in its first 10 s), %d validations, all OK; %d writes refused, the slowest in %s",
		issued, retried, validated, writes, slowest.Round(time.Millisecond))

	heal()
	back := time.Now()
	// From the heal until padova's node is writable again, it never is while out of the Primary
	// component or not Synced.
	var writable time.Duration
	labtest.Eventually(t, 60*time.Second, "padova's node writable again", func() (bool, string) {
		ro, state, status := node(t, l, "padova")
		if ro == "0" && (state != "Synced" || status != "Primary") {
			t.Errorf("padova's node writable while %s, %s", state, status)
		}
		writable = time.Since(back)
		return ro == "0", fmt.Sprintf("read_only=%s %s %s", ro, state, status)
	})
	t.Logf("padova's node writable %.1fs after the heal (Synced, its island over)", writable.Seconds())
	own, err := padova.Issue(ctx, "admin", pw)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, "a write through padova's Keystone succeeds", func() (bool, string) {
		err := padova.CreateProject(ctx, own, fmt.Sprintf("healed-%d", time.Now().UnixNano()))
		return err == nil, fmt.Sprint(err)
	})
	t.Logf("writes through padova's Keystone resumed %.1fs after the heal", time.Since(back).Seconds())
	// Keystone caches validations for keystone.cache_expiration (the lab: 60 s).
	labtest.Eventually(t, 90*time.Second, "padova refuses the token revoked at lngs during the cut", func() (bool, string) {
		err := padova.Validate(ctx, own, revoked)
		return err != nil && strings.Contains(err.Error(), "404"), fmt.Sprint(err)
	})
	t.Logf("the token revoked during the cut refused at padova %.1fs after the heal", time.Since(back).Seconds())
}

// Past island.max_stale the island stops serving: a token revoked elsewhere during the cut is
// refused at the island (everything is) at the latest max_stale after the cut began, so at the
// latest max_stale after its revocation. max_stale is live: the agents take it on reload.
func TestIslandEndsAtMaxStale(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	raw, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	const maxStale = 20 * time.Second
	short := strings.Replace(string(raw), "max_stale: 10m", "max_stale: 20s", 1)
	if short == string(raw) {
		t.Fatal("the lab's cluster file has no island.max_stale: 10m to shorten")
	}
	setConfig := func(b string) {
		if err := os.WriteFile(l.Config, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, s := range labtest.Sites {
			l.Lab(t, "agent-reload", s)
		}
	}
	setConfig(short)
	defer setConfig(string(raw))
	ctx := t.Context()
	pw := l.KeystoneAdminPassword
	lngs, padova := l.Keystone(t, "lngs"), l.Keystone(t, "padova")
	adm, revoked := issue(t, lngs, pw), issue(t, lngs, pw)
	cut, heal := cutPadova(t, l)
	labtest.Eventually(t, 20*time.Second, "padova issues tokens as an island", func() (bool, string) {
		_, err := padova.Issue(ctx, "admin", pw)
		return err == nil, fmt.Sprint(err)
	})
	if err := lngs.Revoke(ctx, adm, revoked); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	// Until max_stale the island serves (the revocation unseen there); after it, nothing.
	var endedAfter time.Duration
	labtest.Eventually(t, maxStale+20*time.Second, "padova stops serving past max_stale", func() (bool, string) {
		own, err := padova.Issue(ctx, "admin", pw)
		if err == nil {
			if verr := padova.Validate(ctx, own, revoked); verr == nil && time.Since(cut) > maxStale+8*time.Second {
				t.Errorf("%.0fs into the cut, past max_stale (%s) and its detection: the revoked token still validates at padova", time.Since(cut).Seconds(), maxStale)
			}
			return false, "still serving"
		}
		endedAfter = time.Since(cut)
		return true, ""
	})
	if endedAfter < maxStale {
		t.Errorf("the island stopped %.1fs into the cut, before max_stale (%s)", endedAfter.Seconds(), maxStale)
	}
	t.Logf("island.max_stale %s: padova stopped serving %.1fs into the cut, %.1fs after the revocation at lngs", maxStale, endedAfter.Seconds(), time.Since(revokedAt).Seconds())
	heal()
	labtest.Eventually(t, 90*time.Second, "padova refuses the revoked token once back", func() (bool, string) {
		own, err := padova.Issue(ctx, "admin", pw)
		if err != nil {
			return false, err.Error()
		}
		err = padova.Validate(ctx, own, revoked)
		return err != nil && strings.Contains(err.Error(), "404"), fmt.Sprint(err)
	})
}
