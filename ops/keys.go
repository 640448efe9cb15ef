package ops

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyha/keyha/keystone"
)

// KeysCheck compares every site's Keystone key repositories with the first site's, by digest
// (no key material travels), and prints the drift. It returns an error when any site drifts or
// cannot be asked.
func (k *Controller) KeysCheck(ctx context.Context) error {
	var ref map[string][]keystone.Digest
	refSite := ""
	problems := 0
	for _, s := range k.Cluster.Sites {
		if s.Keystone.FernetKeys == "" && s.Keystone.CredentialKeys == "" {
			continue
		}
		var got map[string][]keystone.Digest
		if _, err := k.call(ctx, s.Name, "GET", "/keystone/keys", &got); err != nil {
			fmt.Fprintf(k.Out, "%-8s UNKNOWN: %v\n", s.Name, err)
			problems++
			continue
		}
		if ref == nil {
			ref, refSite = got, s.Name
		}
		var drift []string
		for _, repo := range slices.Sorted(maps.Keys(ref)) {
			for _, d := range keystone.Drift(ref[repo], got[repo]) {
				drift = append(drift, repo+": "+d)
			}
		}
		summary := make([]string, 0, len(got))
		for _, repo := range slices.Sorted(maps.Keys(got)) {
			summary = append(summary, fmt.Sprintf("%s %d keys", repo, len(got[repo])))
		}
		if len(drift) == 0 {
			fmt.Fprintf(k.Out, "%-8s same as %s (%s)\n", s.Name, refSite, strings.Join(summary, ", "))
			continue
		}
		problems++
		fmt.Fprintf(k.Out, "%-8s DRIFT from %s: %s\n", s.Name, refSite, strings.Join(drift, "; "))
	}
	if ref == nil {
		return fmt.Errorf("no site names keystone key repositories in %s", k.Cluster.Path)
	}
	if problems > 0 {
		return fmt.Errorf("keys differ or could not be read at %d sites: tokens issued at one site may be refused at another; fix with keyha keystone keys sync --from SITE", problems)
	}
	return nil
}

// KeysSync copies the key repositories of site from to every other site: read sealed at the
// source, replaced at each destination (atomic per file, modes kept), then checked.
func (k *Controller) KeysSync(ctx context.Context, from string) error {
	var sealed []byte
	if _, err := k.call(ctx, from, "GET", "/keystone/keys/material", &sealed); err != nil {
		return fmt.Errorf("read the keys at %s: %w", from, err)
	}
	for _, s := range k.Cluster.Sites {
		if s.Name == from || (s.Keystone.FernetKeys == "" && s.Keystone.CredentialKeys == "") {
			continue
		}
		if _, err := k.Client.CallBody(ctx, s.Name, s.HTTP, "POST", "/keystone/keys", sealed, nil); err != nil {
			return fmt.Errorf("write the keys at %s: %w", s.Name, err)
		}
		fmt.Fprintf(k.Out, "%-8s keys replaced from %s\n", s.Name, from)
	}
	return k.KeysCheck(ctx)
}
