package keystone

import (
	"os"
	"path/filepath"
	"slices"
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
