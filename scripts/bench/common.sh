# shellcheck shell=bash
# Sourced by the bench scripts (after they cd to the repository's root): helpers they share.

# json FILE EXPR: EXPR, a Python expression over the parsed file d, printed.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# now: seconds since the epoch, with fractions; secs START: seconds since START, one decimal.
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
