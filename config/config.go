// Package config loads and validates the cluster file: one file, identical at every site, that
// describes all sites of a keyha cluster. Everything keyha runs takes its settings from here.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/keyha/keyha/membership"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvConfig names the environment variable that points at the cluster file when --config is absent.
const EnvConfig = "KEYHA_CONFIG"

// Cluster is the validated content of a cluster file.
type Cluster struct {
	Name        string      `yaml:"cluster"`
	Mode        string      `yaml:"mode"` // "galera" (default) or "drbd"
	Credentials Credentials `yaml:"credentials"`
	Agent       Agent       `yaml:"agent"`
	Gossip      Gossip      `yaml:"gossip"`
	Writer      Writer      `yaml:"writer"`
	HAProxy     HAProxy     `yaml:"haproxy"`
	DRBD        DRBD        `yaml:"drbd"` // mode drbd only
	TLS         TLS         `yaml:"tls"`
	Galera      Galera      `yaml:"galera"`   // what keyha render writes into each node's my.cnf
	Firewall    Firewall    `yaml:"firewall"` // who besides the sites may reach them (keyha render, keyha ports --nft)
	Keystone    KeystoneAll `yaml:"keystone"` // what keyha render writes into each site's Keystone config
	Island      Island      `yaml:"island"`   // a cut-off site serves reads from its own node (Galera)
	Sites       []Site      `yaml:"sites"`

	// Path and Hash are filled by Load: where the file was read from and the SHA-256 of its bytes,
	// which agents compare to find a site whose file differs.
	Path string `yaml:"-"`
	Hash string `yaml:"-"`
}

// TLS names the cluster PKI's files (keyha pki). With a CA set, every agent serves its HTTP port
// over TLS with its site's certificate, HAProxy's HTTP check verifies it, and control requests
// need a client certificate of the cluster. "{site}" in a path is replaced by the site's name,
// so one cluster file serves hosts that keep each site's files apart (the lab) and hosts that
// keep one certificate in one place.
type TLS struct {
	CA           string `yaml:"ca"`
	AgentCert    string `yaml:"agent_cert"`
	AgentKey     string `yaml:"agent_key"`
	OperatorCert string `yaml:"operator_cert"` // what operator commands present
	OperatorKey  string `yaml:"operator_key"`
	// HAProxyPEM is the site's certificate and key in one file, for HAProxy's TLS bind of the
	// Keystone API front; required with a ca when a site has keystone.front.
	HAProxyPEM string `yaml:"haproxy_pem"`
}

// Bundle returns site's certificate-and-key file for HAProxy ("" without TLS).
func (t TLS) Bundle(site string) string {
	if !t.On() {
		return ""
	}
	return strings.ReplaceAll(t.HAProxyPEM, "{site}", site)
}

// On reports whether the agents speak TLS.
func (t TLS) On() bool { return t.CA != "" }

// Agent returns site's certificate and key paths.
func (t TLS) Agent(site string) (cert, key string) {
	return strings.ReplaceAll(t.AgentCert, "{site}", site), strings.ReplaceAll(t.AgentKey, "{site}", site)
}

// Scheme is the agents' HTTP scheme.
func (t TLS) Scheme() string {
	if t.On() {
		return "https"
	}
	return "http"
}

// Credentials names files in my.cnf form ([client] user=, password=), mode 0600. Passwords live
// only there: never in the cluster file, on a command line or in a log.
type Credentials struct {
	Monitor string `yaml:"monitor"` // what the agent polls with: minimal grants
	Admin   string `yaml:"admin"`   // operator commands (desync, recover, bootstrap)
	App     string `yaml:"app"`     // the load harness and Keystone's schema
	// Keystone is Keystone's own account: keyha grants gives it Keystone's schema, keyha render
	// writes it into Keystone's [database] connection (a rendered file of mode 0600).
	Keystone string `yaml:"keystone"`
}

// Galera is the Galera part of every node's my.cnf, as keyha render writes it: one place for the
// settings that must agree across sites (docs/deploy.md). Empty values leave Galera's defaults.
type Galera struct {
	Provider     string `yaml:"provider"`      // default /usr/lib/galera/libgalera_smm.so
	SSTMethod    string `yaml:"sst_method"`    // default rsync
	GCacheSize   string `yaml:"gcache_size"`   // gcache.size, e.g. 1G: how much history a rejoining node may catch up by IST
	SlaveThreads int    `yaml:"slave_threads"` // wsrep_slave_threads; default 2
	// The evs timings: how soon a silent peer is suspected (every commit waits that long when a
	// site is cut off), how often it is looked for, and how often an idle member speaks up;
	// `keyha galera check-config` advises them from the measured round trips.
	SuspectTimeout      time.Duration `yaml:"suspect_timeout"`
	InactiveCheckPeriod time.Duration `yaml:"inactive_check_period"`
	JoinRetransPeriod   time.Duration `yaml:"join_retrans_period"`
	KeepalivePeriod     time.Duration `yaml:"keepalive_period"`
	SendWindow          int           `yaml:"send_window"` // evs.send_window and evs.user_send_window (WAN: 512)
	// ProviderOptions are appended verbatim to wsrep_provider_options (name=value;...).
	ProviderOptions string `yaml:"provider_options"`
	// The node's certificate, key and CA as mysqld reads them ({site} is the site's name): with
	// them Galera's traffic, IST, SST (rsync through stunnel) and clients use TLS.
	SSLCert string `yaml:"ssl_cert"`
	SSLKey  string `yaml:"ssl_key"`
	SSLCA   string `yaml:"ssl_ca"`
}

func (g Galera) validate() error {
	if n := btoi(g.SSLCert != "") + btoi(g.SSLKey != "") + btoi(g.SSLCA != ""); n != 0 && n != 3 {
		return errors.New("galera.ssl_cert, ssl_key, ssl_ca: give all three (the node's certificate, key and the cluster CA, readable by mysql) or none")
	}
	if g.SuspectTimeout != 0 && (g.SuspectTimeout < time.Second || g.SuspectTimeout > 5*time.Minute) {
		return fmt.Errorf("galera.suspect_timeout: %s is out of range; use 1s to 5m (keyha galera check-config advises one from the round trips)", g.SuspectTimeout)
	}
	for _, d := range []struct {
		k string
		v time.Duration
	}{{"inactive_check_period", g.InactiveCheckPeriod}, {"join_retrans_period", g.JoinRetransPeriod}, {"keepalive_period", g.KeepalivePeriod}} {
		if d.v < 0 || d.v > time.Minute {
			return fmt.Errorf("galera.%s: %s is out of range; use 1ms to 1m, or leave it unset for Galera's default", d.k, d.v)
		}
	}
	// An idle member is silent for a keepalive period; a third of the suspect timeout leaves room
	// for a lost keepalive's retransmits.
	if g.KeepalivePeriod > 0 && g.SuspectTimeout > 0 && 3*g.KeepalivePeriod > g.SuspectTimeout {
		return fmt.Errorf("galera.keepalive_period: %s is over a third of suspect_timeout (%s): an idle site would be suspected after one lost keepalive; use at most %s",
			g.KeepalivePeriod, g.SuspectTimeout, g.SuspectTimeout/3)
	}
	if g.SendWindow < 0 || g.SendWindow > 1024 {
		return fmt.Errorf("galera.send_window: %d is out of range; use 1 to 1024 (512 over a WAN)", g.SendWindow)
	}
	if g.SlaveThreads < 1 || g.SlaveThreads > 256 {
		return fmt.Errorf("galera.slave_threads: %d is out of range; use 1 to 256", g.SlaveThreads)
	}
	if strings.ContainsAny(g.ProviderOptions, "\"\n") {
		return errors.New("galera.provider_options: no quotes or newlines; give name=value pairs separated by ';'")
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GaleraTLS reports whether the nodes' TLS files are set.
func (g Galera) TLS() bool { return g.SSLCert != "" && g.SSLKey != "" && g.SSLCA != "" }

// Firewall names who besides the sites reaches them, for each site's rendered nftables rules.
// Empty lists mean any address (the rules then guard only the ports, not the sources).
type Firewall struct {
	Operator   []string `yaml:"operator"`   // the operator hosts (control, SQL for switchover)
	Monitoring []string `yaml:"monitoring"` // Prometheus
	Clients    []string `yaml:"clients"`    // the cloud's clients, for the HAProxy and Keystone fronts
}

// Island lets a site whose node left the Primary component, with no writer reachable, serve reads
// from its own node (dirty reads, read-only) for at most MaxStale after it last saw the Primary
// component: its Keystone keeps issuing and validating tokens through a cut (docs/keystone.md).
type Island struct {
	Enabled  bool          `yaml:"enabled"`
	MaxStale time.Duration `yaml:"max_stale"` // default 10m
}

// KeystoneAll is what every site's Keystone shares in its rendered [database] and [cache].
type KeystoneAll struct {
	Database string `yaml:"database"` // the schema; default keystone
	// Cache: "memory" (each worker's own, the default) or memcached servers HOST:PORT at each site
	// (sites[].keystone.memcache).
	CacheExpiration time.Duration `yaml:"cache_expiration"` // default 60s
	// The certificate and key Keystone serves its API with when the cluster has TLS ({site}: the
	// site's name). Keystone runs as the keystone user: they must be readable by it. Default:
	// tls.agent_cert and tls.agent_key.
	SSLCert string `yaml:"ssl_cert"`
	SSLKey  string `yaml:"ssl_key"`
	// SSLCA is the CA Keystone verifies its database's certificate with (through the site's
	// HAProxy), readable by the keystone user; default galera.ssl_ca, else tls.ca.
	SSLCA string `yaml:"ssl_ca"`
	// Processes is how many uwsgi workers serve each site's Keystone; default 4.
	Processes int `yaml:"processes"`
}

// Agent holds the agent's timings and policy. Zero values are replaced by DefaultAgent's.
type Agent struct {
	PollInterval       time.Duration `yaml:"poll_interval"`
	PollTimeout        time.Duration `yaml:"poll_timeout"`
	StaleAfter         time.Duration `yaml:"stale_after"`
	AvailableWhenDonor bool          `yaml:"available_when_donor"`
	// DonorGrace keeps a Donor/Desynced node up for its first moments as a donor: an
	// incremental state transfer (a node rejoining after a restart) takes well under a second
	// here and does not block writes, and draining the writer for it would move the writes.
	DonorGrace time.Duration `yaml:"donor_grace"`
	StateDir   string        `yaml:"state_dir"` // maintenance flag and other state kept across restarts
	// EvictStalledAfter: a node whose applier has been stuck this long, holding every site in flow
	// control, is evicted from the group by a survivor (galera.StallEviction). 0s: never.
	EvictStalledAfter time.Duration `yaml:"evict_stalled_after"`
}

// unsetDuration marks a duration key the file left out, where 0 is a value of its own (off).
const unsetDuration = -1

// Gossip configures the memberlist cluster between the sites' agents.
type Gossip struct {
	Preset  string `yaml:"preset"`   // lan (default), wan, local
	KeyFile string `yaml:"key_file"` // 16, 24 or 32 raw bytes or base64 of them; empty: no encryption
}

// Writer configures the choice of the one node that takes writes.
type Writer struct {
	// Mode "single" (default when the sites gossip): one writer for all sites, the others on
	// standby; "all": every healthy node takes traffic (no gossip needed).
	Mode     string `yaml:"mode"`
	Failback bool   `yaml:"failback"` // move back to a higher-priority site once it is eligible again
	// Grace is how long a starting agent waits to hear of a site in its Galera view before it
	// takes that site's silence as "not eligible".
	Grace time.Duration `yaml:"grace"`
}

// HAProxy holds the health-check timings `keyha haproxy config` writes. HAProxy's connect timeout
// for a check is its interval: at 1 s, one lost SYN (retransmitted after 1 s) fails the check, so
// a lossy WAN wants 2 s, at the price of a slower "down" after a partition.
type HAProxy struct {
	CheckInterval time.Duration `yaml:"check_interval"` // default 1s
	Fall          int           `yaml:"fall"`           // failed checks before down; default 2
	Rise          int           `yaml:"rise"`           // passed checks before up; default 1
}

// DRBD configures the active/passive mode: the resource, the timings of the automatic moves
// (drbd.Timing) and the stack the Primary runs, in start order.
type DRBD struct {
	Resource    string        `yaml:"resource"`
	DemoteAfter time.Duration `yaml:"demote_after"` // a Primary without a majority demotes after this
	DemoteTakes time.Duration `yaml:"demote_takes"` // bound on the demotion (stack stop, drbdadm secondary)
	// PromoteAfter: the Secondary promotes after the peer has been silent this long; it must
	// exceed demote_after + demote_takes.
	PromoteAfter time.Duration `yaml:"promote_after"`
	// FenceTimeout bounds DRBD's fence-peer handler: how long it waits for a majority of agents to
	// hold the fence before it gives up and leaves I/O frozen.
	FenceTimeout time.Duration `yaml:"fence_timeout"`
	Stack        []StackStep   `yaml:"stack"`

	// What keyha render writes into the resource file (docs/drbd.md).
	Device       string        `yaml:"device"`        // default /dev/drbd0
	Disk         string        `yaml:"disk"`          // the backing device, the same path at both data sites
	SecretFile   string        `yaml:"secret_file"`   // the peers' shared secret (cram-hmac-alg sha256), mode 0600
	FenceHandler string        `yaml:"fence_handler"` // default /usr/share/keyha/drbd/fence-peer
	PingInterval time.Duration `yaml:"ping_interval"` // net ping-int; default 2s: a dead peer is noticed within twice this + ping_timeout
	PingTimeout  time.Duration `yaml:"ping_timeout"`  // net ping-timeout; default 500ms (DRBD's own)
	ResyncRate   string        `yaml:"resync_rate"`   // disk resync-rate; default 100M
	// WireGuardKey is where each data site keeps its own WireGuard private key (mode 0600, never
	// in the cluster file nor in a rendered file); default /etc/keyha/wireguard.key. With every
	// data site's wireguard_public_key set, keyha render writes wg0.conf, the tunnel that carries
	// the replication (DRBD 8.4 does not encrypt).
	WireGuardKey string `yaml:"wireguard_key"`
}

// StackStep is one layer run on the Primary: commands for sh -c, bounded by Timeout.
type StackStep struct {
	Name    string        `yaml:"name"`
	Up      string        `yaml:"up"`
	Down    string        `yaml:"down"`
	Timeout time.Duration `yaml:"timeout"`
}

// Site is one data centre: its database node and the agent beside it.
type Site struct {
	Name     string `yaml:"name"`
	Priority int    `yaml:"priority"` // higher is preferred as writer
	// Witness: the site runs only an agent (DRBD mode), whose vote makes a majority of two sites.
	Witness  bool   `yaml:"witness"`
	NodeName string `yaml:"node_name"` // wsrep_node_name of its node; default: the site name

	SQL      string `yaml:"sql"`     // the node's SQL address, as the agent reaches it
	Agent    string `yaml:"agent"`   // HAProxy agent-check listener
	HTTP     string `yaml:"http"`    // /health and /status
	Metrics  string `yaml:"metrics"` // Prometheus /metrics
	GossipAt string `yaml:"gossip"`  // memberlist bind address
	Galera   string `yaml:"galera"`  // the node's gcomm address (for the HAProxy config and checks)
	Segment  int    `yaml:"segment"` // gmcast.segment: one per site over a WAN, so write-sets cross it once
	// Replication is the address DRBD replicates over (DRBD mode, data sites; the lab: inside WireGuard).
	Replication string `yaml:"replication"`
	// WireGuardPublicKey is the data site's WireGuard public key (wg pubkey), which the other data
	// site's wg0.conf names as its peer; the replication address is the site's tunnel address.
	WireGuardPublicKey string `yaml:"wireguard_public_key"`
	Datadir            string `yaml:"datadir"` // where grastate.dat lives, read by recovery

	HAProxyDB     string `yaml:"haproxy_db"`     // the site's HAProxy database frontend
	HAProxySocket string `yaml:"haproxy_socket"` // its runtime API socket
	// HAProxyState is the server-state file HAProxy loads at each start and reload; `keyha haproxy
	// config` writes it with every database server DOWN, so a restarted HAProxy routes to no node
	// until its checks find the writer. Default: keyha-servers.state beside the socket.
	HAProxyState string `yaml:"haproxy_state"`

	Commands Commands `yaml:"commands"`

	Keystone Keystone `yaml:"keystone"`

	// Swift is the site's part of an object store on top (docs/swift.md): keyha does not run it,
	// but its port plan and firewall open its ports.
	Swift Swift `yaml:"swift"`
}

// Swift is where a site's Swift servers listen (HOST:PORT each).
type Swift struct {
	Proxy     string `yaml:"proxy"`     // the cloud's users reach it
	Object    string `yaml:"object"`    // the object server: every site's proxy reaches it
	Container string `yaml:"container"` // the container server: likewise
	Account   string `yaml:"account"`   // the account server: likewise
}

// Keystone is the site's Keystone, when keyha looks after it too.
type Keystone struct {
	API   string `yaml:"api"`   // the site's Keystone (uwsgi) address: the agent checks GET /v3 there
	Front string `yaml:"front"` // the site's HAProxy frontend for the Keystone API
	// The key repositories, identical at every site or tokens issued at one site are refused at
	// another (keyha keystone keys check|sync).
	FernetKeys     string `yaml:"fernet_keys"`
	CredentialKeys string `yaml:"credential_keys"`
	// Memcache lists the site's memcached servers (HOST:PORT) for Keystone's cache; empty: each
	// worker caches in its own memory.
	Memcache []string `yaml:"memcache"`
}

// Commands tell keyha how to act on a site's database service: the lab's scripts here, systemd
// units in production. Each is run with sh -c.
type Commands struct {
	Start string `yaml:"start"` // start mysqld, joining the cluster (systemctl start mariadb)
	Stop  string `yaml:"stop"`  // stop it cleanly (systemctl stop mariadb)
	// Bootstrap starts mysqld as a new Primary component (galera_new_cluster).
	Bootstrap string `yaml:"bootstrap"`
	// Recover prints the position of a stopped node whose grastate.dat says seqno -1: the output
	// of mariadbd --wsrep-recover, or of Debian's galera_recovery.
	Recover string `yaml:"recover"`
}

// DefaultAgent returns the agent settings used where the file is silent: a poll every 500 ms with a
// 1 s deadline, and a snapshot older than 3 s never trusted.
func DefaultAgent() Agent {
	return Agent{PollInterval: 500 * time.Millisecond, PollTimeout: time.Second, StaleAfter: 3 * time.Second, DonorGrace: 5 * time.Second,
		StateDir: "/var/lib/keyha", EvictStalledAfter: 30 * time.Second}
}

// Load reads, decodes and validates the cluster file at path.
func Load(path string) (*Cluster, error) {
	if path == "" {
		return nil, fmt.Errorf("no cluster file: pass --config FILE or set %s", EnvConfig)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster file: %w", err)
	}
	c, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("cluster file %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse decodes and validates a cluster file's bytes. Unknown keys are errors: a misspelt key
// silently ignored is a setting the operator believes in and does not have.
func Parse(raw []byte) (*Cluster, error) {
	c := Cluster{Agent: Agent{EvictStalledAfter: unsetDuration}}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: it needs at least 'cluster:' and 'sites:'")
		}
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	c.Hash = hex.EncodeToString(sum[:])
	return &c, nil
}

func (c *Cluster) applyDefaults() {
	if c.Mode == "" {
		c.Mode = "galera"
	}
	if c.Gossip.Preset == "" {
		c.Gossip.Preset = "lan" // its 500 ms probe timeout fits RTTs up to ~100 ms: a country or a continent
	}
	if c.Writer.Mode == "" {
		c.Writer.Mode = "single"
	}
	if c.Writer.Grace == 0 {
		c.Writer.Grace = 10 * time.Second
	}
	for i := range c.Sites {
		if c.Sites[i].NodeName == "" {
			c.Sites[i].NodeName = c.Sites[i].Name
		}
		if s := &c.Sites[i]; s.HAProxyState == "" && s.HAProxySocket != "" {
			s.HAProxyState = filepath.Join(filepath.Dir(s.HAProxySocket), "keyha-servers.state")
		}
	}
	if c.Galera.Provider == "" {
		c.Galera.Provider = "/usr/lib/galera/libgalera_smm.so"
	}
	if c.Galera.SSTMethod == "" {
		c.Galera.SSTMethod = "rsync"
	}
	if c.Galera.SlaveThreads == 0 {
		c.Galera.SlaveThreads = 2
	}
	if c.Island.MaxStale == 0 {
		c.Island.MaxStale = 10 * time.Minute
	}
	if c.Keystone.Database == "" {
		c.Keystone.Database = "keystone"
	}
	if c.Keystone.CacheExpiration == 0 {
		c.Keystone.CacheExpiration = time.Minute
	}
	if c.Keystone.SSLCert == "" && c.Keystone.SSLKey == "" {
		c.Keystone.SSLCert, c.Keystone.SSLKey = c.TLS.AgentCert, c.TLS.AgentKey
	}
	if c.Keystone.Processes == 0 {
		c.Keystone.Processes = 4
	}
	if c.HAProxy.CheckInterval == 0 {
		c.HAProxy.CheckInterval = time.Second
	}
	if c.HAProxy.Fall == 0 {
		c.HAProxy.Fall = 2
	}
	if c.HAProxy.Rise == 0 {
		c.HAProxy.Rise = 1
	}
	if c.Mode == "drbd" {
		if c.DRBD.Resource == "" {
			c.DRBD.Resource = "r0"
		}
		if c.DRBD.DemoteAfter == 0 {
			c.DRBD.DemoteAfter = 5 * time.Second
		}
		if c.DRBD.DemoteTakes == 0 {
			c.DRBD.DemoteTakes = 15 * time.Second
		}
		if c.DRBD.PromoteAfter == 0 {
			// Only the clock rule waits this long: with fencing that freezes I/O the
			// Secondary promotes as soon as a majority holds its fence (docs/drbd.md).
			c.DRBD.PromoteAfter = c.DRBD.DemoteAfter + c.DRBD.DemoteTakes + membership.NoticeSpread(c.Gossip.Preset, len(c.Sites)) + 5*time.Second
		}
		if c.DRBD.FenceTimeout == 0 {
			c.DRBD.FenceTimeout = 5 * time.Second
		}
		if c.DRBD.Device == "" {
			c.DRBD.Device = "/dev/drbd0"
		}
		if c.DRBD.FenceHandler == "" {
			c.DRBD.FenceHandler = "/usr/share/keyha/drbd/fence-peer"
		}
		if c.DRBD.PingInterval == 0 {
			c.DRBD.PingInterval = 2 * time.Second
		}
		if c.DRBD.PingTimeout == 0 {
			c.DRBD.PingTimeout = 500 * time.Millisecond
		}
		if c.DRBD.ResyncRate == "" {
			c.DRBD.ResyncRate = "100M"
		}
		if c.DRBD.WireGuardKey == "" {
			c.DRBD.WireGuardKey = "/etc/keyha/wireguard.key"
		}
	}
	d := DefaultAgent()
	if c.Agent.PollInterval == 0 {
		c.Agent.PollInterval = d.PollInterval
	}
	if c.Agent.PollTimeout == 0 {
		c.Agent.PollTimeout = d.PollTimeout
	}
	if c.Agent.StaleAfter == 0 {
		c.Agent.StaleAfter = d.StaleAfter
	}
	if c.Agent.DonorGrace == 0 {
		c.Agent.DonorGrace = d.DonorGrace
	}
	if c.Agent.StateDir == "" {
		c.Agent.StateDir = d.StateDir
	}
	if c.Agent.EvictStalledAfter == unsetDuration {
		c.Agent.EvictStalledAfter = d.EvictStalledAfter
	}
}

// Validate checks every key and names the first bad one with its value and what is allowed.
func (c *Cluster) Validate() error {
	if c.Name == "" {
		return errors.New("cluster: missing; give the cluster a name (it must match wsrep_cluster_name)")
	}
	switch c.Mode {
	case "galera", "drbd":
	default:
		return fmt.Errorf("mode: %q is not allowed; use galera or drbd", c.Mode)
	}
	switch c.Gossip.Preset {
	case "wan", "lan", "local":
	default:
		return fmt.Errorf("gossip.preset: %q is not allowed; use wan, lan or local", c.Gossip.Preset)
	}
	switch c.Writer.Mode {
	case "single", "all":
	default:
		return fmt.Errorf("writer.mode: %q is not allowed; use single or all", c.Writer.Mode)
	}
	if c.Credentials.Monitor == "" {
		return errors.New("credentials.monitor: missing; name the my.cnf-style file the agent polls with")
	}
	a := c.Agent
	if a.PollInterval < 50*time.Millisecond || a.PollInterval > time.Minute {
		return fmt.Errorf("agent.poll_interval: %s is out of range; use 50ms to 1m", a.PollInterval)
	}
	if a.PollTimeout <= 0 || a.PollTimeout > time.Minute {
		return fmt.Errorf("agent.poll_timeout: %s is out of range; use more than 0 and at most 1m", a.PollTimeout)
	}
	if a.DonorGrace < 0 || a.DonorGrace > 10*time.Minute {
		return fmt.Errorf("agent.donor_grace: %s is out of range; use 1ms (drain a donor at once) to 10m", a.DonorGrace)
	}
	if e := a.EvictStalledAfter; e != 0 && (e < 5*time.Second || e > time.Hour) {
		return fmt.Errorf("agent.evict_stalled_after: %s is out of range; use 5s to 1h, or 0s to never evict a node whose applier is stuck", e)
	}
	if a.StaleAfter < a.PollInterval+a.PollTimeout {
		return fmt.Errorf("agent.stale_after: %s is shorter than poll_interval + poll_timeout (%s); a healthy node would be judged stale",
			a.StaleAfter, a.PollInterval+a.PollTimeout)
	}
	if h := c.HAProxy; h.CheckInterval < 100*time.Millisecond || h.CheckInterval > time.Minute {
		return fmt.Errorf("haproxy.check_interval: %s is out of range; use 100ms to 1m", h.CheckInterval)
	}
	if h := c.HAProxy; h.Fall < 1 || h.Fall > 10 || h.Rise < 1 || h.Rise > 10 {
		return fmt.Errorf("haproxy.fall %d, haproxy.rise %d: use 1 to 10", h.Fall, h.Rise)
	}
	if len(c.Sites) == 0 {
		return errors.New("sites: empty; list at least one site")
	}
	names := map[string]bool{}
	for i, s := range c.Sites {
		key := fmt.Sprintf("sites[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s.name: missing", key)
		}
		if !validName(s.Name) {
			return fmt.Errorf("%s.name: %q is not allowed; use lower-case letters, digits and '-', starting with a letter", key, s.Name)
		}
		if names[s.Name] {
			return fmt.Errorf("%s.name: %q appears twice; site names must be unique", key, s.Name)
		}
		names[s.Name] = true
		key = fmt.Sprintf("sites[%d] (%s)", i, s.Name)
		if s.Witness && c.Mode != "drbd" {
			return fmt.Errorf("%s.witness: only mode drbd has witness sites (a Galera witness is garbd, a node of its own)", key)
		}
		if s.SQL == "" && !s.Witness {
			return fmt.Errorf("%s.sql: missing; give the node's SQL address as HOST:PORT", key)
		}
		for _, f := range []struct{ k, v string }{
			{"sql", s.SQL}, {"agent", s.Agent}, {"http", s.HTTP}, {"metrics", s.Metrics},
			{"gossip", s.GossipAt}, {"galera", s.Galera}, {"haproxy_db", s.HAProxyDB},
			{"keystone.api", s.Keystone.API}, {"keystone.front", s.Keystone.Front},
			{"swift.proxy", s.Swift.Proxy}, {"swift.object", s.Swift.Object}, {"swift.container", s.Swift.Container}, {"swift.account", s.Swift.Account},
		} {
			if f.v == "" {
				continue
			}
			if err := checkHostPort(f.v); err != nil {
				return fmt.Errorf("%s.%s: %q %v; use HOST:PORT, e.g. 10.0.0.1:3306", key, f.k, f.v, err)
			}
		}
		for _, m := range s.Keystone.Memcache {
			if err := checkHostPort(m); err != nil {
				return fmt.Errorf("%s.keystone.memcache: %q %v; use HOST:PORT, e.g. 10.0.0.1:11211", key, m, err)
			}
		}
		if s.Segment < 0 || s.Segment > 255 {
			return fmt.Errorf("%s.segment: %d is out of range; use 0 to 255 (gmcast.segment), one per site", key, s.Segment)
		}
	}
	if err := c.Galera.validate(); err != nil {
		return err
	}
	if i := c.Island; i.Enabled && (c.Mode == "drbd" || i.MaxStale < 10*time.Second || i.MaxStale > 24*time.Hour) {
		if c.Mode == "drbd" {
			return errors.New("island.enabled: Galera mode only (a DRBD Secondary has no database to read)")
		}
		return fmt.Errorf("island.max_stale: %s is out of range; use 10s to 24h", i.MaxStale)
	}
	// Gossip decides who may take writes and who has a majority: over a WAN nobody controls, a
	// member must prove it holds the cluster key.
	var err error
	if c.Mode == "drbd" {
		err = c.validateDRBD()
	} else {
		err = c.validateGalera()
	}
	if err != nil {
		return err
	}
	if t := c.TLS; t.On() && (t.AgentCert == "" || t.AgentKey == "" || t.OperatorCert == "" || t.OperatorKey == "") {
		return errors.New("tls: with a ca, give agent_cert, agent_key, operator_cert and operator_key too (keyha pki issue writes them)")
	}
	if t := c.TLS; t.On() && t.HAProxyPEM == "" {
		for _, s := range c.Sites {
			if s.Keystone.Front != "" {
				return fmt.Errorf("tls.haproxy_pem: missing; with a ca, site %s's Keystone front (keystone.front) serves TLS: "+
					"give the file holding each site's certificate and key ({site}.crt and {site}.key, concatenated)", s.Name)
			}
		}
	}
	if (c.Keystone.SSLCert == "") != (c.Keystone.SSLKey == "") {
		return errors.New("keystone: give both ssl_cert and ssl_key (the certificate Keystone serves and its key), or neither")
	}
	if c.Keystone.Processes < 1 {
		return fmt.Errorf("keystone.processes: %d; Keystone needs at least one uwsgi worker per site", c.Keystone.Processes)
	}
	if c.Gossip.KeyFile == "" && (c.Mode == "drbd" || c.Writer.Mode == "single" && len(c.Sites) > 1) {
		return fmt.Errorf("gossip.key_file: missing; in mode %s the agents' gossip decides %s, so it must be encrypted and "+
			"authenticated: create one with `head -c 32 /dev/urandom | base64 > /etc/keyha/cluster.key; chmod 600 /etc/keyha/cluster.key` "+
			"and copy it to every site", c.Mode, map[bool]string{true: "which site may be Primary", false: "the one writer"}[c.Mode == "drbd"])
	}
	return nil
}

// validateGalera refuses what would make an agent quietly wrong: a single writer that some site
// cannot hear about, and node names that the Galera view can never show apart.
func (c *Cluster) validateGalera() error {
	nodes := map[string]string{}
	for i, s := range c.Sites {
		key := fmt.Sprintf("sites[%d] (%s)", i, s.Name)
		if c.Writer.Mode == "single" && len(c.Sites) > 1 && s.GossipAt == "" {
			return fmt.Errorf("%s.gossip: missing; with writer.mode single every site's agent gossips to agree on the one writer "+
				"(without it this site would answer up as if every node took writes); give HOST:PORT, or set writer.mode: all", key)
		}
		if strings.ContainsAny(s.NodeName, " \t,") {
			return fmt.Errorf("%s.node_name: %q cannot be a wsrep_node_name; use the node's wsrep_node_name exactly (default: the site name)", key, s.NodeName)
		}
		if other, ok := nodes[s.NodeName]; ok {
			return fmt.Errorf("%s.node_name: %q is also %s's node name; the Galera view could not tell the two nodes apart: "+
				"give each site its node's own wsrep_node_name", key, s.NodeName, other)
		}
		nodes[s.NodeName] = s.Name
	}
	return nil
}

func (c *Cluster) validateDRBD() error {
	var data []string
	for _, s := range c.Sites {
		if !s.Witness {
			data = append(data, s.Name)
		}
		if s.GossipAt == "" {
			return fmt.Errorf("sites (%s).gossip: missing; in mode drbd every site's agent gossips, the witness's vote is how a site knows it has a majority", s.Name)
		}
	}
	if len(data) != 2 {
		return fmt.Errorf("sites: mode drbd needs exactly two data sites (the others witness: true), found %d: %v", len(data), data)
	}
	if len(c.Sites) < 3 {
		return errors.New("sites: mode drbd needs a third site with witness: true; with two sites neither can tell a dead peer from a cut link")
	}
	d := c.DRBD
	if notice := membership.NoticeSpread(c.Gossip.Preset, len(c.Sites)); d.PromoteAfter <= d.DemoteAfter+d.DemoteTakes+notice {
		return fmt.Errorf("drbd.promote_after: %s must exceed demote_after + demote_takes + %s (with gossip.preset %s the Primary may notice it lost its majority that much later than the Secondary notices it gone) = %s, "+
			"or without fencing that freezes I/O the old Primary could still take writes when the other side promotes on the clock; leave it unset for the default",
			d.PromoteAfter, notice, c.Gossip.Preset, d.DemoteAfter+d.DemoteTakes+notice)
	}
	if len(d.Stack) == 0 || d.Stack[0].Up == "" || d.Stack[0].Down == "" {
		return errors.New("drbd.stack: the first step must make the resource Primary (up: drbdadm primary r0) and Secondary (down: drbdadm secondary r0)")
	}
	for i, st := range d.Stack {
		if st.Name == "" || st.Up == "" && st.Down == "" {
			return fmt.Errorf("drbd.stack[%d]: needs a name and an up or down command", i)
		}
	}
	// DRBD counts ping-int in seconds (1-120) and ping-timeout in tenths (1-300).
	if d.PingInterval < time.Second || d.PingInterval > 120*time.Second || d.PingInterval%time.Second != 0 {
		return fmt.Errorf("drbd.ping_interval: %s; use whole seconds, 1s to 120s (DRBD's ping-int)", d.PingInterval)
	}
	if d.PingTimeout < 100*time.Millisecond || d.PingTimeout > 30*time.Second || d.PingTimeout%(100*time.Millisecond) != 0 {
		return fmt.Errorf("drbd.ping_timeout: %s; use tenths of a second, 100ms to 30s (DRBD's ping-timeout)", d.PingTimeout)
	}
	for _, s := range c.Sites {
		if s.Replication != "" {
			if s.Witness {
				return fmt.Errorf("sites (%s).replication: a witness holds no data and replicates nothing", s.Name)
			}
			if err := checkHostPort(s.Replication); err != nil {
				return fmt.Errorf("sites (%s).replication: %q %v; use HOST:PORT, e.g. 10.78.0.1:7789", s.Name, s.Replication, err)
			}
		}
		if k := s.WireGuardPublicKey; k != "" {
			if s.Witness {
				return fmt.Errorf("sites (%s).wireguard_public_key: a witness replicates nothing and needs no tunnel", s.Name)
			}
			if b, err := base64.StdEncoding.DecodeString(k); err != nil || len(b) != 32 {
				return fmt.Errorf("sites (%s).wireguard_public_key: %q is not a WireGuard public key (44 characters of base64, from `wg pubkey < KEY`)", s.Name, k)
			}
			if s.Replication == "" {
				return fmt.Errorf("sites (%s).wireguard_public_key: set, but replication is not: the tunnel's address is the replication address's host", s.Name)
			}
		}
	}
	if !filepath.IsAbs(d.WireGuardKey) {
		return fmt.Errorf("drbd.wireguard_key: %q is not an absolute path; name the file that holds each data site's own private key, e.g. /etc/keyha/wireguard.key", d.WireGuardKey)
	}
	return nil
}

// DataSites lists the sites that hold data (in mode drbd, the two that are not witnesses).
func (c *Cluster) DataSites() []string {
	var out []string
	for _, s := range c.Sites {
		if !s.Witness {
			out = append(out, s.Name)
		}
	}
	return out
}

func validName(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return len(s) <= 32
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("is not HOST:PORT")
	}
	if host == "" {
		return errors.New("has no host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return errors.New("has no port between 1 and 65535")
	}
	return nil
}

// Site returns the site called name, or an error listing the sites there are.
func (c *Cluster) Site(name string) (*Site, error) {
	for i := range c.Sites {
		if c.Sites[i].Name == name {
			return &c.Sites[i], nil
		}
	}
	return nil, fmt.Errorf("no site %q in %s; sites are %v", name, c.Path, c.SiteNames())
}

// SiteNames lists the sites in file order.
func (c *Cluster) SiteNames() []string {
	out := make([]string, len(c.Sites))
	for i, s := range c.Sites {
		out[i] = s.Name
	}
	return out
}
