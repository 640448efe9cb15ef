package ops

import (
	"strings"
	"testing"
)

func st(site, status, w string) AgentStatus {
	var s AgentStatus
	s.Site, s.Writer = site, w
	s.Detail.Snapshot.ClusterStatus = status
	return s
}

func TestWriterAgreement(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []AgentStatus
		want string
		why  string
	}{
		{"all agree", []AgentStatus{st("lngs", "Primary", "lngs"), st("bari", "Primary", "lngs"), st("padova", "Primary", "lngs")}, "lngs", ""},
		{"cut-off site does not vote", []AgentStatus{st("lngs", "non-Primary", ""), st("bari", "Primary", "bari"), st("padova", "Primary", "bari")}, "bari", ""},
		{"disagreement named", []AgentStatus{st("lngs", "Primary", "lngs"), st("bari", "Primary", "bari")}, "", "disagree"},
		{"unreachable agent does not vote", []AgentStatus{{Site: "lngs", Err: "refused"}, st("bari", "Primary", "bari")}, "bari", ""},
	} {
		w, why := Writer(c.in)
		if w != c.want || !strings.Contains(why, c.why) || (c.why == "" && why != "") {
			t.Errorf("%s: got %q %q", c.name, w, why)
		}
	}
}
