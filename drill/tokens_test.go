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

// TestCrossNotOwn: a token a site's HAProxy had another site's Keystone issue (a backup standing
// in) is named, as is one whose HAProxy named no Keystone; a site whose token failed is Failed's.
func TestCrossNotOwn(t *testing.T) {
	sites := []string{"lngs", "bari", "padova"}
	x := Cross{Sites: sites, Issue: map[string]string{"padova": "issue a token: HTTP 503"},
		Answer: map[string]map[string]string{"lngs": {}, "bari": {}, "padova": {}},
		By:     map[string]string{"lngs": "lngs", "bari": "padova"}}
	if got, want := strings.Join(x.NotOwn(), "; "), "bari (by padova)"; got != want {
		t.Errorf("NotOwn() = %q, want %q", got, want)
	}
	x.By["lngs"] = ""
	if got := strings.Join(x.NotOwn(), "; "); !strings.Contains(got, "lngs (by a Keystone its HAProxy did not name)") {
		t.Errorf("NotOwn() = %q: lngs, whose HAProxy named no Keystone, is missing", got)
	}
	var b strings.Builder
	x.Print(&b)
	if !strings.Contains(b.String(), "issued by another site's Keystone (its own not serving through its HAProxy): lngs") {
		t.Errorf("Print does not say which tokens another site's Keystone issued:\n%s", b.String())
	}
	x.By = map[string]string{"lngs": "lngs", "bari": "bari"}
	if o := x.NotOwn(); len(o) != 0 {
		t.Errorf("NotOwn() = %v with every token its own site's", o)
	}
}
