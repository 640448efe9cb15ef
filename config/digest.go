package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
)

// Digests gives each setting of the cluster file (its key as docs/config.md names it, a site's
// keys as "sites (NAME).key") a short digest of its value, so two files can be compared key by
// key without either being sent: keyha status names the settings in which a site's file differs.
func (c *Cluster) Digests() map[string]string {
	out := map[string]string{}
	walkDigests(reflect.ValueOf(*c), "", out)
	return out
}

func walkDigests(v reflect.Value, prefix string, out map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		k, f := prefix+tag, v.Field(i)
		switch {
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			for j := range f.Len() {
				e := f.Index(j)
				name := fmt.Sprint(j)
				if n := e.FieldByName("Name"); n.IsValid() && n.Kind() == reflect.String {
					name = n.String()
				}
				walkDigests(e, fmt.Sprintf("%s (%s).", k, name), out)
			}
		case f.Kind() == reflect.Struct:
			walkDigests(f, k+".", out)
		default:
			sum := sha256.Sum256([]byte(fmt.Sprint(f.Interface())))
			out[k] = hex.EncodeToString(sum[:4])
		}
	}
}

// DiffKeys lists the keys whose digests differ between two Digests, sorted.
func DiffKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
