# Swift in the lab (scripts/lab up --keystone --swift, or KEYHA_LAB_SWIFT=1), sourced by
# scripts/lab: one global Swift cluster on top of the sites' Keystones, as a multi-site Swift is
# deployed. Every site runs, on its Keystone host (the site's namespace; in the DRBD lab the host
# beside the VM), a proxy and its own account, container and object servers. The rings have one
# region per site (lngs r1, bari r2, padova r3) and three replicas, so one per site; each proxy
# reads and writes its own region first (read and write affinity), and validates tokens at its
# own site's Keystone front (keystonemiddleware's authtoken), with an in-process token cache.
# Ports: the proxy 8080, object 6200, container 6201, account 6202 (clear of X11's 6000-6063).
# Swift reads /etc/swift/swift.conf at a fixed path: each server runs in a mount namespace of its
# own where the lab's swift folder is bound over /etc/swift, so the host's /etc is not touched.
# shellcheck shell=bash

PORT_SWIFT=8080 PORT_SWIFT_OBJECT=6200 PORT_SWIFT_CONTAINER=6201 PORT_SWIFT_ACCOUNT=6202

swift_on() { [[ ${KEYHA_LAB_SWIFT:-0} == 1 || -f $DIR/swift.on ]]; }

# swift_section SITE: the site's swift: entry of the cluster file, so that keyha render's port
# plan and firewall open Swift's ports.
swift_section() {
  local ip; ip=$(ks_ip "$1")
  printf '    swift:\n      proxy: %s:%s\n      object: %s:%s\n      container: %s:%s\n      account: %s:%s\n' \
    "$ip" $PORT_SWIFT "$ip" $PORT_SWIFT_OBJECT "$ip" $PORT_SWIFT_CONTAINER "$ip" $PORT_SWIFT_ACCOUNT
}
swift_region() { local i; for i in "${!SITES[@]}"; do [[ ${SITES[$i]} != "$1" ]] || echo $((i + 1)); done; }

# swift_rings: swift.conf (the cluster's hash path prefix and suffix) and the three rings.
swift_rings() {
  local etc=$DIR/swift/etc kind port s
  rm -rf "$etc"; mkdir -p "$etc"
  (umask 077; printf '[swift-hash]\nswift_hash_path_prefix = %s\nswift_hash_path_suffix = %s\n' \
    "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$etc/swift.conf")
  for kind in account container object; do
    case $kind in account) port=$PORT_SWIFT_ACCOUNT ;; container) port=$PORT_SWIFT_CONTAINER ;; object) port=$PORT_SWIFT_OBJECT ;; esac
    swift-ring-builder "$etc/$kind.builder" create 8 3 1 >/dev/null || die "swift-ring-builder create $kind failed"
    for s in "${SITES[@]}"; do
      swift-ring-builder "$etc/$kind.builder" add "r$(swift_region "$s")z1-$(ks_ip "$s"):$port/d1" 100 >/dev/null ||
        die "swift-ring-builder add $s to the $kind ring failed"
    done
    # Exit 1 is a warning (balance), 2 an error.
    local rc=0; swift-ring-builder "$etc/$kind.builder" rebalance >"$DIR/swift/rebalance-$kind.log" 2>&1 || rc=$?
    ((rc < 2)) || die "swift-ring-builder rebalance $kind failed: see $DIR/swift/rebalance-$kind.log"
  done
}

# swift_service_user: Keystone's user for the proxies' authtoken (swift, admin role in project
# service), and a region per site in the catalog whose identity endpoint is that site's Keystone
# front: authtoken finds Keystone through the catalog, and each proxy must validate tokens at its
# own site (region_name), not wherever the bootstrap's one region points. Made through lngs's
# front; passwords read from files, never on a command line.
swift_service_user() {
  (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20 >"$DIR/secrets/swift.pw")
  local s fronts=()
  for s in "${SITES[@]}"; do fronts+=("$s=https://${IP[$s]}:$PORT_KEYSTONE/v3"); done
  python3 - "https://${IP[${SITES[0]}]}:$PORT_KEYSTONE/v3" "$DIR/tls/ca.crt" "$DIR/secrets/keystone-admin.pw" "$DIR/secrets/swift.pw" "${fronts[@]}" <<'PYEOF' ||
import json, ssl, sys, urllib.request
url, ca, admin_pw, swift_pw = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip(), open(sys.argv[4]).read().strip()
fronts = dict(a.split("=", 1) for a in sys.argv[5:])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # the front serves the site's certificate (its name, not its address)
def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return r.headers.get("X-Subject-Token"), json.loads(r.read() or b"{}")
auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": admin_pw}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
tok, _ = call("POST", "/auth/tokens", auth)
_, p = call("POST", "/projects", {"project": {"name": "service", "domain_id": "default"}}, tok)
_, u = call("POST", "/users", {"user": {"name": "swift", "domain_id": "default", "password": swift_pw, "default_project_id": p["project"]["id"]}}, tok)
_, r = call("GET", "/roles?name=admin", None, tok)
call("PUT", "/projects/%s/users/%s/roles/%s" % (p["project"]["id"], u["user"]["id"], r["roles"][0]["id"]), None, tok)
_, svc = call("GET", "/services?type=identity", None, tok)
for site, front in fronts.items():
    call("POST", "/regions", {"region": {"id": site}}, tok)
    for iface in ("public", "internal", "admin"):
        call("POST", "/endpoints", {"endpoint": {"service_id": svc["services"][0]["id"], "interface": iface, "region_id": site, "url": front}}, tok)
PYEOF
    die "making Keystone's swift user failed (see the Python error above)"
}

# swift_conf SITE: the site's four server configs (0600: the proxy's holds the swift user's password).
swift_conf() {
  local s=$1 ip d=$DIR/$1/swift r front
  ip=$(ks_ip "$s"); r=$(swift_region "$s")
  front=https://${IP[$s]}:$PORT_KEYSTONE/v3
  mkdir -p "$d/srv/d1"
  local kind port
  for kind in account container object; do
    case $kind in account) port=$PORT_SWIFT_ACCOUNT ;; container) port=$PORT_SWIFT_CONTAINER ;; object) port=$PORT_SWIFT_OBJECT ;; esac
    cat >"$d/$kind-server.conf" <<EOF
[DEFAULT]
bind_ip = $ip
bind_port = $port
workers = 0
user = root
swift_dir = /etc/swift
devices = $d/srv
mount_check = false
log_name = $kind-$s

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
  done
  (umask 077; cat >"$d/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = $ip
bind_port = $PORT_SWIFT
workers = 1
user = root
swift_dir = /etc/swift
log_name = proxy-$s

[pipeline:main]
pipeline = catch_errors healthcheck proxy-logging authtoken keystoneauth proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# This site's region first, for reads and for writes (handoffs at other sites when its own node
# is down); each object still gets a replica at every site.
sorting_method = affinity
read_affinity = r$r=100
write_affinity = r$r
write_affinity_node_count = 2 * replicas

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $front
auth_url = $front
cafile = $DIR/tls/ca.crt
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
region_name = $s
username = swift
password = $(cat "$DIR/secrets/swift.pw")
delay_auth_decision = false

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging
# Not even a token's first 16 characters (Swift's default) in the log.
reveal_sensitive_prefix = 0
EOF
  )
}

# swift_start SITE: its servers in the site's namespace, each with the lab's swift folder over
# /etc/swift in a mount namespace of its own, logging to $DIR/SITE/swift/KIND.log (--verbose:
# Swift logs to syslog otherwise, and the lab runs none).
swift_start() {
  local s=$1 d=$DIR/$1/swift kind
  for kind in account container object proxy; do
    # shellcheck disable=SC2016 # $1 and $@ are the inner shell's
    ip netns exec "$(ns "$s")" unshare -m sh -c 'mount --bind "$1" /etc/swift && shift && exec "$@"' swift-lab \
      "$DIR/swift/etc" "swift-$kind-server" "$d/$kind-server.conf" --verbose </dev/null >>"$d/$kind.log" 2>&1 9>&- &
    echo $! >"$DIR/$s/swift-$kind.lab-pid"
  done
}

# swift_wait SITE TIMEOUT_S: the proxy answers /healthcheck.
swift_wait() {
  local s=$1 deadline=$(($(date +%s) + $2)) ip; ip=$(ks_ip "$s")
  until curl -sf --noproxy '*' -m 2 -o /dev/null "http://$ip:$PORT_SWIFT/healthcheck"; do
    (($(date +%s) < deadline)) || { tail -n 20 "$DIR/$s/swift/proxy.log" >&2 || true; die "Swift's proxy at $s did not answer in $2 s (logs: $DIR/$s/swift/)"; }
    sleep 0.3
  done
}

setup_swift() {
  command -v swift-proxy-server >/dev/null || die "swift is not installed: run scripts/setup (KEYHA_SETUP_KEYSTONE=1, the default)"
  [[ -d /etc/swift ]] || mkdir -p /etc/swift # the mount point the servers bind the lab's folder over
  local s t0; t0=$(now)
  swift_rings
  swift_service_user
  for s in "${SITES[@]}"; do swift_conf "$s"; swift_start "$s"; done
  for s in "${SITES[@]}"; do swift_wait "$s" 60; done
  echo "lab: Swift at every site ($(elapsed "$t0") s)"
}
