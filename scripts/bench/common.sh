# shellcheck shell=bash
# Sourced by the bench scripts (after they cd to the repository's root): helpers they share.

# json FILE EXPR: EXPR, a Python expression over the parsed file d, printed.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# now: seconds since the epoch, with fractions; secs START: seconds since START, one decimal.
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# hold_lab: keep the lab this bench brings up for itself, for as long as the bench runs. It takes
# the lock test packages take (internal/labtest.Lock), so a `go test` of a lab package started
# meanwhile waits for the bench instead of taking its lab down under it (once, a load package run
# beside the nemesis bench did, and the bench's faults failed on "no lab is up"). A holder process
# keeps the lock and ends with the bench: the lab's daemons, started by the bench, never inherit it.
hold_lab() {
  mkdir -p /run/keyha-lab
  local flag="/run/keyha-lab/bench.$$.held"
  rm -f "$flag"
  # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
  flock -n /run/keyha-lab/tests.lock sh -c 'touch "$1"; while kill -0 "$2" 2>/dev/null; do sleep 1; done; rm -f "$1"' \
    sh "$flag" "$$" </dev/null >/dev/null 2>&1 &
  local holder=$!
  until [[ -e $flag ]]; do
    kill -0 "$holder" 2>/dev/null ||
      { echo "bench: the lab is in use (a test package or another bench holds /run/keyha-lab/tests.lock); run one at a time" >&2; exit 1; }
    sleep 0.1
  done
}
