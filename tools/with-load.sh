#!/usr/bin/env bash
# Run a command while N busy loops compete for the CPUs, e.g.
#   tools/with-load.sh "$(( 2 * $(nproc) ))" -- make test
# to check that the test suite passes on an oversubscribed machine (3x load: 2*nproc loops).
# The loops are killed when the command ends, fails or this script is interrupted, and the
# command's exit status is returned.
set -euo pipefail

usage() {
  echo "usage: $0 N -- COMMAND [ARGS...]   (N busy loops while COMMAND runs)" >&2
  exit 2
}
[ $# -ge 3 ] && [ "$2" = "--" ] && [[ $1 =~ ^[0-9]+$ ]] || usage
n=$1
shift 2

loops=()
stop_loops() {
  if [ ${#loops[@]} -gt 0 ]; then
    kill "${loops[@]}" 2>/dev/null || true
    wait "${loops[@]}" 2>/dev/null || true # reap them: none outlives this script
  fi
}
trap stop_loops EXIT
trap 'exit 130' INT # exit (running the EXIT trap) rather than die with the loops running
trap 'exit 143' TERM

for ((i = 0; i < n; i++)); do
  while :; do :; done &
  loops+=("$!")
done

status=0
"$@" || status=$?
exit "$status"
