#!/usr/bin/env bash
# stop_local_slurm.sh - stop the daemons that start_local_slurm.sh started.
# (Adapted from the project's reference scripts; see docs/slurm.md.)
# Only PIDs recorded in $SLURM_LOCAL_DIR/run/*.pid are signalled, and only if
# /proc/PID/comm still names the expected daemon. munged/mariadbd that were
# already running before start_local_slurm.sh (no PID file) are left alone.
#
# Usage: stop_local_slurm.sh [--slurm-only] [--only NAME,...] [--purge]
#   --slurm-only : stop slurmd, slurmctld, slurmdbd; keep munged and mariadbd
#   --only L     : stop only these daemons (of slurmd, slurmctld, slurmdbd,
#                  mariadbd, munged); the test uses it to stop just what it started
#   --purge      : afterwards delete $SLURM_LOCAL_DIR (job state, logs) and
#                  the /etc/slurm/*.conf files this script family wrote
set -uo pipefail

D="${SLURM_LOCAL_DIR:-/tmp/slurm_local}"
MARKER="# managed-by: start_local_slurm.sh"
SLURM_ONLY=0; PURGE=0; ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --slurm-only) SLURM_ONLY=1 ;;
    --only) ONLY="$2"; shift ;;
    --only=*) ONLY="${1#--only=}" ;;
    --purge) PURGE=1 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
wanted() { # wanted NAME -> 0 if NAME is to be stopped
  if [ -n "$ONLY" ]; then [[ ",$ONLY," == *",$1,"* ]]; return; fi
  case "$1" in mariadbd|munged) [ "$SLURM_ONLY" = 0 ] ;; *) return 0 ;; esac
}
export PATH="/usr/sbin:/sbin:$PATH"
T0=$(date +%s%N)
say() { local ms=$(( ($(date +%s%N) - T0) / 1000000 ))
        printf '[stop_local_slurm %3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }

stop_one() { # stop_one NAME PIDFILE
  local name="$1" pf="$2" p
  [ -s "$pf" ] || { say "$name: no pid file, skipping"; return 0; }
  p=$(cat "$pf")
  if [ -z "$p" ] || [ ! -d "/proc/$p" ] || [ "$(cat /proc/$p/comm 2>/dev/null)" != "$name" ]; then
    say "$name: pid ${p:-?} not running (stale pid file)"; rm -f "$pf"; return 0
  fi
  kill -TERM "$p"
  # a zombie (State Z, waiting for PID 1 to reap it) counts as stopped
  running() { [ -d "/proc/$p" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; }
  for _ in $(seq 1 300); do running || break; sleep 0.1; done
  if running && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$name" ]; then
    say "$name: pid $p ignored SIGTERM for 30s, sending SIGKILL"
    kill -KILL "$p"
  fi
  rm -f "$pf"
  say "$name: stopped pid $p"
}

# Cancel jobs of our cluster first, so no slurmstepd outlives slurmd.
if wanted slurmd && [ -s "$D/run/slurmctld.pid" ] && [ -d "/proc/$(cat "$D/run/slurmctld.pid")" ]; then
  ids=$(squeue -h -o %i 2>/dev/null || true)
  if [ -n "$ids" ]; then
    say "cancelling jobs: $(echo $ids)"
    scancel $ids 2>/dev/null || true
    for _ in $(seq 1 40); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.25; done
  fi
fi

# order matters: slurmd before slurmctld, slurmdbd before its database, munged last
for name in slurmd slurmctld slurmdbd mariadbd munged; do
  wanted "$name" && stop_one "$name" "$D/run/$name.pid"
done

if [ "$PURGE" = 1 ]; then
  for f in /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf; do
    [ -e "$f" ] && grep -q "^$MARKER" "$f" && rm -f "$f" && say "removed $f"
  done
  case "$D" in /tmp/*|/var/tmp/*) rm -rf "$D"; say "removed $D" ;;
    *) say "not removing $D (outside /tmp)";; esac
fi
exit 0
