package haproxy

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/show-stat-2.6.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ParseStat(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		if r.Backend == "galera" {
			names = append(names, r.Server)
			if r.Status != "UP" || r.CheckStatus != "L7OK" || r.AgentStatus != "L7OK" {
				t.Errorf("%s: %+v", r.Server, r)
			}
		}
	}
	if strings.Join(names, ",") != "lngs,bari,padova" {
		t.Errorf("servers %v", names)
	}
}

func TestParseStatBad(t *testing.T) {
	for _, in := range []string{"", "# foo,bar\n1,2\n", "\"unterminated"} {
		if _, err := ParseStat(in); err == nil {
			t.Errorf("ParseStat(%q) gave no error", in)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	raw, _ := os.ReadFile("testdata/show-stat-2.6.csv")
	f.Add(string(raw))
	f.Add("# pxname,svname,status\ngalera,a,UP\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := ParseStat(s)
		if err == nil {
			for _, r := range rows {
				if r.Server == "" || r.Server == "FRONTEND" || r.Server == "BACKEND" {
					t.Fatalf("non-server row %+v", r)
				}
			}
		}
	})
}

// The traffic columns: where a site's HAProxy sent its sessions, read after the fact.
func TestParseStatTraffic(t *testing.T) {
	rows, err := ParseStat("# pxname,svname,scur,stot,bin,bout,chkdown,status,\ngalera,lngs,1,42,1000,2000,3,UP,\ngalera,BACKEND,0,42,1000,2000,0,UP,\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows %+v, want lngs only", rows)
	}
	if r := rows[0]; r.ActiveSessions != 1 || r.TotalSessions != 42 || r.BytesIn != 1000 || r.BytesOut != 2000 || r.Downs != 3 {
		t.Errorf("lngs: %+v", r)
	}
}
