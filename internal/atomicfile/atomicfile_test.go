package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A write that fails half-way (a full disk, a crash of the writer) leaves the old file whole and no
// temporary file behind.
func TestTornWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "grastate.dat")
	old := "# GALERA saved state\nversion: 2.1\nuuid: 6b8bbe5c-0000-0000-0000-000000000000\nseqno: 42\nsafe_to_bootstrap: 0\n"
	if err := os.WriteFile(path, []byte(old), 0o660); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := Write(path, Options{Mode: 0o644}, func(w io.Writer) error {
		if _, err := io.WriteString(w, "# GALERA saved state\nversion: 2.1\nuu"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the fill error", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != old {
		t.Fatalf("after a torn write the file is %q (%v), want the old one whole", got, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("folder holds %v, want only grastate.dat", names)
	}
}

func TestReplaceKeepsModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 4242, 4343); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(path, []byte("new"), Options{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Fatalf("content %q, want new", got)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want the old file's 0640", fi.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		uid, gid := owner(t, path)
		if uid != 4242 || gid != 4343 {
			t.Errorf("owner %d:%d, want the old file's 4242:4343", uid, gid)
		}
	}
}

func TestNewFileModeAndMax(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name      string
		old       os.FileMode // 0: no old file
		mode, max os.FileMode
		want      os.FileMode
	}{
		{"new file takes Mode", 0, 0o644, 0, 0o644},
		{"new key narrowed", 0, 0o644, 0o600, 0o600},
		{"old world-readable key narrowed", 0o644, 0o600, 0o640, 0o640},
		{"old narrower key kept", 0o600, 0o600, 0o640, 0o600},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			if c.old != 0 {
				if err := os.WriteFile(path, []byte("x"), c.old); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, c.old)
			}
			if err := WriteFile(path, []byte("key"), Options{Mode: c.mode, Max: c.max}); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != c.want {
				t.Errorf("mode %04o, want %04o", fi.Mode().Perm(), c.want)
			}
		})
	}
}

func TestExplicitOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	path := filepath.Join(t.TempDir(), "0")
	if err := WriteFile(path, []byte("k"), Options{Mode: 0o600, Owner: &Owner{UID: 123, GID: 456}}); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, path); uid != 123 || gid != 456 {
		t.Fatalf("owner %d:%d, want 123:456", uid, gid)
	}
}

func TestMissingFolder(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "file"), []byte("x"), Options{Mode: 0o644})
	if err == nil || !strings.Contains(err.Error(), "replace ") {
		t.Fatalf("err = %v, want one saying which file could not be replaced", err)
	}
}

func owner(t *testing.T, path string) (uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
