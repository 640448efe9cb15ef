package prereq

import (
	"testing"
)

// rec records what SkipOrFail did instead of ending the test.
type rec struct {
	testing.TB
	fatal, skip string
}

func (r *rec) Helper()                        {}
func (r *rec) Fatalf(format string, a ...any) { r.fatal = format }
func (r *rec) Skip(a ...any)                  { r.skip = "skip" }

func TestSkipOrFail(t *testing.T) {
	for _, c := range []struct {
		ci, want string
	}{{"true", "fatal"}, {"", "skip"}, {"false", "skip"}} {
		t.Setenv("CI", c.ci)
		r := &rec{}
		SkipOrFail(r, "haproxy is not installed")
		got := "skip"
		if r.fatal != "" {
			got = "fatal"
		}
		if got != c.want || (r.fatal == "" && r.skip == "") {
			t.Errorf("CI=%q: %s, want %s", c.ci, got, c.want)
		}
	}
}
