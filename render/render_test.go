package render

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

const galeraFile = `cluster: lab
credentials: {monitor: /m.cnf, keystone: /k.cnf}
agent: {state_dir: /var/lib/keyha}
gossip: {key_file: /k}
galera:
  gcache_size: 256M
  suspect_timeout: 3s
  inactive_check_period: 250ms
  keepalive_period: 500ms
  send_window: 512
  provider_options: "gcs.fc_limit=64;"
  ssl_cert: /etc/mysql/tls/{site}.crt
  ssl_key: /etc/mysql/tls/{site}.key
  ssl_ca: /etc/mysql/tls/ca.crt
firewall: {operator: [10.9.0.1]}
sites:
  - {name: lngs, priority: 3, segment: 1, sql: 10.0.0.1:3306, galera: 10.0.0.1:4567, http: 10.0.0.1:9200, agent: 10.0.0.1:9250, gossip: 10.0.0.1:7946,
     haproxy_db: 10.0.0.1:3307, haproxy_socket: /run/haproxy/admin.sock,
     keystone: {api: 10.0.0.1:5001, front: 10.0.0.1:5000, memcache: [127.0.0.1:11211]}}
  - {name: bari, priority: 2, segment: 2, sql: 10.0.0.2:3306, galera: 10.0.0.2:4567, http: 10.0.0.2:9200, agent: 10.0.0.2:9250, gossip: 10.0.0.2:7946,
     haproxy_db: 10.0.0.2:3307, haproxy_socket: /run/haproxy/admin.sock, keystone: {api: 10.0.0.2:5001}}
`

func files(t *testing.T, raw string, site string, o Options) map[string]File {
	t.Helper()
	c, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Site(c, site, o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]File{}
	for _, f := range fs {
		if _, dup := out[f.Name]; dup {
			t.Fatalf("%s rendered twice", f.Name)
		}
		out[f.Name] = f
	}
	return out
}

func TestGaleraCnf(t *testing.T) {
	fs := files(t, galeraFile, "bari", Options{})
	cnf := string(fs["galera.cnf"].Body)
	for _, want := range []string{
		"wsrep_cluster_name=lab\n",
		"wsrep_cluster_address=gcomm://10.0.0.1:4567,10.0.0.2:4567\n",
		"wsrep_node_name=bari\n",
		"wsrep_node_address=10.0.0.2:4567\n",
		"wsrep_node_incoming_address=10.0.0.2:3306\n",
		"bind-address=10.0.0.2\n",
		`wsrep_provider_options="gmcast.listen_addr=tcp://10.0.0.2:4567;ist.recv_addr=10.0.0.2:4568;gcache.size=256M;` +
			`evs.suspect_timeout=PT3S;evs.inactive_check_period=PT0.25S;evs.keepalive_period=PT0.5S;gmcast.segment=2;evs.send_window=512;evs.user_send_window=512;` +
			`socket.ssl_cert=/etc/mysql/tls/bari.crt;socket.ssl_key=/etc/mysql/tls/bari.key;socket.ssl_ca=/etc/mysql/tls/ca.crt;gcs.fc_limit=64"` + "\n",
		"wsrep_sst_receive_address=10.0.0.2:4444\n",
		"wsrep_sst_method=rsync\n",
		"require_secure_transport=ON\n",
		"[sst]\ntkey=/etc/mysql/tls/bari.key\n",
	} {
		if !strings.Contains(cnf, want) {
			t.Errorf("galera.cnf lacks %q:\n%s", want, cnf)
		}
	}
	if !strings.HasPrefix(cnf, "# Rendered by `keyha render --site bari`") {
		t.Errorf("galera.cnf does not say where it came from:\n%s", cnf)
	}
}

// Without TLS files no TLS option is written, and without evs settings Galera's defaults stay.
func TestGaleraCnfDefaults(t *testing.T) {
	raw := "cluster: c\ncredentials: {monitor: /m}\nwriter: {mode: all}\nsites:\n  - {name: a, sql: 10.0.0.1:3306, galera: 10.0.0.1:4567}\n"
	cnf := string(files(t, raw, "a", Options{})["galera.cnf"].Body)
	for _, no := range []string{"ssl", "evs.", "segment", "gcache"} {
		if strings.Contains(cnf, no) {
			t.Errorf("galera.cnf has %q, which the cluster file does not ask for:\n%s", no, cnf)
		}
	}
}

func TestEverySiteFile(t *testing.T) {
	cred := config.Credential{User: "keystone", Password: "pass-word.X_1~"}
	fs := files(t, galeraFile, "lngs", Options{Keystone: &cred})
	for _, name := range []string{"galera.cnf", "haproxy.cfg", "keyha-servers.state", "firewall.nft", "keyha-agent.service", "agent.env", "keystone-keyha.conf"} {
		if _, ok := fs[name]; !ok {
			t.Errorf("%s not rendered", name)
		}
	}
	if st := fs["keyha-servers.state"]; st.Install != "/run/haproxy/keyha-servers.state" {
		t.Errorf("state file installs at %q, want beside the socket", st.Install)
	}
	ks := fs["keystone-keyha.conf"]
	if ks.Mode != 0o600 {
		t.Errorf("Keystone's file holds a password but has mode %o", ks.Mode)
	}
	body := string(ks.Body)
	if !strings.Contains(body, "connection = mysql+pymysql://keystone:pass-word.X_1~@10.0.0.1:3307/keystone?ssl_ca=/etc/mysql/tls/ca.crt&ssl_check_hostname=false\n") {
		t.Errorf("connection line wrong:\n%s", body)
	}
	if !strings.Contains(body, "memcache_servers = 127.0.0.1:11211\n") {
		t.Errorf("lngs's memcached not in its [cache]:\n%s", body)
	}
	if b := string(files(t, galeraFile, "bari", Options{Keystone: &cred})["keystone-keyha.conf"].Body); !strings.Contains(b, "backend = dogpile.cache.memory") {
		t.Errorf("bari has no memcached: want the memory backend:\n%s", b)
	}
	if nft := string(fs["firewall.nft"].Body); !strings.Contains(nft, "10.9.0.1") {
		t.Errorf("the firewall does not let the operator (firewall.operator) in:\n%s", nft)
	}
	if env := string(fs["agent.env"].Body); !strings.Contains(env, "KEYHA_SITE=lngs\nKEYHA_CONFIG=") && !strings.Contains(env, "KEYHA_CONFIG=/etc/keyha/keyha.yaml\nKEYHA_SITE=lngs\n") {
		t.Errorf("agent.env:\n%s", env)
	}
	u := string(fs["keyha-agent.service"].Body)
	for _, want := range []string{"ExecStart=/usr/bin/keyha agent --site ${KEYHA_SITE}\n", "EnvironmentFile=/etc/keyha/agent.env\n", "ProtectSystem=strict\n",
		"ReadWritePaths=/var/lib/keyha -/run/haproxy\n", "NoNewPrivileges=yes\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	// Without the account, no Keystone file (it could only hold a blank password).
	if _, ok := files(t, galeraFile, "lngs", Options{})["keystone-keyha.conf"]; ok {
		t.Error("Keystone's file rendered without its account")
	}
}

// A password the URL must escape would reach alembic (keystone-manage db_sync) with a '%', which
// its config parser refuses: render says so instead.
func TestKeystonePasswordNeedsNoEscaping(t *testing.T) {
	c, err := config.Parse([]byte(galeraFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"p@ss", "a/b", "50%", "x$y", "a b"} {
		_, err := Site(c, "lngs", Options{Keystone: &config.Credential{User: "keystone", Password: pw}})
		if err == nil || !strings.Contains(err.Error(), "credentials.keystone") {
			t.Errorf("password %q: err = %v, want one naming credentials.keystone", pw, err)
		}
	}
}

// Rendering is a function of the cluster file: twice the same bytes; a changed file, a new hash
// in every header.
func TestIdempotent(t *testing.T) {
	a := files(t, galeraFile, "lngs", Options{})
	b := files(t, galeraFile, "lngs", Options{})
	for name, f := range a {
		if !bytes.Equal(f.Body, b[name].Body) {
			t.Errorf("%s differs between two renders", name)
		}
	}
	c := files(t, strings.Replace(galeraFile, "gcache_size: 256M", "gcache_size: 1G", 1), "lngs", Options{})
	for _, name := range []string{"galera.cnf", "haproxy.cfg", "firewall.nft", "keyha-agent.service", "agent.env"} {
		if bytes.Equal(a[name].Body, c[name].Body) {
			t.Errorf("%s unchanged though the cluster file changed: its header must carry the new hash", name)
		}
	}
}

// In DRBD mode the stack mounts a filesystem for the whole host: no mount namespace in the unit,
// and no Galera file.
func TestDRBDUnit(t *testing.T) {
	raw := `cluster: d
mode: drbd
credentials: {monitor: /m}
gossip: {key_file: /k}
drbd: {stack: [{name: drbd, up: drbdadm primary r0, down: drbdadm secondary r0}]}
sites:
  - {name: a, sql: 10.0.0.1:3306, gossip: 10.0.0.1:7946}
  - {name: b, sql: 10.0.0.2:3306, gossip: 10.0.0.2:7946}
  - {name: w, witness: true, gossip: 10.0.0.3:7946}
`
	fs := files(t, raw, "a", Options{})
	if _, ok := fs["galera.cnf"]; ok {
		t.Error("galera.cnf rendered in DRBD mode")
	}
	u := string(fs["keyha-agent.service"].Body)
	for _, ns := range []string{"ProtectSystem", "PrivateTmp", "ProtectHome", "PrivateDevices"} {
		if strings.Contains(u, ns+"=") {
			t.Errorf("DRBD unit sets %s: the stack's mount would be private to the agent", ns)
		}
	}
	// The database the stack starts outlives the agent's restart, and no seccomp filter of the
	// agent's is one it cannot live with.
	if !strings.Contains(u, "\nKillMode=process\n") || strings.Contains(u, "KillMode=mixed") || strings.Contains(u, "MemoryDenyWriteExecute") {
		t.Errorf("DRBD unit: want KillMode=process and no MemoryDenyWriteExecute:\n%s", u)
	}
}

const drbdFile = `cluster: d
mode: drbd
credentials: {monitor: /m}
gossip: {key_file: /k}
drbd:
  disk: /dev/vda
  ping_interval: 3s
  ping_timeout: 1s
  stack: [{name: drbd, up: drbdadm primary r0, down: drbdadm secondary r0}]
sites:
  - {name: a, sql: 10.0.0.1:3306, gossip: 10.0.0.1:7946, replication: 10.78.0.1:7789}
  - {name: b, sql: 10.0.0.2:3306, gossip: 10.0.0.2:7946, replication: 10.78.0.2:7789}
  - {name: w, witness: true, gossip: 10.0.0.3:7946}
`

// In DRBD mode the Primary's MariaDB serves the cluster PKI's certificate: Keystone's URL is
// verified against tls.ca, the CA keyha's own SQL clients use.
func TestDRBDKeystoneTLS(t *testing.T) {
	withKS := strings.Replace(drbdFile, "sites:\n", "tls: {ca: /etc/keyha/tls/ca.crt, agent_cert: /c, agent_key: /k, operator_cert: /oc, operator_key: /ok, haproxy_pem: /p}\nsites:\n", 1)
	withKS = strings.Replace(withKS, "replication: 10.78.0.1:7789}", "replication: 10.78.0.1:7789, haproxy_db: 10.0.0.1:3307, haproxy_socket: /run/h.sock, "+
		"http: 10.0.0.1:9200, agent: 10.0.0.1:9250, keystone: {api: 10.0.0.11:5001}}", 1)
	withKS = strings.Replace(withKS, "replication: 10.78.0.2:7789}", "replication: 10.78.0.2:7789, http: 10.0.0.2:9200, agent: 10.0.0.2:9250}", 1)
	cred := config.Credential{User: "keystone", Password: "pw"}
	got := string(files(t, withKS, "a", Options{Keystone: &cred, DRBDSecret: "0123456789abcdefXYZ"})["keystone-keyha.conf"].Body)
	if !strings.Contains(got, "connection = mysql+pymysql://keystone:pw@10.0.0.1:3307/keystone?ssl_ca=/etc/keyha/tls/ca.crt&ssl_check_hostname=false\n") {
		t.Errorf("Keystone's connection in DRBD mode with TLS:\n%s", got)
	}
}

func TestDRBDResource(t *testing.T) {
	const secret = "0123456789abcdefXYZ"
	a := files(t, drbdFile, "a", Options{DRBDSecret: secret})
	b := files(t, drbdFile, "b", Options{DRBDSecret: secret})
	res, ok := a["r0.res"]
	if !ok || res.Mode != 0o600 || res.Install != "/etc/drbd.d/r0.res" {
		t.Fatalf("r0.res: %+v", res)
	}
	body := string(res.Body)
	for _, want := range []string{
		"device /dev/drbd0; disk /dev/vda; meta-disk internal;",
		"fencing resource-and-stonith;",
		`fence-peer "/usr/share/keyha/drbd/fence-peer";`,
		"ping-int 3; ping-timeout 10; timeout 20;",
		`shared-secret "` + secret + `";`,
		"after-sb-0pri disconnect; after-sb-1pri disconnect; after-sb-2pri disconnect;",
		"on a { address 10.78.0.1:7789; }\n  on b { address 10.78.0.2:7789; }\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("r0.res lacks %q:\n%s", want, body)
		}
	}
	// Both data sites run the same resource; only the header's site differs.
	strip := func(f File) string { _, rest, _ := strings.Cut(string(f.Body), "Do not edit"); return rest }
	if strip(res) != strip(b["r0.res"]) {
		t.Errorf("a and b render different resources:\n%s\nvs\n%s", res.Body, b["r0.res"].Body)
	}
	// Unset, the keep-alive is 2 s and DRBD's own ping-timeout, the reply timeout under them.
	def := strings.Replace(drbdFile, "  ping_interval: 3s\n  ping_timeout: 1s\n", "", 1)
	if got := string(files(t, def, "a", Options{DRBDSecret: secret})["r0.res"].Body); !strings.Contains(got, "ping-int 2; ping-timeout 5; timeout 15;") {
		t.Errorf("default net timings:\n%s", got)
	}
	if _, ok := files(t, drbdFile, "w", Options{DRBDSecret: secret})["r0.res"]; ok {
		t.Error("the witness got a resource file")
	}
	c, _ := config.Parse([]byte(drbdFile))
	for _, bad := range []string{"short", `has"quote0123456789`} {
		if _, err := Site(c, "a", Options{DRBDSecret: bad}); err == nil || !strings.Contains(err.Error(), "drbd.secret_file") {
			t.Errorf("secret %q: err = %v", bad, err)
		}
	}
}

// TestWireGuard: with both data sites' public keys, each renders wg0.conf naming the other as
// its one peer (its endpoint the peer's site address, its tunnel address the peer's replication
// host) and loading its own private key from its file: no secret in the rendered file.
func TestWireGuard(t *testing.T) {
	const ka, kb = "pD3yBvKOBQkLvlHlvWLoQiL8nZMeRo5qOrFkoA2lKFk=", "1V9vFqcDkqjJDpmqzTb0nm5M6R6oXtTq7MZKnQjRkHo="
	keyed := strings.Replace(drbdFile, "replication: 10.78.0.1:7789}", "replication: 10.78.0.1:7789, wireguard_public_key: "+ka+"}", 1)
	keyed = strings.Replace(keyed, "replication: 10.78.0.2:7789}", "replication: 10.78.0.2:7789, wireguard_public_key: "+kb+"}", 1)
	wg, ok := files(t, keyed, "a", Options{})["wg0.conf"]
	if !ok || wg.Install != "/etc/wireguard/wg0.conf" || wg.Mode != 0o644 {
		t.Fatalf("wg0.conf at a: %+v", wg)
	}
	body := string(wg.Body)
	for _, want := range []string{
		"[Interface]\nAddress = 10.78.0.1/32\nListenPort = 51820\nPostUp = wg set %i private-key /etc/keyha/wireguard.key\n",
		"[Peer]\nPublicKey = " + kb + "\nEndpoint = 10.0.0.2:51820\nAllowedIPs = 10.78.0.2/32\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("a's wg0.conf lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "PrivateKey") || strings.Contains(body, ka) {
		t.Errorf("a's wg0.conf holds a's own key material:\n%s", body)
	}
	if b := string(files(t, keyed, "b", Options{})["wg0.conf"].Body); !strings.Contains(b, "PublicKey = "+ka+"\nEndpoint = 10.0.0.1:51820\nAllowedIPs = 10.78.0.1/32\n") {
		t.Errorf("b's wg0.conf does not name a as its peer:\n%s", b)
	}
	if _, ok := files(t, keyed, "w", Options{})["wg0.conf"]; ok {
		t.Error("the witness got a wg0.conf")
	}
	// One data site without a key: no tunnel of keyha's at all (the operator carries DRBD otherwise).
	half := strings.Replace(drbdFile, "replication: 10.78.0.1:7789}", "replication: 10.78.0.1:7789, wireguard_public_key: "+ka+"}", 1)
	if _, ok := files(t, half, "a", Options{})["wg0.conf"]; ok {
		t.Error("wg0.conf rendered while b names no public key")
	}
	for bad, want := range map[string]string{
		strings.Replace(keyed, ka, "not-a-key", 1):                                                  "is not a WireGuard public key",
		strings.Replace(keyed, "drbd:\n", "drbd:\n  wireguard_key: wireguard.key\n", 1):             "drbd.wireguard_key",
		strings.Replace(keyed, "witness: true,", "witness: true, wireguard_public_key: "+ka+",", 1): "a witness replicates nothing",
	} {
		if _, err := config.Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
}

func TestISODuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{{"3s", "PT3S"}, {"250ms", "PT0.25S"}, {"1m30s", "PT90S"}, {"300ms", "PT0.3S"}} {
		d, _ := time.ParseDuration(c.in)
		if got := isoDuration(d); got != c.want {
			t.Errorf("isoDuration(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDrift(t *testing.T) {
	c, err := config.Parse([]byte(galeraFile))
	if err != nil {
		t.Fatal(err)
	}
	running := func() galera.NodeSettings {
		return galera.NodeSettings{Site: "bari",
			Vars: map[string]string{"wsrep_cluster_address": "gcomm://10.0.0.1:4567,10.0.0.2:4567", "wsrep_sst_method": "rsync", "binlog_format": "ROW",
				"bind_address": "10.0.0.2", "port": "3306", "require_secure_transport": "ON"},
			Provider: map[string]string{"gmcast.listen_addr": "ssl://10.0.0.2:4567", "evs.suspect_timeout": "PT3S", "evs.inactive_check_period": "PT0.250S",
				"gcache.size": "256M", "gmcast.segment": "2", "evs.send_window": "512", "gcs.fc_limit": "64"}}
	}
	for _, tc := range []struct {
		name   string
		change func(*galera.NodeSettings)
		want   []string
	}{
		{"as rendered", func(*galera.NodeSettings) {}, nil},
		{"old timeout", func(n *galera.NodeSettings) { n.Provider["evs.suspect_timeout"] = "PT5S" }, []string{"provider option evs.suspect_timeout is \"PT5S\", rendered \"PT3S\""}},
		{"no segment", func(n *galera.NodeSettings) { n.Provider["gmcast.segment"] = "0" }, []string{"provider option gmcast.segment is \"0\""}},
		{"other SST", func(n *galera.NodeSettings) { n.Vars["wsrep_sst_method"] = "mariabackup" }, []string{"wsrep_sst_method is \"mariabackup\", rendered \"rsync\""}},
		{"clients in clear", func(n *galera.NodeSettings) { n.Vars["require_secure_transport"] = "OFF" }, []string{"require_secure_transport is \"OFF\""}},
		{"address missing", func(n *galera.NodeSettings) { n.Vars["wsrep_cluster_address"] = "gcomm://10.0.0.1:4567" }, []string{"wsrep_cluster_address is"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := running()
			tc.change(&n)
			got, err := Drift(c, n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Drift = %q, want %d findings like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("finding %q, want it to start %q", got[i], w)
				}
			}
		})
	}
}

// The package ships deploy/keyha-agent.service: what GenericUnit renders, byte for byte
// (KEYHA_UPDATE=1 go test ./render rewrites it).
func TestPackagedUnit(t *testing.T) {
	want := GenericUnit()
	if os.Getenv("KEYHA_UPDATE") == "1" {
		if err := os.WriteFile("../deploy/keyha-agent.service", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("../deploy/keyha-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("deploy/keyha-agent.service differs from render.GenericUnit(): run KEYHA_UPDATE=1 go test ./render\n%s", want)
	}
	for _, no := range []string{"Requires=keyha-agent.socket", "Rendered by"} {
		if bytes.Contains(want, []byte(no)) {
			t.Errorf("the packaged unit has %q: it belongs to no site", no)
		}
	}
}

// Keystone's drop-in runs it on the site's own API address, over TLS with the site's certificate
// when the cluster has TLS; the agent that replaces its key files may reach them, and only them.
func TestKeystoneUnit(t *testing.T) {
	withTLS := strings.Replace(galeraFile, "firewall:", "tls: {ca: /etc/keyha/tls/ca.crt, agent_cert: '/etc/keyha/tls/{site}.crt', agent_key: '/etc/keyha/tls/{site}.key', "+
		"operator_cert: /oc, operator_key: /ok, haproxy_pem: /p}\nkeystone: {ssl_cert: '/etc/keystone/tls/{site}.crt', ssl_key: '/etc/keystone/tls/{site}.key', processes: 2}\nfirewall:", 1)
	withTLS = strings.Replace(withTLS, "memcache: [127.0.0.1:11211]}", "memcache: [127.0.0.1:11211], fernet_keys: /etc/keystone/fernet-keys, credential_keys: /etc/keystone/credential-keys}", 1)
	fs := files(t, withTLS, "lngs", Options{})
	ks, ok := fs["keystone.service.conf"]
	if !ok || ks.Install != "/etc/systemd/system/keystone.service.d/60-keyha.conf" {
		t.Fatalf("Keystone's drop-in: %+v", ks)
	}
	for _, want := range []string{"\nExecStart=\n", "\nExecStart=/usr/bin/uwsgi --plugin python3 --https-socket 10.0.0.1:5001,/etc/keystone/tls/lngs.crt,/etc/keystone/tls/lngs.key " +
		"--wsgi-file /usr/bin/keystone-wsgi-public --processes 2 "} {
		if !strings.Contains(string(ks.Body), want) {
			t.Errorf("drop-in lacks %q:\n%s", want, ks.Body)
		}
	}
	u := string(fs["keyha-agent.service"].Body)
	for _, want := range []string{"ReadWritePaths=/var/lib/keyha -/run/haproxy -/etc/keystone/fernet-keys -/etc/keystone/credential-keys\n",
		"CapabilityBoundingSet=CAP_CHOWN CAP_DAC_OVERRIDE\n", "ProtectSystem=strict\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("agent unit lacks %q:\n%s", want, u)
		}
	}
	// bari keeps no key repository: its agent gets no capability at all.
	if b := string(files(t, withTLS, "bari", Options{})["keyha-agent.service"].Body); !strings.Contains(b, "CapabilityBoundingSet=\n") {
		t.Errorf("bari's agent unit, with no key repository, keeps capabilities:\n%s", b)
	}
	if b := string(files(t, strings.Replace(withTLS, "processes: 2}", "processes: 2, ssl_ca: /etc/keystone/tls/ca.crt}", 1), "lngs",
		Options{Keystone: &config.Credential{User: "keystone", Password: "pw"}})["keystone-keyha.conf"].Body); !strings.Contains(b, "?ssl_ca=/etc/keystone/tls/ca.crt&") {
		t.Errorf("keystone.ssl_ca not in Keystone's database URL:\n%s", b)
	}
	// In clear: plain HTTP; the default certificate is the agent's.
	if b := string(files(t, galeraFile, "bari", Options{})["keystone.service.conf"].Body); !strings.Contains(b, "--http-socket 10.0.0.2:5001 ") || !strings.Contains(b, "--processes 4 ") {
		t.Errorf("bari's drop-in in clear:\n%s", b)
	}
	c, err := config.Parse([]byte(strings.Replace(withTLS, "keystone: {ssl_cert: '/etc/keystone/tls/{site}.crt', ssl_key: '/etc/keystone/tls/{site}.key', processes: 2}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keystone.SSLCert != "/etc/keyha/tls/{site}.crt" {
		t.Errorf("keystone.ssl_cert defaults to %q, want tls.agent_cert", c.Keystone.SSLCert)
	}
	bad := strings.Replace(withTLS, "ssl_cert: '/etc/keystone/tls/{site}.crt'", "ssl_cert: '/etc/key stone/{site}.crt'", 1)
	c, err = config.Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Site(c, "lngs", Options{}); err == nil || !strings.Contains(err.Error(), "keystone.ssl_cert") {
		t.Errorf("a certificate path with a space: %v, want an error naming keystone.ssl_cert", err)
	}
}

// DRBD's net timeout stays under ping-int, as drbd.conf requires, and at most 2 s.
func TestReplyTimeout(t *testing.T) {
	for _, c := range []struct{ ping, want time.Duration }{
		{time.Second, 500 * time.Millisecond},
		{2 * time.Second, 1500 * time.Millisecond},
		{3 * time.Second, 2 * time.Second},
		{10 * time.Second, 2 * time.Second},
	} {
		if got := ReplyTimeout(c.ping); got != c.want || got >= c.ping {
			t.Errorf("ReplyTimeout(%s) = %s, want %s (under ping-int)", c.ping, got, c.want)
		}
	}
}
