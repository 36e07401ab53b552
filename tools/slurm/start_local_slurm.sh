#!/usr/bin/env bash
# start_local_slurm.sh - install and start a REAL single-node SLURM cluster on
# loopback (127.0.0.1) on a Debian 12 machine, as root, without systemd.
# Used by tests/test_slurm.py; also handy to try profiles/slurm by hand.
# (Adapted from the project's reference scripts; see docs/slurm.md.)
#
# Idempotent: re-running it skips the install step and leaves running
# daemons alone. All daemons it starts get a PID file under
# $SLURM_LOCAL_DIR/run/ ; stop_local_slurm.sh stops exactly those PIDs.
#
# Usage: start_local_slurm.sh [--no-dbd] [--auth munge|none] [--partitions P1,P2] [--smoke]
#   default        : munge auth + slurmdbd + MariaDB (unix socket only),
#                    so `sacct` works and snakemake-executor-plugin-slurm
#                    can use its default status command (sacct).
#   --no-dbd       : no accounting; `sacct` fails ("Slurm accounting storage
#                    is disabled"), so snakemake MUST be run with
#                    `--slurm-status-command squeue` or it waits forever.
#   --auth none    : AuthType=auth/none + CredType=cred/none (no munged).
#                    Supported by Slurm 22.05 (Debian 12).
#   --partitions L : comma-separated partition names, all on the one node;
#                    the first is the default (default: debug). The test uses
#                    the names profiles/slurm asks for (e.g. cpu,gpu).
#   --smoke        : run srun/sbatch (and sacct) smoke tests at the end.
# Env:
#   SLURM_LOCAL_DIR        state/log/pid dir      (default /tmp/slurm_local)
#   SLURM_LOCAL_FORCE_CONF=1  overwrite a /etc/slurm/slurm.conf we did not write
#
# Network: slurmctld/slurmd/slurmdbd listen on their ports (6817/6818/6819) on
# all interfaces (Slurm 22.05 has no bind-address option), but every address
# in the config is 127.0.0.1/localhost; MariaDB runs with --skip-networking.
set -euo pipefail

DBD=1
AUTH=munge
SMOKE=0
PARTITIONS=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --no-dbd) DBD=0 ;;
    --auth) AUTH="$2"; shift ;;
    --auth=*) AUTH="${1#--auth=}" ;;
    --partitions) PARTITIONS="$2"; shift ;;
    --partitions=*) PARTITIONS="${1#--partitions=}" ;;
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n 2,30p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
case "$AUTH" in munge|none) ;; *) echo "--auth must be munge or none" >&2; exit 2 ;; esac
[[ "$PARTITIONS" =~ ^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$ ]] \
  || { echo "--partitions must be comma-separated names: $PARTITIONS" >&2; exit 2; }

D="${SLURM_LOCAL_DIR:-/tmp/slurm_local}"
CLUSTER=localcluster
MARKER="# managed-by: start_local_slurm.sh"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
T0=$(date +%s%N)
log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 ))
        printf '[start_local_slurm %3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- install
PKGS=(slurmctld slurmd slurm-client)
NEED=(slurmctld slurmd sinfo sbatch squeue sacct)
[ "$AUTH" = munge ] && { PKGS+=(munge); NEED+=(munged munge unmunge); }
[ "$DBD" = 1 ] && { PKGS+=(slurmdbd mariadb-server mariadb-client); NEED+=(slurmdbd mariadbd mariadb); }
missing=0
for b in "${NEED[@]}"; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1
done
if [ "$missing" = 1 ]; then
  log "installing: ${PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep maintainer scripts from starting services (matters only on hosts
  # with a running init); only add a policy-rc.d if there is none.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT   # removed even if the install fails
  fi
  APT_OPTS=(-o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Dpkg::Use-Pty=0)
  apt-get "${APT_OPTS[@]}" update -qq
  apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  log "install done"
else
  log "packages already installed"
fi
export PATH="/usr/sbin:/sbin:$PATH"

mkdir -p "$D"/{etc,state,spool,log,run}
chmod 755 "$D" "$D"/{etc,state,spool,log,run}

# ---------------------------------------------------------------- helpers
# alive NAME PIDFILE -> 0 if the PID in PIDFILE is alive and is NAME
alive() {
  local p
  [ -s "$2" ] || return 1
  p=$(cat "$2")
  [ -n "$p" ] && [ -d "/proc/$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$1" ]
}
try_wait() { # try_wait SECONDS CMD... -> 0 once CMD succeeds, 1 on timeout
  local n=$(( $1 * 4 )); shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}
wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local s="$1" what="$2"; shift 2
  try_wait "$s" "$@" || die "timeout (${s}s) waiting for $what"
}

# ---------------------------------------------------------------- config
NODE_LINE=$(slurmd -C | head -1)                 # NodeName=<host> CPUs=.. RealMemory=..
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")
MEM=$(( MEM * 90 / 100 ))                        # keep headroom, else node DRAINs
NODE_LINE=$(sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost/' \
                -e "s/RealMemory=[0-9]*/RealMemory=$MEM/" <<<"$NODE_LINE")
if [ "$AUTH" = munge ]; then AUTHT=auth/munge; CREDT=cred/munge; else AUTHT=auth/none; CREDT=cred/none; fi
if [ "$DBD" = 1 ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

PART_LINES=""
DEFAULT=YES
for p in ${PARTITIONS//,/ }; do
  [ -n "$PART_LINES" ] && PART_LINES+=$'\n'
  PART_LINES+="PartitionName=$p Nodes=localhost Default=$DEFAULT MaxTime=INFINITE State=UP"
  DEFAULT=NO
done

cat > "$D/etc/slurm.conf.new" <<EOF
$MARKER (state dir: $D)
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=$AUTHT
CredType=$CREDT
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
$ACCT
# keep sbatch --comment (the plugin writes rule_<name>_wildcards_<...>) in sacct
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
# snakemake-executor-plugin-slurm uses squeue only if MinJobAge >= 3*init_seconds
MinJobAge=300
# The SLURM executor plugin runs scontrol whenever snakemake starts, even for local runs: with
# the daemons stopped after the tests, the default 10 s timeout delayed every start by 10-40 s.
MessageTimeout=2
$NODE_LINE State=UNKNOWN
$PART_LINES
EOF

# The config MUST live at the compiled-in default /etc/slurm/slurm.conf:
# the snakemake SLURM plugin deletes every SLURM_* variable (incl. SLURM_CONF)
# inside the job before calling srun.
mkdir -p /etc/slurm
CONF_CHANGED=0
if [ -e /etc/slurm/slurm.conf ] && ! grep -q "^$MARKER" /etc/slurm/slurm.conf \
   && [ "${SLURM_LOCAL_FORCE_CONF:-0}" != 1 ]; then
  die "/etc/slurm/slurm.conf exists and was not written by this script (set SLURM_LOCAL_FORCE_CONF=1)"
fi
if ! cmp -s "$D/etc/slurm.conf.new" /etc/slurm/slurm.conf; then
  CONF_CHANGED=1
  if alive slurmctld "$D/run/slurmctld.pid" || alive slurmd "$D/run/slurmd.pid" \
     || alive slurmdbd "$D/run/slurmdbd.pid"; then
    log "config changed while daemons run -> stopping them first"
    "$SCRIPT_DIR/stop_local_slurm.sh" --slurm-only
  fi
  cp "$D/etc/slurm.conf.new" /etc/slurm/slurm.conf
fi
cp /etc/slurm/slurm.conf "$D/etc/slurm.conf"
log "slurm.conf written (changed=$CONF_CHANGED): $NODE_LINE"

if [ "$DBD" = 1 ]; then
  umask 077
  cat > /etc/slurm/slurmdbd.conf <<EOF
$MARKER
AuthType=$AUTHT
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurm_local_pw
EOF
  umask 022
  chmod 600 /etc/slurm/slurmdbd.conf
fi

# ---------------------------------------------------------------- munged
if [ "$AUTH" = munge ]; then
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munged already answering (not started by us unless $D/run/munged.pid)"
  else
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    wait_for 10 munged sh -c 'munge -n | unmunge'
    cp /run/munge/munged.pid "$D/run/munged.pid"
    log "munged started (pid $(cat "$D/run/munged.pid"))"
  fi
fi

# ---------------------------------------------------------------- mariadb + slurmdbd
if [ "$DBD" = 1 ]; then
  if mariadb -e 'select 1' >/dev/null 2>&1; then
    log "mariadb already answering on its socket"
  else
    mkdir -p /run/mysqld; chown mysql:root /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    # --skip-networking: unix socket only. PID/log must be writable by mysql.
    setsid mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
      --pid-file=/run/mysqld/mysqld.pid --log-error=/run/mysqld/mariadb.err \
      --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
      </dev/null >/dev/null 2>&1 &
    wait_for 60 mariadb mariadb -e 'select 1'
    cp /run/mysqld/mysqld.pid "$D/run/mariadbd.pid"
    log "mariadbd started (pid $(cat "$D/run/mariadbd.pid"))"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm_local_pw';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  if alive slurmdbd "$D/run/slurmdbd.pid"; then
    log "slurmdbd already running"
  else
    slurmdbd
    wait_for 60 slurmdbd sacctmgr -n list cluster
    log "slurmdbd started (pid $(cat "$D/run/slurmdbd.pid"))"
  fi
fi

# ---------------------------------------------------------------- slurmctld + slurmd
if alive slurmctld "$D/run/slurmctld.pid"; then
  log "slurmctld already running"
else
  slurmctld
  wait_for 60 slurmctld sh -c 'scontrol ping | grep -q "is UP"'
  log "slurmctld started (pid $(cat "$D/run/slurmctld.pid"))"
fi
if alive slurmd "$D/run/slurmd.pid"; then
  log "slurmd already running"
else
  slurmd -N localhost        # node name != hostname, so pass it explicitly
  wait_for 30 "slurmd pid" test -s "$D/run/slurmd.pid"
  log "slurmd started (pid $(cat "$D/run/slurmd.pid"))"
fi
node_ok() { sinfo -h -n localhost -o %T | grep -Eq '^(idle|mixed|allocated|completing)$'; }
if ! try_wait 30 node_ok; then
  log "node state: $(sinfo -h -n localhost -o '%T %E'); trying resume"
  scontrol update nodename=localhost state=resume || true
  wait_for 20 "node localhost idle" node_ok
fi
if [ "$DBD" = 1 ]; then
  wait_for 30 "cluster registration" sh -c "sacctmgr -n -P list cluster format=cluster | grep -qx $CLUSTER"
fi
log "cluster up: $(sinfo -h -o '%P %a %D %T %N')"

# ---------------------------------------------------------------- smoke test
if [ "$SMOKE" = 1 ]; then
  out=$(srun -N1 -n1 -t 1 echo srun-ok); [ "$out" = srun-ok ] || die "srun smoke failed: $out"
  jid=$(sbatch --parsable -t 1 -o "$D/log/smoke_%j.out" --wrap 'echo sbatch-ok')
  # (sbatch --wait would work too, but its polling adds ~10 s)
  wait_for 60 "sbatch job $jid" sh -c "squeue -h -t all -j $jid -o %T | grep -qx COMPLETED"
  grep -q sbatch-ok "$D/log/smoke_$jid.out" || die "sbatch smoke failed"
  if [ "$DBD" = 1 ]; then
    wait_for 30 "sacct record of job $jid" sh -c "sacct -X -n -P -j $jid -o State | grep -q COMPLETED"
  fi
  log "smoke test ok (srun, sbatch job $jid$([ "$DBD" = 1 ] && echo ', sacct'))"
fi

if [ "$DBD" = 1 ]; then
  log "done. snakemake: snakemake --executor slurm --default-resources slurm_partition=${PARTITIONS%%,*} ..."
else
  log "done. snakemake: snakemake --executor slurm --slurm-status-command squeue --default-resources slurm_partition=${PARTITIONS%%,*} ..."
fi
