package monitoring_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keyha/keyha/internal/labtest"
)

// promtool is Debian's (scripts/setup unpacks it under the cache; no Prometheus server runs).
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	cache := os.Getenv("KEYHA_CACHE")
	if cache == "" {
		cache = "/var/cache/keyha"
	}
	p := filepath.Join(cache, "bin", "promtool")
	if _, err := os.Stat(p); err != nil {
		labtest.SkipOrFail(t, "promtool is missing: run scripts/setup (it unpacks Debian's into "+filepath.Dir(p)+")")
	}
	return p
}

func TestAlertRules(t *testing.T) {
	p := promtool(t)
	for _, args := range [][]string{{"check", "rules", "keyha-alerts.yml"}, {"test", "rules", "keyha-alerts.test.yml"}} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

var metricRE = regexp.MustCompile(`\b(keyha_[a-z0-9_]+|mysql_global_status_[a-z0-9_]+)`)

// documented is every series docs/agent.md has a row for.
func documented(t *testing.T) map[string]bool {
	raw, err := os.ReadFile("../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)").FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = true
	}
	return out
}

// Every series the rules and the dashboard query is one the agents export (docs/agent.md lists
// them, and the agent's tests hold the list to the code): a renamed metric cannot leave an alert
// that never fires.
func TestEveryQueriedMetricExists(t *testing.T) {
	known := documented(t)
	rules, err := os.ReadFile("keyha-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("keyha-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("keyha-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	seen := 0
	for _, src := range append(exprs, string(rules)) {
		for _, m := range metricRE.FindAllString(src, -1) {
			base := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suf); ok && known[b] {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("%s is queried but no agent exports it (no row in docs/agent.md)", m)
			}
			seen++
		}
	}
	if seen < 20 {
		t.Errorf("only %d metric names found in the rules and the dashboard: the pattern no longer matches them", seen)
	}
}
