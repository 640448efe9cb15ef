package ports_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/ports"
)

func lab(t *testing.T, extra string) *config.Cluster {
	t.Helper()
	var b strings.Builder
	b.WriteString("cluster: lab\ncredentials: {monitor: /m.cnf}\ngossip: {key_file: /k}\nsites:\n")
	for i, s := range []string{"lngs", "bari", "padova"} {
		ip := fmt.Sprintf("10.77.0.%d", i+1)
		fmt.Fprintf(&b, "  - {name: %s, sql: %s:3306, galera: %s:4567, agent: %s:9250, http: %s:9200, metrics: %s:9260, gossip: %s:7946, haproxy_db: %s:3307, keystone: {api: %s:5001, front: %s:5000}%s}\n",
			s, ip, ip, ip, ip, ip, ip, ip, ip, ip, extra)
	}
	c, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlan(t *testing.T) {
	c := lab(t, "")
	var got []string
	for _, p := range ports.Plan(c, "lngs") {
		got = append(got, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		if p.Site != "lngs" || p.Why == "" || len(p.From) == 0 {
			t.Errorf("incomplete %+v", p)
		}
	}
	want := "3306/tcp 3307/tcp 4444/tcp 4567/tcp 4568/tcp 5000/tcp 5001/tcp 7946/tcp 7946/udp 9200/tcp 9250/tcp 9260/tcp"
	if strings.Join(got, " ") != want {
		t.Errorf("lngs's ports %v, want %s", got, want)
	}
	if n := len(ports.Plan(c, "")); n != 3*12 {
		t.Errorf("%d ports for three sites, want 36", n)
	}
	b, _ := json.Marshal(ports.Plan(c, "bari")[0])
	for _, k := range []string{`"port":3306`, `"protocol":"tcp"`, `"site":"bari"`, `"from":[`, `"why":"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
	if w := ports.X11(c); len(w) != 0 {
		t.Errorf("the lab's ports warn of X11: %v", w)
	}
}

// Swift's servers, named in the cluster file, are in the plan and so in the firewall: the proxy
// for the clients, the storage servers for the other sites (their proxies).
func TestSwiftPorts(t *testing.T) {
	c := lab(t, "")
	for i := range c.Sites {
		ip := fmt.Sprintf("10.77.0.%d", i+1)
		c.Sites[i].Swift = config.Swift{Proxy: ip + ":8080", Object: ip + ":6200", Container: ip + ":6201", Account: ip + ":6202"}
	}
	var got []string
	for _, p := range ports.Plan(c, "bari") {
		if p.Port == 8080 || p.Port >= 6200 && p.Port <= 6202 {
			got = append(got, fmt.Sprintf("%d %v", p.Port, p.From))
		}
	}
	if want := "6200 [sites local] 6201 [sites local] 6202 [sites local] 8080 [clients local]"; strings.Join(got, " ") != want {
		t.Errorf("bari's Swift ports %v, want %s", got, want)
	}
	nft, err := ports.NFT(c, "bari", ports.Sources{Clients: []string{"192.0.2.20"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ip saddr { 10.77.0.1, 10.77.0.2, 10.77.0.3 } tcp dport 6200 accept`, `ip saddr { 10.77.0.2, 192.0.2.20 } tcp dport 8080 accept`} {
		if !strings.Contains(nft, want) {
			t.Errorf("missing %q in\n%s", want, nft)
		}
	}
	if w := ports.X11(c); len(w) != 0 {
		t.Errorf("Swift's customary ports warn of X11: %v", w)
	}
}

// DRBD mode: the data sites reach each other's WireGuard, and inside it each other's DRBD, whose
// connection is new traffic the input policy would drop; the witness is in neither.
func TestDRBDPorts(t *testing.T) {
	c := lab(t, "")
	c.Mode = "drbd"
	c.Sites[0].Replication, c.Sites[1].Replication = "10.78.0.1:7789", "10.78.0.2:7789"
	c.Sites[2].Witness, c.Sites[2].SQL = true, ""
	nft, err := ports.NFT(c, "lngs", ports.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ip saddr { 10.77.0.2, 10.78.0.2 } udp dport 51820 accept`, `ip saddr { 10.77.0.2, 10.78.0.2 } tcp dport 7789 accept`} {
		if !strings.Contains(nft, want) {
			t.Errorf("lngs's firewall lacks %q:\n%s", want, nft)
		}
	}
	for _, p := range ports.Plan(c, "padova") {
		if p.Port == 7789 || p.Port == 51820 {
			t.Errorf("the witness listens for replication: %+v", p)
		}
	}
}

func TestX11(t *testing.T) {
	c := lab(t, "")
	c.Sites[1].Metrics = "10.77.0.2:6010"
	w := ports.X11(c)
	if len(w) != 1 || !strings.Contains(w[0], "sites (bari): port 6010") {
		t.Errorf("X11 warnings %v, want bari's 6010", w)
	}
}

func TestNFT(t *testing.T) {
	c := lab(t, "")
	got, err := ports.NFT(c, "lngs", ports.Sources{Operator: []string{"192.0.2.10"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"policy drop;",
		"ct state established,related accept",
		`ip saddr { 10.77.0.2, 10.77.0.3 } tcp dport 4567 accept`,
		`ip saddr { 10.77.0.2, 10.77.0.3 } udp dport 7946 accept`,
		`ip saddr { 10.77.0.1, 10.77.0.2, 10.77.0.3, 192.0.2.10 } tcp dport 9200 accept`,
		"    tcp dport 9260 accept", // monitoring: no source given, any address
		"    tcp dport 5000 accept", // clients
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "dport 6") {
		t.Errorf("a port outside the plan:\n%s", got)
	}
	if _, err := ports.NFT(c, "milano", ports.Sources{}); err == nil {
		t.Error("a site not in the cluster file was rendered")
	}
}

// nftables itself accepts the rendered rules (nft -c: check only, nothing loaded).
func TestNFTAccepted(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil || os.Geteuid() != 0 {
		labtest.SkipOrFail(t, "nft -c needs nftables and root: run scripts/setup, as root")
	}
	rules, err := ports.NFT(lab(t, ""), "bari", ports.Sources{Monitoring: []string{"192.0.2.20"}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "bari.nft")
	if err := os.WriteFile(f, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "-c", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("nft -c refuses the rendered rules: %v\n%s\n%s", err, out, rules)
	}
}
