package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/drbd"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
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

func TestForcedButHeard(t *testing.T) {
	agent := func(site string, peers map[string]membership.Peer, err string) AgentStatus {
		var s AgentStatus
		s.Site, s.Err, s.Detail.Peers = site, err, peers
		return s
	}
	alive := membership.Peer{Site: "padova", Status: "alive", State: membership.State{Site: "padova", Health: "down", LastCommitted: 812}}
	for _, c := range []struct {
		name string
		sts  []AgentStatus
		want string
	}{
		{"nobody hears padova", []AgentStatus{agent("lngs", map[string]membership.Peer{}, ""), agent("bari", nil, ""), agent("padova", nil, "connection refused")}, ""},
		{"bari hears padova", []AgentStatus{agent("lngs", nil, ""), agent("bari", map[string]membership.Peer{"padova": alive}, ""), agent("padova", nil, "timeout")},
			"the agents at bari hear padova's agent alive over gossip (its node: down, -, last committed 812)"},
		{"an agent that cannot be asked does not count", []AgentStatus{agent("bari", map[string]membership.Peer{"padova": alive}, "timeout")}, ""},
	} {
		err := forcedButHeard([]string{"padova"}, c.sts)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestPrintCerts(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	printCerts(&b, []AgentStatus{{Site: "lngs", CertExpires: now.Add(400 * 24 * time.Hour)}, {Site: "bari", CertExpires: now.Add(10 * 24 * time.Hour)}, {Site: "padova"}}, now)
	want := "agent certificates expire: lngs 2027-12-30 (400 days), bari 2026-12-05 (10 days) RENEW: keyha pki issue --site bari\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestJudgeLinks(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	clear := &config.Cluster{}
	tlsOn := &config.Cluster{TLS: config.TLS{CA: "/ca.crt"}}
	plain := galera.NodeSettings{Site: "lngs", Provider: map[string]string{"gmcast.segment": "1"}, Vars: map[string]string{"have_ssl": "DISABLED", "require_secure_transport": "OFF"}}
	ssl := galera.NodeSettings{Site: "lngs", Provider: map[string]string{"socket.ssl_cert": "/c.pem"}, Vars: map[string]string{"have_ssl": "YES", "require_secure_transport": "ON"}}
	optional := galera.NodeSettings{Site: "bari", Provider: ssl.Provider, Vars: map[string]string{"have_ssl": "YES", "require_secure_transport": "OFF"}}
	soon := []AgentStatus{{Site: "bari", CertExpires: now.Add(5 * 24 * time.Hour)}}
	for _, c := range []struct {
		name  string
		c     *config.Cluster
		nodes []galera.NodeSettings
		sts   []AgentStatus
		want  []string
	}{
		{"all in clear", clear, []galera.NodeSettings{plain}, nil, []string{"ERROR  the agents' HTTP", "ERROR lngs Galera replication", "ERROR lngs its clients"}},
		{"TLS offered, not required", tlsOn, []galera.NodeSettings{optional}, nil, []string{"ERROR bari the node accepts clients in clear"}},
		{"everything encrypted", tlsOn, []galera.NodeSettings{ssl}, nil, nil},
		{"a certificate expiring", tlsOn, []galera.NodeSettings{ssl}, soon, []string{"WARN bari its agent certificate expires 2026-11-30"}},
		{"a node that could not be read is judged elsewhere", tlsOn, []galera.NodeSettings{{Site: "padova", Err: "refused"}}, nil, nil},
	} {
		wantFindings(t, c.name, judgeLinks(c.c, c.nodes, c.sts, now), c.want)
	}
}

// wantFindings checks that each finding, as "LEVEL SITE WHAT", starts with its want.
func wantFindings(t *testing.T, name string, got []galera.Finding, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %+v, want %d findings", name, got, len(want))
		return
	}
	for i, f := range got {
		if line := f.Level + " " + f.Site + " " + f.What; !strings.HasPrefix(line, want[i]) {
			t.Errorf("%s: %q, want it to start with %q", name, line, want[i])
		}
	}
}

func TestPrintVersions(t *testing.T) {
	mine := &config.Cluster{Hash: "bbb", Writer: config.Writer{Grace: 10 * time.Second}}
	other := *mine
	other.Writer.Grace = 20 * time.Second
	st := func(site, hash, pending string) AgentStatus {
		var s AgentStatus
		s.Site, s.Detail.Config, s.Detail.Pending = site, hash, pending
		if hash == "aaa" {
			s.Detail.Keys = other.Digests()
		}
		return s
	}
	for _, c := range []struct {
		name string
		sts  []AgentStatus
		want string
	}{
		{"one version: nothing to say", []AgentStatus{st("lngs", "bbb", ""), st("bari", "bbb", "")}, ""},
		{"a rollout half-way", []AgentStatus{st("lngs", "bbb", ""), st("bari", "aaa", ""), st("padova", "aaa", "")},
			"bari runs aaa, which differs from this host's file in: writer.grace\n" +
				"padova runs aaa, which differs from this host's file in: writer.grace\n" +
				"cluster file: 2 versions running: aaa at bari, padova; bbb at lngs (this host's: bbb)\n"},
		{"a file not taken", []AgentStatus{st("lngs", "bbb", "cluster file ccc changes gossip.preset: restart the agent")},
			"lngs: cluster file ccc changes gossip.preset: restart the agent\n"},
		{"an agent not answering is not a version", []AgentStatus{st("lngs", "bbb", ""), {Site: "bari", Err: "refused"}}, ""},
	} {
		var b strings.Builder
		printVersions(&b, mine, c.sts)
		if b.String() != c.want {
			t.Errorf("%s: got %q, want %q", c.name, b.String(), c.want)
		}
	}
}

func TestJudgeDRBDLinks(t *testing.T) {
	tlsOn := &config.Cluster{TLS: config.TLS{CA: "/ca.crt"}}
	site := func(name string, l *drbd.Link) DRBDSite {
		s := DRBDSite{Site: name}
		s.Detail.Link = l
		return s
	}
	safe := &drbd.Link{Auth: "sha256", Peer: "10.78.0.2:7789", Dev: "wg0", WireGuard: true, Fencing: "resource-and-stonith"}
	bare := &drbd.Link{Peer: "10.77.0.2:7789", Dev: "eth0", Fencing: "resource-and-stonith"}
	for _, c := range []struct {
		name string
		c    *config.Cluster
		sts  []DRBDSite
		want []string
	}{
		{"all protected; the witness has no link", tlsOn, []DRBDSite{site("lngs", safe), site("bari", safe), site("padova", nil)}, nil},
		{"a bare link, agents in clear", &config.Cluster{}, []DRBDSite{site("lngs", bare)},
			[]string{"ERROR  the agents' HTTP", "ERROR lngs DRBD replication to 10.77.0.2:7789 crosses in clear", "ERROR lngs DRBD's peers do not authenticate"}},
		{"an agent not answering", tlsOn, []DRBDSite{{Site: "bari", Err: "refused"}}, []string{"ERROR bari its agent cannot be asked"}},
	} {
		wantFindings(t, c.name, judgeDRBDLinks(c.c, c.sts), c.want)
	}
}
