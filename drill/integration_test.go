package drill_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m, "KEYHA_LAB_KEYSTONE=1") }

// A token issued at lngs validates at bari and padova: the sites share the database and the keys.
func TestCrossSiteTokens(t *testing.T) {
	l := labtest.Get(t)
	if l.KeystoneAdminPassword == "" || l.Sites["lngs"].Keystone == "" {
		t.Fatalf("scripts/lab info lacks Keystone: %+v", l)
	}
	l.CrossSiteTokens(t, "lngs", []string{"bari", "padova"}, 5)
	ctx := t.Context()
	issuer := l.Keystone(t, "lngs")
	if _, err := issuer.Issue(ctx, "admin", "wrong-password"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong password: %v, want HTTP 401", err)
	}
	// The agent reports its site's Keystone (checked every 2 s).
	var last string
	labtest.Eventually(t, 30*time.Second, "bari's agent reports its Keystone up", func() (bool, string) {
		hc, base := l.Agent(t, "bari")
		resp, err := hc.Get(base + "/status")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		i := strings.Index(last, `"keystone": {`)
		return i >= 0 && strings.Contains(last[i:], `"ok": true`), last
	})
}

// Changing one site's key repository is drift; sync from another site repairs it.
func TestKeysDrift(t *testing.T) { labtest.Get(t).KeysDriftRepaired(t) }

var windowRE = regexp.MustCompile(`(?m)^  (\w+)\s+([0-9.]+)s after "([^"]+)"`)

// The drill, as make demo runs it.
func TestDrill(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, time.Minute)
	if w := l.StatusJSON(t, "galera"); w == "" {
		t.Error("keyha status --json names no writer before the drill")
	}
	svg := filepath.Join(t.TempDir(), "drill.svg")
	r := l.Keyha(t, nil, "drill", "--password-file", filepath.Join(l.Dir, "secrets", "keystone-admin.pw"), "--svg", svg)
	t.Logf("keyha drill:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("drill failed (exit %d)", r.Code)
	}
	var cut string
	if m := regexp.MustCompile(`partition (\w+) \(cut off`).FindStringSubmatch(r.Stdout); m != nil {
		cut = m[1]
	} else {
		t.Fatal("the drill did not partition a site")
	}
	for _, m := range windowRE.FindAllStringSubmatch(r.Stdout, -1) {
		site, secs, event := m[1], m[2], m[3]
		d, _ := strconv.ParseFloat(secs, 64)
		switch {
		case strings.HasPrefix(event, "kill") && d > 3:
			t.Errorf("%s: token error window %.1fs after the writer's kill (target 3s)", site, d)
		case strings.HasPrefix(event, "partition") && site != cut:
			t.Errorf("%s: token errors during the partition of %s", site, cut)
		}
	}
	if !strings.Contains(r.Stdout, "OK: Keystone kept issuing") {
		t.Error("the drill did not report OK")
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the picture is not well-formed: %v", err)
		}
	}
}
