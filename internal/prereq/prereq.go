// Package prereq holds the project's one rule for a test whose prerequisite (root, a package, the
// lab) is missing: skip it on a developer's machine, fail it under CI=true, where nothing may be
// skipped. It imports nothing of keyha's, so every package's tests may use it.
package prereq

import (
	"os"
	"testing"
)

// SkipOrFail skips t because of why, except under CI=true, where it fails it.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing under CI=true: %s", why)
	}
	t.Skip(why)
}
