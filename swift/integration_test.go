package swift_test

import (
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/swift"
)

func TestMain(m *testing.M) { labtest.Main(m, "KEYHA_LAB_KEYSTONE=1", "KEYHA_LAB_SWIFT=1") }

// One global Swift on the sites' Keystones (scripts/lab up --keystone --swift): a container and
// objects created through lngs's proxy, with a token from lngs's Keystone, are read back whole at
// bari and padova through their own proxies, with tokens from their own Keystones.
func TestSwiftAcrossSites(t *testing.T) {
	l := labtest.Get(t)
	ctx := t.Context()
	c, tok, err := l.Swift(t, "lngs")
	if err != nil {
		t.Fatal(err)
	}
	container := fmt.Sprintf("across-%d", mrand.Uint32())
	sums := labtest.PutObjects(t, c, tok, container, 8)
	for _, site := range []string{"bari", "padova", "lngs"} {
		c, tok, err := l.Swift(t, site)
		if err != nil {
			t.Fatal(err)
		}
		for name, sum := range sums {
			if _, err := c.Get(ctx, tok, container, name, sum); err != nil {
				t.Errorf("at %s: %v", site, err)
			}
		}
	}
	c, _, err = l.Swift(t, "bari")
	if err != nil {
		t.Fatal(err)
	}
	var se *swift.StatusError
	if _, err := c.Get(ctx, "bogus-token", container, "obj-0", ""); err == nil || !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("a bogus token at bari: %v, want HTTP 401", err)
	}
}

// The drill with Swift (keyha drill --swift): a Swift client per site beside the token clients
// while the writer's mysqld is killed and restarted and a site is cut off; every object a proxy
// acknowledged reads back whole at every site afterwards.
func TestDrillWithSwift(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, time.Minute)
	dir := t.TempDir()
	rep := filepath.Join(dir, "drill.json")
	r := l.Keyha(t, nil, "drill", "--swift", "--password-file", filepath.Join(l.Dir, "secrets", "keystone-admin.pw"), "--svg", filepath.Join(dir, "drill.svg"), "--report", rep)
	t.Logf("keyha drill --swift:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 || !strings.Contains(r.Stdout, "OK: every object a Swift proxy acknowledged reads back whole at every site") {
		t.Fatalf("the drill with Swift failed (exit %d)", r.Code)
	}
	var res drill.Result
	if b, err := os.ReadFile(rep); err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("read the drill's report: %v", err)
	}
	if res.Swift == nil || res.Swift.Acked == 0 {
		t.Fatalf("no Swift object acknowledged: %+v", res.Swift)
	}
	for _, s := range []string{"lngs", "bari", "padova"} {
		if res.Swift.ReadOK[s] != res.Swift.Acked {
			t.Errorf("%s read back %d of %d acknowledged objects", s, res.Swift.ReadOK[s], res.Swift.Acked)
		}
		puts, gets := 0, 0
		for _, x := range res.Timeline.Samples {
			if x.Site == s && x.OK {
				switch x.Op {
				case "put":
					puts++
				case "get":
					gets++
				}
			}
		}
		if puts == 0 || gets == 0 {
			t.Errorf("%s: %d successful PUTs and %d GETs during the drill", s, puts, gets)
		}
	}
	for _, w := range res.Windows {
		if w.Kind == "swift" {
			t.Logf("Swift error window at %s: %.1f s after %q (%d failed)", w.Site, w.Length.Seconds(), w.Event, w.Failed)
		}
	}
}
