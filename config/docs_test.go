package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// yamlKeys lists every key a cluster file may hold, as docs/config.md names them
// (sites[].name, drbd.stack[].up ...).
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		k, ft := prefix+tag, f.Type
		if ft.Kind() == reflect.Slice {
			k, ft = k+"[]", ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, yamlKeys(ft, k+".")...)
			continue
		}
		out = append(out, k)
	}
	return out
}

// Every key of the cluster file has exactly one row in docs/config.md, and no row names a key
// the code does not have.
func TestEveryKeyDocumentedOnce(t *testing.T) {
	raw, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	keys := yamlKeys(reflect.TypeOf(Cluster{}), "")
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if n := strings.Count(doc, "\n| `"+k+"` |"); n != 1 {
			t.Errorf("docs/config.md has %d rows for %s, want 1", n, k)
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			if k, _, _ := strings.Cut(rest, "`"); !known[k] {
				t.Errorf("docs/config.md documents %s, which the cluster file does not have", k)
			}
		}
	}
}
