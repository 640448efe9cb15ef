package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/control"
	"github.com/keyha/keyha/keystone"
)

// The Keystone key endpoints (signed like the other control requests):
//
//	GET  /keystone/keys           digests of the site's fernet and credential keys
//	GET  /keystone/keys/material  the keys themselves, sealed with the cluster key
//	POST /keystone/keys           replace the site's keys with the sealed body
//
// Both modes serve them: the repositories are the site's Keystone's, whatever holds its database.
type keyRepos struct {
	*guard
	site func() *config.Site // the site as the cluster file now says (Galera's agent reloads it)
}

func (c keyRepos) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /keystone/keys", c.handle(c.keyDigests))
	mux.HandleFunc("GET /keystone/keys/material", c.handle(c.keyMaterial))
	mux.HandleFunc("POST /keystone/keys", c.handle(c.keyReplace))
}

func (c keyRepos) repos() (keystone.Repos, error) {
	s := c.site()
	k := s.Keystone
	if k.FernetKeys == "" && k.CredentialKeys == "" {
		return nil, fmt.Errorf("site %s names no keystone key repositories (keystone.fernet_keys, keystone.credential_keys)", s.Name)
	}
	r := keystone.Repos{}
	if k.FernetKeys != "" {
		r["fernet"] = k.FernetKeys
	}
	if k.CredentialKeys != "" {
		r["credential"] = k.CredentialKeys
	}
	return r, nil
}

func (c keyRepos) readAll() (map[string][]keystone.Key, error) {
	repos, err := c.repos()
	if err != nil {
		return nil, err
	}
	out := map[string][]keystone.Key{}
	for name, dir := range repos {
		keys, err := keystone.Read(dir)
		if err != nil {
			return nil, fmt.Errorf("%s keys: %w", name, err)
		}
		out[name] = keys
	}
	return out, nil
}

func (c keyRepos) keyDigests(r *http.Request) (any, string, error) {
	all, err := c.readAll()
	if err != nil {
		return nil, "", err
	}
	out := map[string][]keystone.Digest{}
	for name, keys := range all {
		out[name] = keystone.Digests(keys)
	}
	return out, "", nil
}

func (c keyRepos) keyMaterial(r *http.Request) (any, string, error) {
	all, err := c.readAll()
	if err != nil {
		return nil, "", err
	}
	plain, err := json.Marshal(all)
	if err != nil {
		return nil, "", err
	}
	sealed, err := control.Seal(c.keys.Seal, plain)
	return sealed, "", err
}

func (c keyRepos) keyReplace(r *http.Request) (any, string, error) {
	var sealed []byte
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&sealed); err != nil {
		return nil, "", fmt.Errorf("read the sealed keys: %w", err)
	}
	plain, err := control.Unseal(c.keys.Seal, sealed)
	if err != nil {
		return nil, "", err
	}
	var all map[string][]keystone.Key
	if err := json.Unmarshal(plain, &all); err != nil {
		return nil, "", fmt.Errorf("decode the keys: %w", err)
	}
	repos, err := c.repos()
	if err != nil {
		return nil, "", err
	}
	for name, keys := range all {
		if _, ok := repos[name]; !ok {
			return nil, "", fmt.Errorf("this site has no %s key repository", name)
		}
		if len(keys) == 0 {
			return nil, "", errors.New("refusing to empty a key repository")
		}
	}
	held, err := c.readAll()
	if err != nil {
		return nil, "", err
	}
	if old := keystone.Older(all, held); len(old) > 0 {
		return nil, "", fmt.Errorf("refusing a key set older than this site's (%s): it would roll the keys back; sync from the site that rotated last", strings.Join(old, "; "))
	}
	for name, keys := range all {
		if err := keystone.Replace(repos[name], keys); err != nil {
			return nil, "", fmt.Errorf("%s keys: %w", name, err)
		}
		c.log.Info("keystone keys replaced", "repository", name, "keys", len(keys))
	}
	return nil, "", nil
}
