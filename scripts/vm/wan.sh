# shellcheck shell=bash
# The lab's WAN (scripts/lab up --wan): sourced by scripts/lab, which defines SITES, IP, DIR, ns,
# die and now/elapsed.
#
# A router VM runs Debian's kernel, whose netem the host kernel lacks. Each site's namespace gets
# a second link, wan0, which is a tap of the VM moved into the namespace; routes /32 send the
# site's traffic to the other sites over wan0, so it crosses the VM, while the host still reaches
# every site directly on the lab bridge. The sites keep their addresses: the VM bridges its site
# NICs and delays, jitters and drops per direction of each pair with netem (scripts/vm/init-router).
#
# State under $DIR/wan: profile (its name), links (the settings in force, one pair per line:
# "A B rtt_ms jitter_ms loss_pct"), qemu.lab-pid, console.log.

WAN_MGMT_IP=10.77.0.250 WAN_CTL_PORT=7000
WAN_PROFILES=$ROOT/scripts/vm/wan-profiles

wan_on() { [[ -f $DIR/wan/links ]]; }

# wan_profile NAME|FILE prints the profile's pairs, validated.
wan_profile() {
  local f=$1
  [[ -f $f ]] || f=$WAN_PROFILES/$1
  [[ -f $f ]] || die "unknown WAN profile '$1': a file, or one of: $(cd "$WAN_PROFILES" && echo *)"
  local a b rtt jit loss n=0
  while read -r a b rtt jit loss; do
    [[ -z $a || $a == \#* ]] && continue
    { site_ok "$a" && site_ok "$b" && [[ $a != "$b" ]]; } || die "WAN profile $f: '$a $b' is not a pair of sites (${SITES[*]})"
    { wan_num "$rtt" && wan_num "$jit" && wan_num "$loss"; } || die "WAN profile $f: $a $b: want numbers: rtt_ms jitter_ms loss_pct"
    echo "$a $b $rtt $jit $loss"
    n=$((n + 1))
  done <"$f"
  ((n == ${#SITES[@]} * (${#SITES[@]} - 1) / 2)) || die "WAN profile $f: $n pairs, want every pair of ${SITES[*]} once"
}

wan_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

wan_index() { local i; for i in "${!SITES[@]}"; do [[ ${SITES[$i]} == "$1" ]] && { echo "$i"; return; }; done; }

# wan_ctl runs shell commands in the router VM; fails unless each succeeded.
wan_ctl() {
  local script="" c out
  for c in "$@"; do script+="$c || echo \"WAN-FAIL: $c\""$'\n'; done
  out=$(printf '%secho WAN-DONE\n' "$script" | socat -t 15 -T 15 - "TCP:$WAN_MGMT_IP:$WAN_CTL_PORT" 2>&1) || true
  [[ $out == *WAN-DONE* && $out != *WAN-FAIL* ]] || die "the WAN router did not apply the change: ${out:-no answer}"
}

# wan_tc A B RTT JITTER LOSS: the two netem qdiscs of a pair, half the round trip each way, less
# what the router itself adds (measured at start), so the profile's RTT is the sites' RTT.
wan_tc() {
  local a b; a=$(wan_index "$1"); b=$(wan_index "$2")
  local d; d=$(awk -v r="$3" -v o="$(cat "$DIR/wan/overhead_ms" 2>/dev/null || echo 0)" 'BEGIN{d = (r - o) / 2; if (d < 0) d = 0; printf "%.3f", d}')
  local nm="netem delay ${d}ms"
  [[ $4 == 0 || $4 == 0.0 ]] || nm+=" ${4}ms"
  nm+=" loss ${5}% limit 10000"
  echo "/sbin/tc qdisc change dev eth$b parent 1:$((a + 1)) handle $((a + 10)): $nm"
  echo "/sbin/tc qdisc change dev eth$a parent 1:$((b + 1)) handle $((b + 10)): $nm"
}

wan_apply() { # LINKS_FILE
  # The DRBD lab has no router: its VMs' own netem (scripts/vm/drbd-lab.sh).
  if drbd_mode; then drbd_wan_apply "$1"; return; fi
  local cmds=() a b r j l
  while read -r a b r j l; do mapfile -t -O "${#cmds[@]}" cmds < <(wan_tc "$a" "$b" "$r" "$j" "$l"); done <"$1"
  wan_ctl "${cmds[@]}"
}

wan_up() { # PROFILE
  local profile=$1 t0 s i
  t0=$(now)
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86 is not installed: run scripts/setup"
  command -v socat >/dev/null || die "socat is not installed: run scripts/setup"
  command -v busybox >/dev/null || die "busybox-static is not installed: run scripts/setup"
  step "start the WAN router VM" "see $DIR/wan/console.log"
  mkdir -p "$DIR/wan"
  wan_profile "$profile" >"$DIR/wan/links.profile"
  echo "$profile" >"$DIR/wan/profile"
  local kernel; kernel=$("$ROOT/scripts/vm/image" kernel)
  "$ROOT/scripts/vm/image" initramfs router "$DIR/wan/router.img"
  local ips=() net=()
  for i in "${!SITES[@]}"; do
    s=${SITES[$i]}; ips+=("${IP[$s]}")
    ip tuntap add "kh-t$s" mode tap
    net+=(-netdev "tap,id=n$i,ifname=kh-t$s,script=no,downscript=no" -device "e1000,netdev=n$i,mac=52:54:00:77:01:0$((i + 1))")
  done
  ip tuntap add kh-tmgmt mode tap
  ip link set kh-tmgmt master "$BRIDGE" up
  net+=(-netdev "tap,id=nm,ifname=kh-tmgmt,script=no,downscript=no" -device "e1000,netdev=nm,mac=52:54:00:77:01:ff")
  local cmdline
  cmdline="console=ttyS0 quiet panic=-1 keyha.ips=$(IFS=,; echo "${ips[*]}") keyha.mgmt=$WAN_MGMT_IP/24"
  # Software emulation (no KVM here); 192 MB is plenty for a router.
  qemu-system-x86_64 -m 192 -smp 1 -display none -no-reboot -monitor none \
    -kernel "$kernel/vmlinuz" -initrd "$DIR/wan/router.img" -append "$cmdline" \
    "${net[@]}" -serial "file:$DIR/wan/console.log" </dev/null >"$DIR/wan/qemu.log" 2>&1 9>&- &
  echo $! >"$DIR/wan/qemu.lab-pid"
  # qemu holds the taps open from here on: each moves into its site, where it is wan0.
  local deadline=$((SECONDS + 20))
  # Attached, a tap shows the flags qemu set on it (vnet_hdr); ours were made without.
  until (($(ip tuntap show 2>/dev/null | grep '^kh-t' | grep -c 'vnet_hdr') == ${#SITES[@]} + 1)); do
    alive "$(cat "$DIR/wan/qemu.lab-pid")" || die "qemu stopped (log: $DIR/wan/qemu.log)"
    ((SECONDS < deadline)) || die "qemu did not attach its taps in 20 s (log: $DIR/wan/qemu.log)"
    sleep 0.1
  done
  for s in "${SITES[@]}"; do
    local n; n=$(ns "$s")
    ip link set "kh-t$s" netns "$n"
    ip -n "$n" link set "kh-t$s" name wan0
    ip -n "$n" link set wan0 up
    local t
    for t in "${SITES[@]}"; do
      [[ $t == "$s" ]] || ip -n "$n" route add "${IP[$t]}/32" dev wan0 src "${IP[$s]}"
    done
  done
  deadline=$((SECONDS + 90))
  until [[ $(echo 'echo up' | socat -t 3 -T 3 - "TCP:$WAN_MGMT_IP:$WAN_CTL_PORT" 2>/dev/null) == up ]]; do
    alive "$(cat "$DIR/wan/qemu.lab-pid")" || die "the WAN router VM died (log: $DIR/wan/qemu.log, $DIR/wan/console.log)"
    ((SECONDS < deadline)) || die "the WAN router VM did not answer in 90 s (console: $DIR/wan/console.log)"
    sleep 0.5
  done
  # The router's own round trip (emulated NICs, no KVM): ~1 ms here.
  ip netns exec "$(ns "${SITES[0]}")" busybox ping -c 10 -i 0.1 -q "${IP[${SITES[1]}]}" 2>/dev/null |
    awk -F/ '/min\/avg/ {print $4}' >"$DIR/wan/overhead_ms"
  [[ -s $DIR/wan/overhead_ms ]] || die "no ping through the WAN router from ${SITES[0]} to ${SITES[1]} (console: $DIR/wan/console.log)"
  cp "$DIR/wan/links.profile" "$DIR/wan/links"
  wan_apply "$DIR/wan/links"
  echo "lab: WAN router up, profile $profile ($(elapsed "$t0") s)"
}

# wan_set SITE[:SITE] [rtt=MS] [jitter=MS] [loss=PCT]: one pair, or every pair of one site.
wan_set() {
  wan_on || die "the lab runs without a WAN: scripts/lab up --wan"
  local sel=${1:-}; shift || true
  [[ -n $sel ]] || die "wan set needs SITE or SITE:SITE, then rtt=MS jitter=MS loss=PCT"
  local a=${sel%%:*} b=""
  [[ $sel == *:* ]] && b=${sel#*:}
  need_site "$a"; [[ -z $b ]] || need_site "$b"
  local rtt="" jit="" loss="" kv
  for kv in "$@"; do
    case $kv in
      rtt=*) rtt=${kv#rtt=} ;;
      jitter=*) jit=${kv#jitter=} ;;
      loss=*) loss=${kv#loss=} ;;
      *) die "wan set: '$kv': want rtt=MS, jitter=MS or loss=PCT" ;;
    esac
    wan_num "${kv#*=}" || die "wan set: '$kv' is not a number"
  done
  [[ -n $rtt$jit$loss ]] || die "wan set: nothing to change: give rtt=MS, jitter=MS or loss=PCT"
  awk -v a="$a" -v b="$b" -v r="$rtt" -v j="$jit" -v l="$loss" '{
      hit = (b == "") ? ($1 == a || $2 == a) : (($1 == a && $2 == b) || ($1 == b && $2 == a))
      if (hit) { if (r != "") $3 = r; if (j != "") $4 = j; if (l != "") $5 = l }
      print }' "$DIR/wan/links" >"$DIR/wan/links.new"
  wan_apply "$DIR/wan/links.new"
  mv "$DIR/wan/links.new" "$DIR/wan/links"
  wan_show
}

wan_show() {
  wan_on || { echo "no WAN: the sites share one bridge"; return; }
  printf '%-16s %8s %10s %8s   (profile %s; the router itself adds %s ms, taken off the delays)\n' PAIR RTT_MS JITTER_MS LOSS_% \
    "$(cat "$DIR/wan/profile")" "$(cat "$DIR/wan/overhead_ms")"
  local a b r j l
  while read -r a b r j l; do printf '%-16s %8s %10s %8s\n' "$a-$b" "$r" "$j" "$l"; done <"$DIR/wan/links"
}

wan_json() { # for scripts/lab info
  wan_on || { printf 'null'; return; }
  local first=1 a b r j l
  printf '{"profile": "%s", "router_overhead_ms": %s, "links": [' "$(cat "$DIR/wan/profile")" "$(cat "$DIR/wan/overhead_ms")"
  while read -r a b r j l; do
    ((first)) || printf ', '
    first=0
    printf '{"a": "%s", "b": "%s", "rtt_ms": %s, "jitter_ms": %s, "loss_pct": %s}' "$a" "$b" "$r" "$j" "$l"
  done <"$DIR/wan/links"
  printf ']}'
}

wan_cmd() { # scripts/lab wan VERB ...
  need_up
  local verb=${1:-show}; shift || true
  case $verb in
    show) wan_show ;;
    set) wan_set "$@" ;;
    reset) wan_on || die "the lab runs without a WAN"; wan_apply "$DIR/wan/links.profile"; cp "$DIR/wan/links.profile" "$DIR/wan/links"; wan_show ;;
    *) die "wan: unknown verb '$verb' (show, set, reset)" ;;
  esac
}
