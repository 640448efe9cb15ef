package keystone

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReplaceAndDrift(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for name, data := range map[string]string{"0": "staged", "1": "secondary", "2": "primary"} {
		os.WriteFile(filepath.Join(src, name), []byte(data), 0o600)
	}
	os.WriteFile(filepath.Join(dst, "0"), []byte("old staged"), 0o600)
	os.WriteFile(filepath.Join(dst, "7"), []byte("stale"), 0o600)
	want, err := Read(src)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := Read(dst)
	if d := Drift(Digests(want), Digests(before)); !slices.Equal(d, []string{"0 differs", "missing 1", "missing 2", "extra 7"}) {
		t.Errorf("drift %v", d)
	}
	if err := Replace(dst, want); err != nil {
		t.Fatal(err)
	}
	after, _ := Read(dst)
	if d := Drift(Digests(want), Digests(after)); len(d) != 0 {
		t.Errorf("after Replace: drift %v", d)
	}
	for _, k := range after {
		if k.Mode != 0o600 {
			t.Errorf("%s mode %v", k.Name, k.Mode)
		}
	}
	os.Chmod(filepath.Join(dst, "1"), 0o644)
	after, _ = Read(dst)
	if d := Drift(Digests(want), Digests(after)); !slices.Equal(d, []string{"1 mode 0644, not 0600"}) {
		t.Errorf("mode drift %v", d)
	}
	if err := Replace(dst, []Key{{Name: "../evil", Data: []byte("x"), Mode: 0o600}}); err == nil {
		t.Error("accepted a key name with a path")
	}
}

// A key set whose files were readable by everyone is installed no wider than MaxKeyMode, and the
// replacement leaves no temporary file beside the keys.
func TestReplaceNarrowsKeyModes(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "0"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := []Key{{Name: "0", Data: []byte("new staged"), Mode: 0o644}, {Name: "1", Data: []byte("primary"), Mode: 0o666}, {Name: "2", Data: []byte("x"), Mode: 0o400}}
	if err := Replace(dst, keys); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{"0": 0o640, "1": 0o640, "2": 0o400}
	if len(ents) != len(want) {
		t.Fatalf("%d files in the repository, want %d (no temporary file left)", len(ents), len(want))
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want[e.Name()] {
			t.Errorf("key %s has mode %04o, want %04o", e.Name(), fi.Mode().Perm(), want[e.Name()])
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "0")); string(b) != "new staged" {
		t.Errorf("key 0 holds %q", b)
	}
}

func TestOlder(t *testing.T) {
	keys := func(names ...string) []Key {
		var out []Key
		for _, n := range names {
			out = append(out, Key{Name: n, Data: []byte("k" + n)})
		}
		return out
	}
	held := map[string][]Key{"fernet": keys("0", "4", "5"), "credential": keys("0", "1")}
	for _, c := range []struct {
		name string
		set  map[string][]Key
		want string
	}{
		{"same generation", map[string][]Key{"fernet": keys("0", "4", "5"), "credential": keys("0", "1")}, ""},
		{"rotated since", map[string][]Key{"fernet": keys("0", "5", "6")}, ""},
		{"fernet rolled back", map[string][]Key{"fernet": keys("0", "3", "4"), "credential": keys("0", "1")}, "fernet: generation 4, this site holds 5"},
		{"credential rolled back", map[string][]Key{"credential": keys("0")}, "credential: generation 0, this site holds 1"},
		{"a repository this site does not have yet", map[string][]Key{"receipt": keys("0", "1")}, ""},
	} {
		if got := strings.Join(Older(c.set, held), "; "); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if g := Generation(keys("0", "10", "9", "notes")); g != 10 {
		t.Errorf("generation %d, want 10 (numeric, not lexical)", g)
	}
}
