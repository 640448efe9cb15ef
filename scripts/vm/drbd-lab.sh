# The DRBD lab (scripts/lab up --mode drbd), sourced by scripts/lab. Two data sites, lngs and
# bari, are VMs (Debian's kernel, DRBD 8.4, resource r0 on a virtio disk kept as a file here,
# ext4, MariaDB, HAProxy, keyha's agent); padova is a namespace with only an agent (the witness)
# and an HAProxy. All three sit on the lab bridge with the site addresses of the Galera lab, so
# the lab verbs mean the same: kill = the VM dies, partition = nftables on the bridge.
# shellcheck shell=bash

DRBD_SITES=(lngs bari)
DRBD_WITNESS=padova
# With --keystone, each data site's Keystone runs on a host of its own beside the VM (its Python
# stack does not fit the VMs): the namespace kh-SITE at this address, its database reached through
# the VM's HAProxy. The witness's Keystone runs in its own namespace, as in the Galera lab.
declare -A KS_IP=([lngs]=10.77.0.11 [bari]=10.77.0.12)

drbd_mode() { [[ -f $DIR/mode && $(cat "$DIR/mode") == drbd ]]; }
drbd_vm() { [[ $1 == lngs || $1 == bari ]]; }
# ks_host SITE: the site is a DRBD data site with a Keystone host beside its VM; ks_ip SITE is
# the address the site's Keystone serves on.
ks_host() { drbd_mode && drbd_vm "$1" && keystone_on; }
ks_ip() { if drbd_mode && drbd_vm "$1"; then echo "${KS_IP[$1]}"; else echo "${IP[$1]}"; fi; }
qemu_pid() { local p; p=$(pidof_file "$DIR/$1/qemu.pid"); if ours "$p" "$DIR/$1/disk.img"; then echo "$p"; fi; }

# vmsh SITE COMMANDS: run in the site's VM, print what it prints.
vmsh() { printf '%s\n' "$2" | socat -t "${3:-60}" -T "${3:-60}" - "TCP:${IP[$1]}:7000"; }

drbd_write_cluster_file() {
  [[ -f $DIR/secrets/drbd.secret ]] ||
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DIR/secrets/drbd.secret")
  # Each data site's WireGuard key pair: the public key goes into the cluster file (keyha render
  # writes each site's wg0.conf from it), the private key stays a file of its own.
  command -v wg >/dev/null || die "wireguard-tools is not installed: run scripts/setup"
  local k
  for k in "${DRBD_SITES[@]}"; do
    [[ -f $DIR/secrets/wg-$k.key ]] || (umask 077; wg genkey >"$DIR/secrets/wg-$k.key")
  done
  cat <<EOF >"$DIR/keyha.yaml"
# keyha cluster file written by scripts/lab up --mode drbd: identical at every site.
cluster: $CLUSTER
mode: drbd
credentials:
  monitor: $DIR/secrets/monitor.cnf
  admin: $DIR/secrets/admin.cnf
  app: $DIR/secrets/app.cnf
  keystone: $DIR/secrets/keystone.cnf
agent:
  poll_interval: 250ms
  poll_timeout: 1s
  stale_after: 2s
  state_dir: $DIR/state
gossip:
  preset: lan
  key_file: $DIR/secrets/gossip.key
keystone:
  processes: 3   # uwsgi workers per site (each loads Keystone: ~20 s of CPU here)
drbd:
  resource: r0
  demote_after: 3s      # a Primary that hears no majority stops taking writes after this
  demote_takes: 20s     # bound on its demotion: database, unmount, drbdadm secondary (up to 12 s
                        # measured under load on the emulated VMs; 1.5 s without)
  # promote_after: unset. With fencing that freezes I/O the Secondary promotes on the fence;
  # the clock (default 3s + 20s + 23s, the spread of lan gossip's noticing, + 5s) is the guard
  # for resources without it.
  fence_timeout: 4s
  # The resource file keyha render writes (r0.res): DRBD on the VMs' virtio disk.
  disk: /dev/vda
  secret_file: $DIR/secrets/drbd.secret
  fence_handler: /etc/keyha/fence-peer
  wireguard_key: /run/keyha-wireguard.key   # each VM copies its own there (init-drbdsite)
  # ping_interval, ping_timeout: keyha's defaults (2s, 500ms) unless KEYHA_LAB_DRBD_PING_* say
$([[ -z ${KEYHA_LAB_DRBD_PING_INTERVAL:-} ]] || echo "  ping_interval: $KEYHA_LAB_DRBD_PING_INTERVAL")
$([[ -z ${KEYHA_LAB_DRBD_PING_TIMEOUT:-} ]] || echo "  ping_timeout: $KEYHA_LAB_DRBD_PING_TIMEOUT")
  stack:
    - name: drbd
      up: drbdadm primary r0
      down: drbdadm secondary r0
      timeout: 10s
    - name: filesystem
      up: mount -t ext4 -o noatime /dev/drbd0 /srv/db
      down: umount /srv/db
      timeout: 10s
    - name: database
      up: /etc/keyha/db-start
      down: /etc/keyha/db-stop
      timeout: 60s
EOF
  if [[ -f $DIR/tls/ca.crt ]]; then
    cat <<EOF >>"$DIR/keyha.yaml"
tls:
  ca: $DIR/tls/ca.crt
  agent_cert: $DIR/tls/{site}.crt
  agent_key: $DIR/tls/{site}.key
  operator_cert: $DIR/tls/operator-lab.crt
  operator_key: $DIR/tls/operator-lab.key
  haproxy_pem: $DIR/tls/{site}.pem
EOF
  fi
  lab_firewall_section >>"$DIR/keyha.yaml"
  echo "sites:" >>"$DIR/keyha.yaml"
  local s
  for s in "${SITES[@]}"; do
    local ip=${IP[$s]}
    {
      echo "  - name: $s"
      if [[ $s == "$DRBD_WITNESS" ]]; then
        echo "    witness: true"
        echo "    haproxy_socket: $DIR/$s/haproxy.sock"
      else
        echo "    sql: $ip:$PORT_SQL"
        echo "    haproxy_socket: /run/haproxy.sock"
        echo "    replication: $(wg_ip "$s"):7789   # inside WireGuard"
        echo "    wireguard_public_key: $(wg pubkey <"$DIR/secrets/wg-$s.key")"
      fi
      echo "    priority: ${PRIO[$s]}"
      echo "    agent: $ip:$PORT_AGENT"
      echo "    http: $ip:$PORT_HTTP"
      echo "    metrics: $ip:$PORT_METRICS"
      echo "    gossip: $ip:$PORT_GOSSIP"
      echo "    haproxy_db: $ip:$PORT_HAPROXY"
      if keystone_on; then
        echo "    keystone:"
        echo "      api: $(ks_ip "$s"):$PORT_KEYSTONE_API"
        echo "      front: $ip:$PORT_KEYSTONE"
        echo "      fernet_keys: $DIR/$s/keystone/fernet-keys"
        echo "      credential_keys: $DIR/$s/keystone/credential-keys"
      fi
      if swift_on; then swift_section "$s"; fi
    } >>"$DIR/keyha.yaml"
  done
}

# The cluster PKI: the agents serve TLS, HAProxy verifies them, MariaDB takes clients over TLS only
# (deploy/drbd/my.cnf). The DRBD lab always runs it: its my.cnf is the deployed one.
drbd_pki() {
  local s f
  "$KEYHA" pki init --dir "$DIR/tls" --cluster "$CLUSTER" >/dev/null
  for s in "${SITES[@]}"; do "$KEYHA" --config "$DIR/keyha.yaml" pki issue --dir "$DIR/tls" --site "$s" >/dev/null; done
  "$KEYHA" pki issue --dir "$DIR/tls" --operator lab >/dev/null
  # HAProxy's TLS bind (the Keystone front) takes the certificate and key in one file.
  for s in "${SITES[@]}"; do (umask 077; cat "$DIR/tls/$s.crt" "$DIR/tls/$s.key" >"$DIR/tls/$s.pem"); done
  drbd_write_cluster_file
  # The lab's mariadb client reaches the Primary through HAProxy too: TLS, not verified by name.
  for f in "$DIR"/secrets/*.cnf; do printf 'ssl-ca=%s\n' "$DIR/tls/ca.crt" >>"$f"; done
}

# The tunnel's addresses: DRBD replicates between them, inside WireGuard.
wg_ip() { echo "10.78.0.${IP[$1]##*.}"; }

# What the VMs carry besides the binaries: the cluster file and secrets at the host's paths, and
# /etc/keyha with DRBD's config, MariaDB's, the database scripts and the seed datadir.
drbd_vmroot() {
  local root=$DIR/vmroot etc=$DIR/vmroot/etc/keyha s
  rm -rf "$root"; mkdir -p "$etc" "$root$DIR/secrets" "$root$DIR/state"
  cp "$DIR/keyha.yaml" "$root$DIR/keyha.yaml"
  cp -a "$DIR/secrets/." "$root$DIR/secrets/"
  # The cluster PKI at the cluster file's paths (agents, HAProxy's checks, the fence-peer handler)
  # and each data site's certificate for MariaDB (init-drbdsite installs its own as node.*).
  mkdir -p "$root$DIR/tls" "$etc/tls"
  cp -a "$DIR/tls/." "$root$DIR/tls/"
  cp "$DIR/tls/ca.crt" "$etc/tls/ca.crt"
  for s in "${DRBD_SITES[@]}"; do cp "$DIR/tls/$s.crt" "$DIR/tls/$s.key" "$etc/tls/"; done
  # The resource is what keyha render writes for a data site (the same at both): protocol C,
  # resource-and-stonith fencing through keyha's handler, the peers' shared secret, replication
  # inside WireGuard, whose wg0.conf render writes too; each VM takes its own private key.
  for s in "${DRBD_SITES[@]}"; do
    render_site "$s"
    [[ -f $DIR/$s/wg0.conf ]] || die "keyha render wrote no wg0.conf for $s (sites[].wireguard_public_key)"
    cp "$DIR/$s/wg0.conf" "$etc/wg0-$s.conf"
    (umask 077; cp "$DIR/secrets/wg-$s.key" "$etc/wg-$s.key")
  done
  (umask 077; { echo 'global { usage-count no; }'; cat "$DIR/${DRBD_SITES[0]}/r0.res"; } >"$etc/drbd.conf")
  # What an operator installs in /etc/keyha at each data site (docs/drbd.md): the same files.
  # shellcheck disable=SC2153 # ROOT is scripts/lab's, which sources this file
  cp "$ROOT/deploy/drbd/my.cnf" "$ROOT/deploy/drbd/db-start" "$ROOT/deploy/drbd/db-stop" "$ROOT/deploy/drbd/fence-peer" "$etc/"
  cp "$DIR/keyha.yaml" "$etc/keyha.yaml"
  chmod 755 "$etc/db-start" "$etc/db-stop" "$etc/fence-peer"
  # Each data site's HAProxy config and its start state (every server DOWN until its checks pass),
  # as rendered; init-drbdsite puts the state where the config names it.
  for s in "${DRBD_SITES[@]}"; do
    cp "$DIR/$s/haproxy.cfg" "$etc/haproxy-$s.cfg"
    cp "$DIR/$s/keyha-servers.state" "$etc/haproxy-$s.state"
  done
  cp "$DIR/seed.tar.gz" "$etc/seed.tar.gz"
}

# The seed datadir: system tables and keyha's users, made on the host by a throwaway mariadbd.
drbd_seed() {
  local d=$DIR/seed
  rm -rf "$d"; mkdir -p "$d/data"; chown -R mysql:mysql "$d"
  mariadb-install-db --no-defaults --user=mysql --datadir="$d/data" --skip-test-db --innodb-log-file-size=32M >"$d/install-db.log" 2>&1 ||
    die "mariadb-install-db failed: see $d/install-db.log"
  mariadbd --no-defaults --user=mysql --datadir="$d/data" --socket="$d/sock" --skip-networking --innodb-log-file-size=32M \
    --pid-file="$d/pid" --log-error="$d/err.log" </dev/null >/dev/null 2>&1 9>&- &
  local p=$! _
  for _ in $(seq 1 300); do [[ -S $d/sock ]] && break; sleep 0.1; done
  [[ -S $d/sock ]] || die "the seed mariadbd did not start: see $d/err.log"
  {
    echo "DROP USER IF EXISTS ''@'localhost';"
    echo "CREATE USER keyha_lab@'%' IDENTIFIED BY '$(secret_pw lab)';"
    echo "GRANT ALL PRIVILEGES ON *.* TO keyha_lab@'%' WITH GRANT OPTION;"
    # keyha's and Keystone's accounts, with their least privileges (DRBD mode: no Galera's).
    "$KEYHA" --config "$DIR/keyha.yaml" grants --keystone "$DIR/secrets/keystone.cnf"
  } | mariadb --no-defaults -S "$d/sock" -u root
  mariadb-admin --no-defaults -S "$d/sock" -u root shutdown
  while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  tar -C "$d" -czf "$DIR/seed.tar.gz" data
}

drbd_boot() { # SITE [init]
  local s=$1 init=${2:-0} mac share=() ks=""
  mac=$([[ $s == lngs ]] && echo 52:54:00:77:00:01 || echo 52:54:00:77:00:02)
  # The site's Keystone key repositories, shared with the VM (9p) at the same path: its agent
  # reads and replaces them (keyha keystone keys check|sync) as it would on the Keystone host.
  if keystone_on; then
    mkdir -p "$DIR/$s/keystone"
    share=(-virtfs "local,path=$DIR/$s/keystone,mount_tag=keystone,security_model=passthrough,id=ks")
    ks=" keyha.keystone=$DIR/$s/keystone"
  fi
  ip link show "kh-v$s" >/dev/null 2>&1 || { ip tuntap add "kh-v$s" mode tap; ip link set "kh-v$s" master "$BRIDGE" up; }
  qemu-system-x86_64 -m 768 -smp 1 -display none -no-reboot -monitor none -kernel "$(cat "$DIR/kernel")/vmlinuz" -initrd "$DIR/drbd.img" \
    -append "console=ttyS0 quiet panic=-1 keyha.site=$s keyha.ip=${IP[$s]}/24 keyha.init=$init keyha.config=$DIR/keyha.yaml$ks" \
    "${share[@]}" -drive "file=$DIR/$s/disk.img,format=raw,if=virtio,cache=none" \
    -netdev "tap,id=n0,ifname=kh-v$s,script=no,downscript=no" -device "e1000,netdev=n0,mac=$mac" \
    -serial "file:$DIR/$s/console.log" </dev/null >>"$DIR/$s/qemu.log" 2>&1 9>&- &
  echo $! >"$DIR/$s/qemu.pid"
}

drbd_wait_vm() { # SITE TIMEOUT_S
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    [[ $(vmsh "$1" 'echo up' 2 2>/dev/null) == up ]] && return 0
    [[ -n $(qemu_pid "$1") ]] || { tail -n 20 "$DIR/$1/console.log" >&2; die "the VM of $1 died while booting"; }
    sleep 0.3
  done
  tail -n 20 "$DIR/$1/console.log" >&2
  die "the VM of $1 did not boot in $2 s (console: $DIR/$1/console.log)"
}

drbd_wait_proc() { # SITE PATTERN TIMEOUT_S
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    vmsh "$1" 'cat /proc/drbd' 5 2>/dev/null | grep -q "$2" && return 0
    sleep 0.3
  done
  vmsh "$1" 'cat /proc/drbd; dmesg | tail -n 15' 5 >&2 || true
  die "$1 never showed '$2' in /proc/drbd"
}

drbd_start_witness() {
  local s=$DRBD_WITNESS
  site_firewall "$s" # renders every file of the site (keyha render), haproxy.cfg too
  start_agent "$s"
  start_haproxy "$s"
}

# drbd_wan PROFILE: the WAN of the DRBD lab. No router VM here: the data sites are VMs whose own
# kernel has netem, so each delays what it sends to each other site (half the round trip between
# the two VMs, all of it towards the witness, whose namespace cannot delay). Loss likewise: on the
# link between the VMs, each drops its share of what it sends; on a link to the witness, only what
# the VM sends is dropped (TCP's acknowledgements, and so both directions' throughput, suffer).
drbd_wan() {
  mkdir -p "$DIR/wan"
  wan_profile "$1" >"$DIR/wan/links.profile"
  cp "$DIR/wan/links.profile" "$DIR/wan/links"
  echo "$1" >"$DIR/wan/profile"; echo 0 >"$DIR/wan/overhead_ms"
  drbd_wan_apply "$DIR/wan/links"
}

# drbd_wan_apply LINKS_FILE [VM...]: each VM's netem from the links file (wan set and reset, and a
# VM booted again, which starts without it). Every VM running, when none is named. Qdiscs already
# there are changed in place, as a WAN's loss would come: rebuilding them would drop what is
# queued, DRBD's replication too, a fault of its own.
drbd_wan_apply() {
  local links=$1 vm a b r j l; shift
  local vms=("$@")
  if ((${#vms[@]} == 0)); then
    for vm in "${DRBD_SITES[@]}"; do [[ -z $(qemu_pid "$vm") ]] || vms+=("$vm"); done
  fi
  for vm in "${vms[@]}"; do
    local add="/sbin/tc qdisc add dev eth0 root handle 1: prio bands 4 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"$'\n' change="" band=2
    while read -r a b r j l; do
      local other=""
      [[ $a == "$vm" ]] && other=$b
      [[ $b == "$vm" ]] && other=$a
      [[ -n $other ]] || continue
      local d=$r jit=$j
      if drbd_vm "$other"; then d=$(awk -v r="$r" 'BEGIN{printf "%.3f", r/2}'); jit=$(awk -v r="$j" 'BEGIN{printf "%.3f", r/2}'); fi
      local nm="netem delay ${d}ms"
      [[ $j == 0 || $j == 0.0 ]] || nm+=" ${jit}ms"
      nm+=" loss ${l}% limit 10000"
      add+="/sbin/tc qdisc add dev eth0 parent 1:$band handle $((band * 10)): $nm"$'\n'
      add+="/sbin/tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst ${IP[$other]}/32 flowid 1:$band"$'\n'
      change+="/sbin/tc qdisc change dev eth0 parent 1:$band handle $((band * 10)): $nm"$'\n'
      band=$((band + 1))
    done <"$links"
    local out
    out=$(vmsh "$vm" "exec 2>&1; set -e
if /sbin/tc qdisc show dev eth0 | grep -q 'qdisc prio 1:'; then
${change}else
${add}fi
echo WAN-DONE" 20)
    [[ $out == *WAN-DONE* ]] || die "netem in the VM of $vm failed: $out"
  done
}

drbd_up() { # [WAN_PROFILE]
  for b in qemu-system-x86_64 socat busybox haproxy mariadbd mariadb-install-db nft; do
    command -v "$b" >/dev/null || die "$b is not installed: run scripts/setup (as root) first"
  done
  [[ -x /usr/lib/drbd/drbdsetup-84 ]] || die "drbd-utils is not installed: run scripts/setup first"
  [[ -x $KEYHA ]] || die "$KEYHA is missing: run make build first (the DRBD lab runs keyha in its VMs)"
  local t0 s; t0=$(now)
  echo drbd >"$DIR/mode"
  # Network: the bridge, the witness's namespace; the VMs' taps join the bridge when they boot.
  step "make the DRBD lab network" "scripts/lab down, then up again"
  bridge_up
  site_ns "$DRBD_WITNESS"
  write_secrets
  for s in "${SITES[@]}"; do mkdir -p "$DIR/$s"; done
  drbd_write_cluster_file
  step "create the cluster PKI" "see the error above"
  drbd_pki
  step "seed the datadir and build the VMs' image" "see the lines above; scripts/setup brings what the image needs"
  drbd_seed
  drbd_vmroot
  # shellcheck disable=SC2153 # ROOT is scripts/lab's, which sources this file
  "$ROOT/scripts/vm/image" kernel >"$DIR/kernel"
  KEYHA_BIN=$KEYHA KEYHA_VM_ROOT=$DIR/vmroot "$ROOT/scripts/vm/image" initramfs drbdsite "$DIR/drbd.img"
  echo "lab: seed datadir and VM image ready ($(elapsed "$t0") s)"
  step "boot the DRBD VMs" "see $DIR/SITE/console.log"
  for s in "${DRBD_SITES[@]}"; do
    truncate -s 256M "$DIR/$s/disk.img"
    drbd_boot "$s" 1
  done
  drbd_start_witness
  for s in "${DRBD_SITES[@]}"; do drbd_wait_vm "$s" 120; done
  echo "lab: VMs booted ($(elapsed "$t0") s)"
  if [[ -n ${1:-} ]]; then drbd_wan "$1"; echo "lab: WAN profile $1 in the VMs' netem"; fi
  # Both disks are blank: skip the initial sync, then lay the filesystem and the seed datadir on
  # the device through lngs (replicated to bari as it is written).
  step "connect and seed r0" "scripts/lab vm lngs 'cat /proc/drbd; dmesg | tail'"
  drbd_wait_proc lngs 'cs:Connected' 60
  vmsh lngs 'drbdadm -- --clear-bitmap new-current-uuid r0' >/dev/null
  drbd_wait_proc bari 'ds:UpToDate/UpToDate' 60
  local out
  out=$(vmsh lngs 'exec 2>&1; drbdadm primary r0 && /sbin/mke2fs -q -F -t ext4 /dev/drbd0 && mount -t ext4 /dev/drbd0 /srv/db &&
    tar -C /srv/db -xzf /etc/keyha/seed.tar.gz && umount /srv/db && drbdadm secondary r0 && echo seeded' 120 2>&1)
  [[ $out == *seeded* ]] || die "laying the filesystem on lngs failed: $out $(vmsh lngs 'dmesg | tail -n 5' 5)"
  echo "lab: r0 UpToDate on both, ext4 and the seed datadir on it ($(elapsed "$t0") s)"
  # The first Primary is chosen like any planned move: through the agents.
  step "promote lngs" "see $DIR/first-switchover.log and $DIR/SITE/agent.log"
  "$KEYHA" --config "$DIR/keyha.yaml" drbd switchover --to lngs --timeout 120s >"$DIR/first-switchover.log" 2>&1 ||
    { cat "$DIR/first-switchover.log" >&2; die "the first promotion of lngs failed"; }
  drbd_wait_routed 60 || die "HAProxy does not route to lngs at every site"
  if keystone_on; then
    step "set up Keystone" "see $DIR/SITE/keystone/"
    for s in "${DRBD_SITES[@]}"; do site_ns "$s" "${KS_IP[$s]}"; done
    setup_keystone
    drbd_wait_routed 60 || die "HAProxy does not route to lngs at every site after Keystone's start"
  fi
  if swift_on; then step "set up Swift" "see $DIR/SITE/swift/"; setup_swift; fi
  local over="one bridge"; wan_on && over="WAN profile $(cat "$DIR/wan/profile")"
  echo "lab: up in $(elapsed "$t0") s: DRBD r0 Primary at lngs, bari Secondary, padova the witness, over $over; dir $DIR"
  echo "lab: cluster file $DIR/keyha.yaml (export KEYHA_CONFIG=$DIR/keyha.yaml)"
}

# drbd_wait_routed TIMEOUT_S: every site's HAProxy answers SQL.
drbd_wait_routed() {
  local deadline=$((SECONDS + $1)) s ok
  while ((SECONDS < deadline)); do
    ok=1
    for s in "${SITES[@]}"; do
      mariadb --defaults-extra-file="$DIR/secrets/app.cnf" -h "${IP[$s]}" -P "$PORT_HAPROXY" --connect-timeout=2 -e 'SELECT 1' >/dev/null 2>&1 || ok=0
    done
    ((ok)) && return 0
    sleep 0.5
  done
  return 1
}

drbd_kill() {
  local s=$1
  if drbd_vm "$s"; then
    local p; p=$(qemu_pid "$s")
    [[ -n $p ]] || die "the VM of $s is not running: nothing to kill"
    kill -9 "$p"
    while ours "$p" "$DIR/$s/disk.img"; do sleep 0.05; done
    echo "lab: killed the VM of $s (pid $p)"
  else
    stop_agent "$s" KILL
    echo "lab: killed the witness agent at $s"
  fi
}

drbd_start() {
  local s=$1
  if drbd_vm "$s"; then
    [[ -z $(qemu_pid "$s") ]] || die "the VM of $s is already running"
    drbd_boot "$s" 0
    drbd_wait_vm "$s" 120
    ! wan_on || drbd_wan_apply "$DIR/wan/links" "$s"
    echo "lab: the VM of $s booted"
  else
    start_agent "$s"
    echo "lab: the witness agent at $s started"
  fi
}

# drbd_agent_kill SITE: kill -9 of a data site's agent; the VM's supervisor starts it again, as
# systemd's Restart= would.
drbd_agent_kill() {
  local out
  # shellcheck disable=SC2016 # expanded by the VM's shell
  out=$(vmsh "$1" 'p=$(cat /run/keyha-agent.pid) && kill -0 "$p" && kill -9 "$p" && echo "KILLED $p"' 10 2>&1) || true
  [[ $out == *KILLED* ]] || die "agent-kill: no agent runs in the VM of $1: $out"
  echo "lab: killed $1's agent (pid ${out##* }); its supervisor starts it again"
}

# drbd_haproxy_restart SITE: what systemctl restart haproxy does at a data site: stop, then start
# as at boot (the VM's haproxy-start: every server DOWN until its checks pass). The daemon's parent
# in the VM is its init shell, which never reaps: the old HAProxy is gone when it is a zombie.
drbd_haproxy_restart() {
  local out
  # shellcheck disable=SC2016 # expanded by the VM's shell
  out=$(vmsh "$1" 'exec 2>&1; p=$(cat /run/haproxy.pid); kill "$p"
while [ -e "/proc/$p" ] && [ "$(cut -d" " -f3 "/proc/$p/stat")" != Z ]; do sleep 0.05; done
haproxy-start && echo RESTARTED' 30 2>&1) || true
  [[ $out == *RESTARTED* ]] || die "haproxy-restart: HAProxy in the VM of $1 did not start again: $out"
  echo "lab: $1's HAProxy restarted"
}

# drbd_partition SITE [OTHER]: cut SITE off from every other site, or from OTHER only. The host
# still reaches it (out-of-band access).
drbd_partition() {
  local s=$1 only=${2:-} t others=()
  for t in "${SITES[@]}"; do
    [[ $t == "$s" ]] && continue
    [[ -z $only || $t == "$only" ]] || continue
    others+=("${IP[$t]}")
    ! ks_host "$t" || others+=("${KS_IP[$t]}")
  done
  ((${#others[@]})) || die "partition: no site to cut $s from"
  local set; set=$(IFS=,; echo "${others[*]}")
  if drbd_vm "$s"; then
    nft list table bridge "keyha_partition_$s" >/dev/null 2>&1 && die "$s is already cut off: scripts/lab heal $s first"
    nft -f - <<EOF
table bridge keyha_partition_$s {
  chain forward { type filter hook forward priority 0; policy accept;
    iifname "kh-v$s" ip daddr { $set } drop; oifname "kh-v$s" ip saddr { $set } drop; }
}
EOF
    # The site's Keystone host goes with it.
    ! ks_host "$s" || ns_cut "$s" "$set"
  else
    ns_cut "$s" "$set"
  fi
  echo "lab: $s cut off from ${others[*]}"
}

drbd_heal() {
  local s=$1
  if drbd_vm "$s"; then
    nft delete table bridge "keyha_partition_$s" 2>/dev/null || die "$s is not cut off: nothing to heal"
    ! ks_host "$s" || ns_heal "$s"
  else
    ns_heal "$s"
  fi
  echo "lab: $s healed"
}

# drbd_settle [TIMEOUT_S]: wait until the data sites are connected with both disks UpToDate, so
# that the next fault finds a side that may take over (the nemesis's repairs end with it). A split
# brain that a healed cut left is resolved as the operator would: keyha drbd split-brain names the
# side a majority's fence says took over, and the other side's writes (never acknowledged) go.
drbd_settle() {
  local deadline=$((SECONDS + ${1:-300})) s p sb victim
  while ((SECONDS < deadline)); do
    p=""
    for s in lngs bari; do
      [[ -n $(qemu_pid "$s") ]] || die "settle: the VM of $s is not running (scripts/lab start $s)"
      p+="$(vmsh "$s" "sed -n 's/^ *0: //p' /proc/drbd" 5 2>/dev/null) "
    done
    if [[ $(grep -o 'cs:Connected ro:[A-Za-z]*/[A-Za-z]* ds:UpToDate/UpToDate' <<<"$p" | wc -l) == 2 ]]; then
      echo "lab: DRBD connected, both disks UpToDate"
      return 0
    fi
    if [[ $p == *cs:StandAlone* ]]; then
      for s in lngs bari; do
        sb=$(vmsh "$s" "/bin/keyha --config $DIR/keyha.yaml drbd split-brain --resource r0" 30 2>/dev/null) || true
        victim=$(sed -n 's/.*resolve with --discard \([a-z]*\).*/\1/p' <<<"$sb")
        [[ $sb == *"split brain: true"* && -n $victim ]] && break
        victim=""
      done
      if [[ -n $victim ]]; then
        echo "lab: split brain; discarding $victim's writes since the split, as keyha drbd split-brain advises"
        for s in "$victim" $([[ $victim == lngs ]] && echo bari || echo lngs); do
          vmsh "$s" "/bin/keyha drbd split-brain --resource r0 --site $s --discard $victim; echo exit \$?" 60 | grep -q 'exit 0' ||
            die "settle: resolving the split brain at $s failed"
        done
      fi
    fi
    sleep 1
  done
  die "settle: DRBD not connected and UpToDate on both sides after ${1:-300} s: $p"
}

drbd_status() {
  printf '%-8s %-11s %-8s %s\n' SITE ADDRESS VM DRBD
  local s
  for s in "${SITES[@]}"; do
    if drbd_vm "$s"; then
      local p d=-; p=$(qemu_pid "$s")
      [[ -z $p ]] || d=$(vmsh "$s" "sed -n 's/^ *0: //p' /proc/drbd" 3 2>/dev/null || echo no-answer)
      printf '%-8s %-11s %-8s %s\n' "$s" "${IP[$s]}" "${p:-dead}" "$d"
    else
      printf '%-8s %-11s %-8s %s\n' "$s" "${IP[$s]}" witness "-"
    fi
  done
}

drbd_info() {
  local first=1 s
  printf '{"mode": "drbd", "config": "%s", "dir": "%s", "sites": {' "$DIR/keyha.yaml" "$DIR"
  for s in "${SITES[@]}"; do
    ((first)) || printf ', '
    first=0
    printf '"%s": {"haproxy_db": "%s:%s", "agent": "%s:%s", "http": "%s:%s", "metrics": "%s:%s"' \
      "$s" "${IP[$s]}" "$PORT_HAPROXY" "${IP[$s]}" "$PORT_AGENT" "${IP[$s]}" "$PORT_HTTP" "${IP[$s]}" "$PORT_METRICS"
    if drbd_vm "$s"; then printf ', "sql": "%s:%s", "vm_shell": "%s:7000"' "${IP[$s]}" "$PORT_SQL" "${IP[$s]}"; else printf ', "witness": true'; fi
    if keystone_on; then printf ', "keystone": "%s:%s", "keystone_host": "%s"' "${IP[$s]}" "$PORT_KEYSTONE" "$(ks_ip "$s")"; fi
    if swift_on; then printf ', "swift": "%s:%s"' "$(ks_ip "$s")" "$PORT_SWIFT"; fi
    printf '}'
  done
  printf '}'
  if keystone_on; then printf ', "keystone_admin_password": "%s"' "$(cat "$DIR/secrets/keystone-admin.pw")"; fi
  printf ', "wan": %s}\n' "$(wan_json)"
}
