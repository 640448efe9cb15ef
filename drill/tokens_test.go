package drill

import (
	"strings"
	"testing"
)

func TestCrossFailed(t *testing.T) {
	sites := []string{"lngs", "bari", "padova"}
	ok := func() map[string]map[string]string {
		return map[string]map[string]string{"lngs": {}, "bari": {}, "padova": {}}
	}
	for _, c := range []struct {
		name   string
		x      Cross
		failed int
		says   []string
	}{
		{"all valid", Cross{Sites: sites, Issue: map[string]string{}, Answer: ok()}, 0, []string{"token of valid at lngs at bari at padova", "lngs ok ok ok"}},
		{"bari's keys differ", Cross{Sites: sites, Issue: map[string]string{}, Answer: func() map[string]map[string]string {
			a := ok()
			a["lngs"]["bari"], a["padova"]["bari"] = "validate a token: HTTP 404", "validate a token: HTTP 404"
			return a
		}()}, 2, []string{"lngs ok FAILED ok", "validate at bari a token of padova: validate a token: HTTP 404"}},
		{"padova issues none", Cross{Sites: sites, Issue: map[string]string{"padova": "issue a token: HTTP 503"}, Answer: ok()}, 1,
			[]string{"padova - - -", "issue at padova: issue a token: HTTP 503"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := c.x.Failed(); n != c.failed {
				t.Errorf("Failed() = %d, want %d", n, c.failed)
			}
			var b strings.Builder
			c.x.Print(&b)
			flat := strings.Join(strings.Fields(strings.ReplaceAll(b.String(), "\n", " | ")), " ")
			for _, s := range c.says {
				if !strings.Contains(flat, s) {
					t.Errorf("printed\n%s\nwithout %q", b.String(), s)
				}
			}
		})
	}
}
