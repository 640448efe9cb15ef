// Package keystone looks after what Keystone needs identical at every site: its fernet and
// credential key repositories. It reads them as digests (what may be shown and compared) or as
// material (what only travels sealed), and replaces a repository without a moment in which a
// key Keystone needs is missing.
package keystone

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/keyha/keyha/internal/atomicfile"
)

// Repos names a site's key repositories.
type Repos map[string]string // "fernet" or "credential" -> directory

// Digest is one key file as it may be shown: its name, mode and SHA-256, never its content.
type Digest struct {
	Name   string `json:"name"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
}

// Key is one key file with its content.
type Key struct {
	Name string      `json:"name"`
	Mode os.FileMode `json:"mode"`
	Data []byte      `json:"data"`
}

func validName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/\\") && n != "." && n != ".." && !strings.HasPrefix(n, ".")
}

// Read returns the key files of a repository, sorted by name.
func Read(dir string) ([]Key, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read key repository: %w", err)
	}
	var out []Key
	for _, e := range ents {
		if !e.Type().IsRegular() || !validName(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read key %s: %w", e.Name(), err)
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, Key{Name: e.Name(), Mode: fi.Mode().Perm(), Data: b})
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Digests are the keys' names, modes and SHA-256.
func Digests(keys []Key) []Digest {
	out := make([]Digest, len(keys))
	for i, k := range keys {
		s := sha256.Sum256(k.Data)
		out[i] = Digest{Name: k.Name, Mode: fmt.Sprintf("%04o", k.Mode), SHA256: hex.EncodeToString(s[:])}
	}
	return out
}

// Drift compares a site's digests with the reference site's: names missing, extra, or with other
// content or mode. Empty when identical.
func Drift(ref, got []Digest) []string {
	idx := map[string]Digest{}
	for _, d := range got {
		idx[d.Name] = d
	}
	var out []string
	for _, r := range ref {
		g, ok := idx[r.Name]
		switch {
		case !ok:
			out = append(out, "missing "+r.Name)
		case g.SHA256 != r.SHA256:
			out = append(out, r.Name+" differs")
		case g.Mode != r.Mode:
			out = append(out, fmt.Sprintf("%s mode %s, not %s", r.Name, g.Mode, r.Mode))
		}
		delete(idx, r.Name)
	}
	extra := make([]string, 0, len(idx))
	for n := range idx {
		extra = append(extra, n)
	}
	slices.Sort(extra)
	for _, n := range extra {
		out = append(out, "extra "+n)
	}
	return out
}

// MaxKeyMode bounds a key file's mode: its owner may read it, and its group (Keystone's) at most.
const MaxKeyMode = 0o640

// Replace makes dir hold exactly keys. Each file is replaced crash-safely (atomicfile: synced, then
// renamed into place), with the key's mode narrowed to MaxKeyMode and the repository directory's
// owner; only then are files not in keys removed, so Keystone never lacks a key it still needs.
func Replace(dir string, keys []Key) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("key repository: %w", err)
	}
	var owner *atomicfile.Owner
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = &atomicfile.Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	keep := map[string]bool{}
	for _, k := range keys {
		if !validName(k.Name) {
			return fmt.Errorf("refusing key name %q", k.Name)
		}
		keep[k.Name] = true
		// The key's own mode, not the old file's: the set being installed says what each file is.
		o := atomicfile.Options{Mode: k.Mode.Perm(), Exact: true, Max: MaxKeyMode, Owner: owner}
		if err := atomicfile.WriteFile(filepath.Join(dir, k.Name), k.Data, o); err != nil {
			return fmt.Errorf("put key %s in place: %w", k.Name, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Type().IsRegular() && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove old key %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// Generation is a repository's rotation count as its keys show it: the highest numeric key name
// (Keystone names the primary key one above the last at each rotation), -1 with none. A set
// whose generation is below a site's is older than what the site holds: installing it would
// roll the site's keys back and drop keys its tokens were issued with.
func Generation(keys []Key) int {
	g := -1
	for _, k := range keys {
		if n, err := strconv.Atoi(k.Name); err == nil && n > g {
			g = n
		}
	}
	return g
}

// Older reports, for each repository in set that is older than the same repository in held,
// why: "fernet: generation 3, this site holds 5".
func Older(set, held map[string][]Key) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if g, h := Generation(set[name]), Generation(held[name]); g < h {
			out = append(out, fmt.Sprintf("%s: generation %d, this site holds %d", name, g, h))
		}
	}
	return out
}
