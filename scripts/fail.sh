# shellcheck shell=bash
# Sourced by keyha's setup, lab and demo scripts: no failure may end one of them silently.
#
#   FAIL_PROG=setup; . scripts/fail.sh
#   step "install packages" "check that apt-get reaches Debian's archive: apt-get update"
#
# When a command fails under `set -e`, one line goes to stderr naming the step (the last `step`, or
# the function it failed in), the command, where, and what to do:
#   setup: step 'install packages' failed: apt-get install ... exited 100 (setup:57); check that ...
# `die` prints its own line. Both exit 3, which means "already said why": a script that runs another
# of these scripts stays silent when the inner one fails with 3, so each failure prints one line.
# KEYHA_TRACE=1 prints every command (set -x).

FAIL_STEP=""
FAIL_HINT=""
FAIL_REPORTED=3

# step NAME [HINT]: what the script does from here on, and what to do if it fails.
step() { FAIL_STEP=$1; FAIL_HINT=${2:-}; }

die() { echo "${FAIL_PROG:-keyha}: $*" >&2; exit "$FAIL_REPORTED"; }

fail_report() {
  local rc=$1 cmd=$2 where=$3 fn=$4
  # Only the script's own shell acts. In a subshell bash's own rules stay as they were (a ( ) list
  # exits under set -e, a $(...) goes on, as without this trap); the main shell then reports the
  # subshell's failure if it fails the script.
  [[ $BASHPID == "$$" ]] || return 0
  # An inner keyha script already said why.
  ((rc == FAIL_REPORTED)) && exit "$rc"
  local what=${FAIL_STEP:-$fn}
  [[ -n $what && $what != main ]] || what="start"
  local hint=${FAIL_HINT:-"fix the cause above, or rerun with KEYHA_TRACE=1 to see every command"}
  echo "${FAIL_PROG:-keyha}: step '$what' failed: '$cmd' exited $rc ($where); $hint" >&2
  exit "$FAIL_REPORTED"
}

set -eEuo pipefail
trap 'fail_report $? "$BASH_COMMAND" "$(basename "${BASH_SOURCE[0]}"):$LINENO" "${FUNCNAME[0]:-main}"' ERR
[[ ${KEYHA_TRACE:-0} != 1 ]] || set -x
