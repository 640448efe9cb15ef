// Package render produces, from the one cluster file, every file a site runs: the Galera part of
// its my.cnf, haproxy.cfg and its start state, the nftables firewall, the agent's systemd unit and
// environment, and Keystone's [database] and [cache]. What operators deploy is what the lab runs.
// Rendering is pure: a cluster and a site in, files out; writing them is the caller's.
package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/ports"
)

// File is one rendered file.
type File struct {
	Name string      // its name in the output folder
	Mode fs.FileMode // 0600 when it holds a secret
	// Install is where it belongs on the site's host, when that differs from the output folder
	// (HAProxy's state file is named by the cluster file; units go to /etc/systemd/system).
	Install string
	Body    []byte
}

// Options are what the cluster file cannot know: where things live on the site's host.
type Options struct {
	Binary     string // keyha on the host; default /usr/bin/keyha
	ConfigPath string // the cluster file on the host; default /etc/keyha/keyha.yaml
	EnvFile    string // where the unit reads its environment; default /etc/keyha/agent.env
	// Keystone is Keystone's account (credentials.keystone), read by the caller; without it no
	// Keystone file is rendered.
	Keystone *config.Credential
	// DRBDSecret is the peers' shared secret (drbd.secret_file), read by the caller; without it
	// no DRBD resource file is rendered.
	DRBDSecret string
}

func (o *Options) defaults() {
	if o.Binary == "" {
		o.Binary = "/usr/bin/keyha"
	}
	if o.ConfigPath == "" {
		o.ConfigPath = "/etc/keyha/keyha.yaml"
	}
	if o.EnvFile == "" {
		o.EnvFile = "/etc/keyha/agent.env"
	}
}

// Site renders every file site needs.
func Site(c *config.Cluster, site string, o Options) ([]File, error) {
	o.defaults()
	s, err := c.Site(site)
	if err != nil {
		return nil, err
	}
	var out []File
	add := func(name string, mode fs.FileMode, install string, body []byte) {
		out = append(out, File{Name: name, Mode: mode, Install: install, Body: body})
	}
	if c.Mode != "drbd" && s.SQL != "" {
		b, err := galeraCnf(c, s)
		if err != nil {
			return nil, err
		}
		add("galera.cnf", 0o644, "/etc/mysql/mariadb.conf.d/60-keyha-galera.cnf", b)
	}
	if c.Mode == "drbd" && !s.Witness && o.DRBDSecret != "" {
		b, err := drbdRes(c, site, o.DRBDSecret)
		if err != nil {
			return nil, err
		}
		add(c.DRBD.Resource+".res", 0o600, "/etc/drbd.d/"+c.DRBD.Resource+".res", b)
	}
	if b, ok, err := wireguardConf(c, s); err != nil {
		return nil, err
	} else if ok {
		add("wg0.conf", 0o644, "/etc/wireguard/wg0.conf", b)
	}
	if s.HAProxyDB != "" {
		t := haproxy.ClusterTimings(c)
		b, err := haproxy.Config(c, site, t)
		if err != nil {
			return nil, fmt.Errorf("render haproxy.cfg: %w", err)
		}
		// The state file first, in the caller's order too: a config naming a missing state file
		// would start every server UP.
		st, err := haproxy.StartState(c, site, t)
		if err != nil {
			return nil, fmt.Errorf("render HAProxy's start state: %w", err)
		}
		add(filepath.Base(s.HAProxyState), 0o644, s.HAProxyState, st)
		add("haproxy.cfg", 0o644, "/etc/haproxy/haproxy.cfg", append([]byte(header(c, site, "#")), b...))
	}
	nft, err := ports.NFT(c, site, ports.SourcesOf(c))
	if err != nil {
		return nil, fmt.Errorf("render the firewall: %w", err)
	}
	add("firewall.nft", 0o644, "/etc/nftables.d/keyha.nft", []byte(nft))
	if sock := socketUnit(c, s); sock != nil {
		add("keyha-agent.socket", 0o644, "/etc/systemd/system/keyha-agent.socket", sock)
	}
	add("keyha-agent.service", 0o644, "/etc/systemd/system/keyha-agent.service", unit(c, o, s))
	add("agent.env", 0o644, o.EnvFile, []byte(header(c, site, "#")+fmt.Sprintf("KEYHA_CONFIG=%s\nKEYHA_SITE=%s\n", o.ConfigPath, site)))
	if s.Keystone.API != "" && o.Keystone != nil {
		b, err := keystoneConf(c, s, *o.Keystone)
		if err != nil {
			return nil, err
		}
		add("keystone-keyha.conf", 0o600, "/etc/keystone/keystone.conf.d/60-keyha.conf", b)
	}
	if s.Keystone.API != "" {
		b, err := keystoneUnit(c, s)
		if err != nil {
			return nil, err
		}
		add("keystone.service.conf", 0o644, "/etc/systemd/system/keystone.service.d/60-keyha.conf", b)
	}
	return out, nil
}

// header says where a file came from; with the hash, a file that differs from a new render is
// stale, not merely old.
func header(c *config.Cluster, site, comment string) string {
	from := c.Path
	if from == "" {
		from = "the cluster file"
	}
	return fmt.Sprintf("%s Rendered by `keyha render --site %s` from %s (sha256 %s).\n%s Do not edit: change the cluster file and render again.\n",
		comment, site, filepath.Base(from), c.Hash, comment)
}

// setting is one name=value line.
type setting struct{ k, v string }

// galeraParts is what a site's galera.cnf sets: its [mysqld] variables, the provider options
// among them, and its [sst] section.
func galeraParts(c *config.Cluster, s *config.Site) (mysqld, provider, sst []setting, err error) {
	if s.Galera == "" {
		return nil, nil, nil, fmt.Errorf("site %s has no galera address in the cluster file: the node's gcomm HOST:PORT is what its my.cnf is rendered from", s.Name)
	}
	sqlHost, sqlPort, _ := net.SplitHostPort(s.SQL)
	var addrs []string
	for _, o := range c.Sites {
		if o.Galera != "" {
			addrs = append(addrs, o.Galera)
		}
	}
	g := c.Galera
	opt := func(k, v string) { provider = append(provider, setting{k, v}) }
	opt("gmcast.listen_addr", "tcp://"+s.Galera)
	opt("ist.recv_addr", ports.IST(*s))
	if g.GCacheSize != "" {
		opt("gcache.size", g.GCacheSize)
	}
	for _, d := range []struct {
		k string
		v time.Duration
	}{{"evs.suspect_timeout", g.SuspectTimeout}, {"evs.inactive_check_period", g.InactiveCheckPeriod}, {"evs.join_retrans_period", g.JoinRetransPeriod}, {"evs.keepalive_period", g.KeepalivePeriod}} {
		if d.v > 0 {
			opt(d.k, isoDuration(d.v))
		}
	}
	if s.Segment > 0 {
		opt("gmcast.segment", fmt.Sprint(s.Segment))
	}
	if g.SendWindow > 0 {
		opt("evs.send_window", fmt.Sprint(g.SendWindow))
		opt("evs.user_send_window", fmt.Sprint(g.SendWindow))
	}
	cert, key, ca := siteFile(g.SSLCert, s.Name), siteFile(g.SSLKey, s.Name), siteFile(g.SSLCA, s.Name)
	if g.TLS() {
		opt("socket.ssl_cert", cert)
		opt("socket.ssl_key", key)
		opt("socket.ssl_ca", ca)
	}
	for _, part := range strings.Split(g.ProviderOptions, ";") {
		if k, v, ok := strings.Cut(part, "="); ok {
			opt(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	opts := make([]string, len(provider))
	for i, p := range provider {
		opts[i] = p.k + "=" + p.v
	}
	set := func(k, v string) { mysqld = append(mysqld, setting{k, v}) }
	set("port", sqlPort)
	set("bind-address", sqlHost)
	set("binlog_format", "ROW")
	set("default_storage_engine", "InnoDB")
	set("innodb_autoinc_lock_mode", "2")
	set("wsrep_on", "ON")
	set("wsrep_provider", g.Provider)
	set("wsrep_cluster_name", c.Name)
	set("wsrep_cluster_address", "gcomm://"+strings.Join(addrs, ","))
	set("wsrep_node_name", s.NodeName)
	set("wsrep_node_address", s.Galera)
	set("wsrep_node_incoming_address", s.SQL)
	set("wsrep_provider_options", `"`+strings.Join(opts, ";")+`"`)
	set("wsrep_sst_receive_address", ports.SST(*s))
	set("wsrep_sst_method", g.SSTMethod)
	set("wsrep_slave_threads", fmt.Sprint(g.SlaveThreads))
	if g.TLS() {
		// Clients over TLS only, and SST through stunnel, each side verifying that the other
		// holds a certificate of the cluster CA (VERIFY_CA: VERIFY_IDENTITY would accept only a
		// peer certificate found in the CA file itself).
		set("ssl_cert", cert)
		set("ssl_key", key)
		set("ssl_ca", ca)
		set("require_secure_transport", "ON")
		sst = []setting{{"tkey", key}, {"tcert", cert}, {"tca", ca}, {"ssl-mode", "VERIFY_CA"}}
	}
	return mysqld, provider, sst, nil
}

// galeraCnf is the Galera part of the node's my.cnf: MariaDB reads it beside the site's own
// settings (datadir, buffer pool), from mariadb.conf.d or an !include.
func galeraCnf(c *config.Cluster, s *config.Site) ([]byte, error) {
	mysqld, _, sst, err := galeraParts(c, s)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header(c, s.Name, "#"))
	b.WriteString("[mysqld]\n")
	for _, kv := range mysqld {
		fmt.Fprintf(&b, "%s=%s\n", kv.k, kv.v)
	}
	if len(sst) > 0 {
		b.WriteString("[sst]\n")
		for _, kv := range sst {
			fmt.Fprintf(&b, "%s=%s\n", kv.k, kv.v)
		}
	}
	return b.Bytes(), nil
}

// drbdRes is the DRBD resource, the same at both data sites: protocol C, fencing that freezes a
// Primary's I/O until keyha's handler says a majority holds the fence (so nothing it writes alone
// is acknowledged), peers that prove they hold the shared secret, and split brains left to the
// operator (keyha drbd split-brain), never resolved by discarding data automatically.
func drbdRes(c *config.Cluster, site, secret string) ([]byte, error) {
	d := c.DRBD
	if d.Disk == "" {
		return nil, fmt.Errorf("drbd.disk: missing; the resource file needs the backing device (the same path at both data sites)")
	}
	if strings.ContainsAny(secret, "\"\\\n") || len(secret) < 16 {
		return nil, fmt.Errorf("drbd.secret_file: the secret must be at least 16 characters, without quotes, backslashes or newlines (head -c 24 /dev/urandom | base64)")
	}
	var on []string
	for _, s := range c.Sites {
		if s.Witness {
			continue
		}
		if s.Replication == "" {
			return nil, fmt.Errorf("sites (%s).replication: missing; the resource file needs the address each data site replicates over", s.Name)
		}
		on = append(on, fmt.Sprintf("  on %s { address %s; }\n", s.Name, s.Replication))
	}
	var b bytes.Buffer
	b.WriteString(header(c, site, "#"))
	b.WriteString("# It holds the peers' shared secret: mode 0600.\n")
	fmt.Fprintf(&b, "resource %s {\n  protocol C;\n  device %s; disk %s; meta-disk internal;\n", d.Resource, d.Device, d.Disk)
	fmt.Fprintf(&b, "  disk { fencing resource-and-stonith; resync-rate %s; c-plan-ahead 0; }\n", d.ResyncRate)
	fmt.Fprintf(&b, "  handlers { fence-peer \"%s\"; }\n", d.FenceHandler)
	// DRBD counts ping-int in seconds, ping-timeout and timeout in tenths.
	fmt.Fprintf(&b, "  net { ping-int %d; ping-timeout %d; timeout %d; connect-int 3;\n", int(d.PingInterval/time.Second), int(d.PingTimeout/(100*time.Millisecond)),
		int(ReplyTimeout(d.PingInterval)/(100*time.Millisecond)))
	fmt.Fprintf(&b, "        cram-hmac-alg sha256; shared-secret \"%s\";\n", secret)
	b.WriteString("        after-sb-0pri disconnect; after-sb-1pri disconnect; after-sb-2pri disconnect; }\n")
	b.WriteString(strings.Join(on, ""))
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// wireguardConf is a data site's wg0.conf for wg-quick: the tunnel to the other data site that
// carries DRBD's replication, rendered once every data site names its public key. The tunnel's
// addresses are the replication addresses' hosts, its endpoint the peer's SQL host (the address
// the port plan opens WireGuard's port on). The private key stays in its own file on the host,
// loaded by PostUp, so this file holds no secret.
func wireguardConf(c *config.Cluster, s *config.Site) ([]byte, bool, error) {
	if c.Mode != "drbd" || s.Witness {
		return nil, false, nil
	}
	var peers []*config.Site
	for i := range c.Sites {
		o := &c.Sites[i]
		if o.Witness {
			continue
		}
		if o.WireGuardPublicKey == "" {
			return nil, false, nil // no tunnel of keyha's: the operator carries the replication otherwise
		}
		if o.Name != s.Name {
			peers = append(peers, o)
		}
	}
	// Every data site here has a public key, hence (config's validation) a replication address.
	host := func(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
	var b bytes.Buffer
	b.WriteString(header(c, s.Name, "#"))
	fmt.Fprintf(&b, "# The tunnel that carries DRBD's replication to the other data site. The private key stays in\n# %s (mode 0600).\n", c.DRBD.WireGuardKey)
	fmt.Fprintf(&b, "[Interface]\nAddress = %s/32\nListenPort = %d\nPostUp = wg set %%i private-key %s\n", host(s.Replication), ports.WireGuard, c.DRBD.WireGuardKey)
	for _, p := range peers {
		if p.SQL == "" {
			return nil, false, fmt.Errorf("sites (%s).sql: missing; wg0.conf reaches the WireGuard peer at its host", p.Name)
		}
		fmt.Fprintf(&b, "\n# %s\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s/32\n", p.Name, p.WireGuardPublicKey,
			net.JoinHostPort(host(p.SQL), strconv.Itoa(ports.WireGuard)), host(p.Replication))
	}
	return b.Bytes(), true, nil
}

// isoDuration writes d as Galera's ISO 8601 period (PT3S, PT0.25S).
func isoDuration(d time.Duration) string {
	return "PT" + strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", d.Seconds()), "0"), ".") + "S"
}

func siteFile(path, site string) string { return strings.ReplaceAll(path, "{site}", site) }

// unit is the agent's systemd service. Galera mode: the agent only reads its node, answers checks
// and gossips, so it runs behind a read-only system with a few writable folders. DRBD mode: its
// stack mounts a filesystem and starts MariaDB, which a private mount namespace would hide from
// the rest of the host, so only the hardening that makes no namespace applies.
func unit(c *config.Cluster, o Options, s *config.Site) []byte {
	var b bytes.Buffer
	if c.Hash != "" {
		b.WriteString(header(c, s.Name, "#"))
	}
	desc := "keyha agent: watches this site's database node and answers HAProxy"
	if c.Name != "" {
		desc += " (cluster " + c.Name + ")"
	}
	requires := "# A crashing agent is started again however often it crashes.\n"
	if socketUnit(c, s) != nil {
		requires = "Requires=keyha-agent.socket\n# A crashing agent is started again however often it crashes: its sockets keep queueing checks.\n"
	}
	fmt.Fprintf(&b, `[Unit]
Description=%s
Documentation=file:///usr/share/doc/keyha/agent.md
Wants=network-online.target
After=network-online.target mariadb.service
%sStartLimitIntervalSec=0

[Service]
Type=simple
EnvironmentFile=%s
ExecStart=%s agent --site ${KEYHA_SITE}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=100ms
TimeoutStopSec=10s
LimitNOFILE=65536
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallArchitectures=native
ProtectClock=yes
ProtectHostname=yes
ProtectKernelLogs=yes
`, desc, requires, o.EnvFile, o.Binary)
	if c.Mode == "drbd" {
		// The stack's processes (MariaDB) are the site's database, not the agent's: they must
		// outlive an agent's restart or upgrade (KillMode=mixed would kill them with the agent's
		// control group, crashing the Primary's database), and they inherit the agent's seccomp
		// filters, so none that a database might trip (MemoryDenyWriteExecute: PCRE's JIT).
		b.WriteString("KillMode=process\n")
		b.WriteString("# No ProtectSystem, PrivateTmp or ProtectHome: the stack's mount must be seen by the whole host.\n")
	} else {
		b.WriteString("KillMode=mixed\nMemoryDenyWriteExecute=yes\n")
		rw := []string{c.Agent.StateDir}
		for _, s := range c.Sites {
			if s.HAProxySocket != "" {
				rw = appendNew(rw, "-"+filepath.Dir(s.HAProxySocket)) // "-": a host without HAProxy's folder yet still starts
			}
		}
		// keyha keystone keys sync: the agent replaces Keystone's key files, which belong to the
		// keystone user (0600 in 0700 folders): it needs to pass their modes and give the new
		// files Keystone's owner, and nothing more.
		caps := ""
		for _, d := range []string{s.Keystone.FernetKeys, s.Keystone.CredentialKeys} {
			if d != "" {
				rw, caps = appendNew(rw, "-"+d), "CAP_CHOWN CAP_DAC_OVERRIDE"
			}
		}
		fmt.Fprintf(&b, `ProtectSystem=strict
ReadWritePaths=%s
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
CapabilityBoundingSet=%s
`, strings.Join(rw, " "), caps)
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return b.Bytes()
}

// GenericUnit is the agent's service as the package installs it, for no site in particular: the
// Galera mode's hardening, the sockets opened by the agent itself. The units `keyha render` writes
// for a site (in /etc/systemd/system) replace it, with socket activation and the mode's hardening.
func GenericUnit() []byte {
	c := &config.Cluster{Mode: "galera", Agent: config.Agent{StateDir: "/var/lib/keyha"}, Sites: []config.Site{{HAProxySocket: "/run/haproxy/admin.sock"}}}
	o := Options{}
	o.defaults()
	return unit(c, o, &config.Site{})
}

// socketUnit holds the agent's listening sockets (agent-check, HTTP, metrics) for as long as the
// site runs and hands them to each agent process: checks that arrive while the agent restarts wait
// in their queue and are answered by the new process (docs/deploy.md).
func socketUnit(c *config.Cluster, s *config.Site) []byte {
	var listen []string
	for _, a := range []string{s.Agent, s.HTTP, s.Metrics} {
		if a != "" {
			listen = append(listen, "ListenStream="+a)
		}
	}
	if len(listen) == 0 {
		return nil
	}
	return []byte(header(c, s.Name, "#") + "[Unit]\nDescription=keyha agent's listening sockets\n\n[Socket]\n" +
		strings.Join(listen, "\n") + "\nFreeBind=yes\nBacklog=128\n\n[Install]\nWantedBy=sockets.target\n")
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// keystoneUnit is a drop-in for Debian's keystone.service (which stays its user, runtime folders
// and restart policy): Keystone under uwsgi on the site's own API address (keystone.api), with its
// certificate when the cluster has TLS (HAProxy then reaches it verified). Debian's unit runs
// /etc/init.d/keystone, which binds port 5000 on every address, where the site's HAProxy puts
// its Keystone front. Workers load Keystone after the fork (--lazy-apps), as upstream runs it.
func keystoneUnit(c *config.Cluster, s *config.Site) ([]byte, error) {
	sock := "--http-socket " + s.Keystone.API
	if c.TLS.On() {
		cert, key := siteFile(c.Keystone.SSLCert, s.Name), siteFile(c.Keystone.SSLKey, s.Name)
		if strings.ContainsAny(cert+key, ", \t\"'") {
			return nil, fmt.Errorf("keystone.ssl_cert/ssl_key: %q, %q: uwsgi's socket option takes no comma, space or quote in a path", cert, key)
		}
		sock = "--https-socket " + s.Keystone.API + "," + cert + "," + key
	}
	var b bytes.Buffer
	b.WriteString(header(c, s.Name, "#"))
	fmt.Fprintf(&b, `[Service]
# Keystone on %s only: Debian's init script would take port 5000 on every address.
# Each worker loads Keystone after the fork (--lazy-apps); uwsgi closes each connection after its
# answer, and "Connection:close" says so, so that no client reuses a closed connection.
ExecStart=
ExecStart=/usr/bin/uwsgi --plugin python3 %s --wsgi-file /usr/bin/keystone-wsgi-public --processes %d --master --die-on-term --lazy-apps --enable-threads --thunder-lock --buffer-size 65535 --add-header Connection:close --logto /var/log/keystone/uwsgi.log
`, s.Keystone.API, sock, c.Keystone.Processes)
	return b.Bytes(), nil
}

// keystoneConf is Keystone's [database] and [cache]: the database through the site's own
// HAProxy (so always the writer), as Keystone's own account, over TLS verified against the
// cluster CA when the nodes serve TLS (not by name: through HAProxy any site's node may answer).
func keystoneConf(c *config.Cluster, s *config.Site, cred config.Credential) ([]byte, error) {
	if s.HAProxyDB == "" {
		return nil, fmt.Errorf("site %s has keystone but no haproxy_db: Keystone reaches its database through the site's HAProxy", s.Name)
	}
	// keystone-manage db_sync hands the URL to alembic, whose config parser refuses any '%': the
	// URL must need no escaping at all.
	u := url.URL{Scheme: "mysql+pymysql", User: url.UserPassword(cred.User, cred.Password), Host: s.HAProxyDB, Path: "/" + c.Keystone.Database}
	if strings.Contains(u.String(), "%") || strings.Contains(cred.Password, "$") {
		return nil, fmt.Errorf("credentials.keystone: Keystone's user or password holds a character a database URL must escape, " +
			"and keystone-manage db_sync (alembic) refuses the escaped form: use letters, digits and - . _ ~ only")
	}
	// The nodes' CA: Galera's own, else the cluster's (keyha's own SQL clients use it too, and a
	// DRBD site's MariaDB serves the cluster PKI's certificate).
	ca, key := "", ""
	switch {
	case c.Keystone.SSLCA != "":
		ca, key = siteFile(c.Keystone.SSLCA, s.Name), "keystone.ssl_ca"
	case c.Galera.TLS():
		ca, key = siteFile(c.Galera.SSLCA, s.Name), "galera.ssl_ca"
	case c.TLS.On():
		ca, key = c.TLS.CA, "tls.ca"
	}
	if ca != "" {
		if strings.ContainsAny(ca, "%&#? ") {
			return nil, fmt.Errorf("%s: %q holds a character Keystone's database URL would have to escape; use a plainer path", key, ca)
		}
		u.RawQuery = "ssl_ca=" + ca + "&ssl_check_hostname=false"
	}
	var b bytes.Buffer
	b.WriteString(header(c, s.Name, "#"))
	b.WriteString("# It holds Keystone's database password: mode 0600, owned by keystone.\n")
	fmt.Fprintf(&b, "[database]\nconnection = %s\n", u.String())
	// Retried for ever: a failover's few seconds must not kill Keystone's workers.
	b.WriteString("max_retries = -1\n")
	// Each read crosses the WAN to the writer; cached, a site answers from memory what it has
	// read before.
	fmt.Fprintf(&b, "[cache]\nenabled = true\nexpiration_time = %d\n", int(c.Keystone.CacheExpiration.Seconds()))
	if len(s.Keystone.Memcache) > 0 {
		fmt.Fprintf(&b, "backend = dogpile.cache.pymemcache\nmemcache_servers = %s\n", strings.Join(s.Keystone.Memcache, ","))
	} else {
		b.WriteString("backend = dogpile.cache.memory\n")
	}
	return b.Bytes(), nil
}

// ReplyTimeout is the resource's net timeout, how long DRBD waits for the peer's answer to a
// request before it drops the link: 2 s, but under ping-int, as drbd.conf requires (a lost answer
// must not outlast the keep-alive that would have noticed the dead peer anyway).
func ReplyTimeout(pingInterval time.Duration) time.Duration {
	return min(2*time.Second, pingInterval-500*time.Millisecond)
}
