#!/usr/bin/env bash
# A newer real Slurm cluster beside the host's 22.05, from Debian's own packages of another
# release, installed by debootstrap into a chroot (root only; for development and CI).
#
#   scripts/slurm-chroot-cluster.sh up trixie     Slurm 24.11 in /var/lib/slurm-trixie
#   scripts/slurm-chroot-cluster.sh up sid        Slurm 26.05 in /var/lib/slurm-sid
#   scripts/slurm-chroot-cluster.sh status sid    exit 1 unless it is fully up
#   scripts/slurm-chroot-cluster.sh down trixie   stop its daemons (the chroot stays)
#
# Each cluster has its own ports (trixie 7817/7819 and 7901-7904, sid 7917/7919 and
# 8001-8004), munge key, state and MariaDB database (the host's server, over TCP), 4 nodes x
# 8 cores x 2 fake a100 GPUs, partitions batch (default, 2 days) and gpu (1 day), accounts
# physics and chemistry (root in physics), multifactor priority, and slurmrestd on a unix
# socket: ROOT/run/slurmrestd/slurmrestd.sock (local auth; as root). Reach it with
#   SCHEDSIGHT_SLURM_COMMAND_PREFIX="chroot ROOT"                          (cli backend)
#   SCHEDSIGHT_SLURM_BACKEND=rest SCHEDSIGHT_SLURM_REST_URL=unix:ROOT/run/slurmrestd/slurmrestd.sock
# First `up` ~50 s (debootstrap from deb.debian.org), then ~5 s; `up` on a running one ~1 s.
# Follows the tested recipe in ../shared/slurm (slurm-next-up.sh): the chroot needs the
# host's /etc/hosts, /proc and /dev, and slurmd there runs without cgroups.
set -Eeuo pipefail

CMD=${1:-}
SUITE=${2:-trixie}
case "$SUITE" in
  trixie) PORT_BASE=7800 ;;
  sid) PORT_BASE=7900 ;;
  *) echo "usage: $0 up|status|down trixie|sid" >&2; exit 2 ;;
esac
ROOT=${ROOT:-/var/lib/slurm-$SUITE}
NNODES=4 CPUS=8 MEM_MB=32000 GPUS=2
CLUSTER=next$SUITE
DB=slurm_acct_$SUITE
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=slurmctld,slurmd,slurm-client,munge,slurmrestd,slurmdbd,procps
SOCKET=$ROOT/run/slurmrestd/slurmrestd.sock
PIDS=$ROOT/run/slurm-next
HOST=$(hostname)
T0=$(date +%s%N)

say() { printf '[slurm-%s %5.1fs] %s\n' "$SUITE" "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*"; }
die() {
  echo "slurm-chroot-cluster ($SUITE): ERROR: $*" >&2
  for f in "$ROOT"/var/log/slurm/{slurmctld,slurmdbd,slurmd-m1,slurmrestd}.log; do
    [ -s "$f" ] && { echo "---- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR
in_root() { chroot "$ROOT" "$@"; }
alive() {  # $1 pid file inside the chroot's run dir
  [ -s "$1" ] && kill -0 "$(<"$1")" 2>/dev/null
}

ensure_chroot() {
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
  if [ ! -x "$ROOT/usr/sbin/slurmctld" ]; then
    command -v debootstrap >/dev/null || {
      apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null
    }
    say "debootstrap $SUITE into $ROOT (Debian's Slurm packages)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" \
      >/tmp/slurm-chroot-$SUITE-debootstrap.log 2>&1 \
      || { tail -n 20 /tmp/slurm-chroot-$SUITE-debootstrap.log >&2; die "debootstrap failed"; }
  fi
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  cp /etc/hosts "$ROOT/etc/hosts"  # without it getaddrinfo fails and slurmctld is unreachable
}

write_configs() {
  install -d "$PIDS" "$ROOT/var/spool/slurm-next/ctld" "$ROOT/var/log/slurm" "$ROOT/tmp/fakegpu"
  for n in $(seq 1 "$NNODES"); do install -d "$ROOT/var/spool/slurm-next/d$n"; done
  for g in $(seq 0 $((GPUS - 1))); do ln -sf /dev/null "$ROOT/tmp/fakegpu/nvidia$g"; done
  cat > "$ROOT/etc/slurm/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmctldPort=$((PORT_BASE + 17))
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurm-next/ctld
SlurmdSpoolDir=/var/spool/slurm-next/d%n
SlurmctldPidFile=/run/slurm-next/slurmctld.pid
SlurmdPidFile=/run/slurm-next/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
PriorityType=priority/multifactor
PriorityWeightAge=1000
PriorityWeightFairshare=10000
PriorityWeightJobSize=100
GresTypes=gpu
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$HOST
AccountingStoragePort=$((PORT_BASE + 19))
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
NodeName=m[1-$NNODES] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[$((PORT_BASE + 101))-$((PORT_BASE + 100 + NNODES))] CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:a100:$GPUS State=UNKNOWN
PartitionName=batch Nodes=m[1-$NNODES] Default=YES MaxTime=2-00:00:00 State=UP
PartitionName=gpu Nodes=m[1-$NNODES] MaxTime=1-00:00:00 State=UP
EOF
  echo "Name=gpu Type=a100 File=/tmp/fakegpu/nvidia[0-$((GPUS - 1))]" > "$ROOT/etc/slurm/gres.conf"
  echo "CgroupPlugin=disabled" > "$ROOT/etc/slurm/cgroup.conf"  # no cgroup fs in the chroot
  cat > "$ROOT/etc/slurm/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=$HOST
DbdPort=$((PORT_BASE + 19))
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurmnext
StoragePass=slurmnext
StorageLoc=$DB
PidFile=/run/slurm-next/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
EOF
  chmod 0600 "$ROOT/etc/slurm/slurmdbd.conf"
}

start_daemons() {
  # Whatever runs from an earlier `up` goes first: the configuration may have changed.
  stop_daemons quiet
  in_root bash -c 'install -d -o munge -g munge -m 0755 /run/munge; runuser -u munge -- /usr/sbin/munged --force'
  in_root bash -c 'munge -n | unmunge >/dev/null' || die "munge does not work in $ROOT"
  mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS $DB;
    CREATE USER IF NOT EXISTS 'slurmnext'@'127.0.0.1' IDENTIFIED BY 'slurmnext';
    GRANT ALL ON $DB.* TO 'slurmnext'@'127.0.0.1';" || die "MariaDB on 127.0.0.1:3306 refused"
  in_root /usr/sbin/slurmdbd
  for _ in $(seq 1 60); do in_root sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
  in_root sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
  in_root sacctmgr -i add account physics,chemistry cluster="$CLUSTER" >/dev/null 2>&1 || true
  in_root sacctmgr -i add user root account=physics,chemistry defaultaccount=physics \
    cluster="$CLUSTER" >/dev/null 2>&1 || true
  in_root /usr/sbin/slurmctld -i
  for n in $(seq 1 "$NNODES"); do in_root /usr/sbin/slurmd -N "m$n"; done
  for _ in $(seq 1 60); do nodes_idle && break; sleep 0.5; done
  nodes_idle || die "nodes not idle: $(in_root sinfo -h -o '%N %T' 2>&1 | tr '\n' ';')"
  in_root bash -c 'id slurmrest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin slurmrest
    install -d -o slurmrest -m 0755 /run/slurmrestd; rm -f /run/slurmrestd/slurmrestd.sock
    cd /; setsid /usr/sbin/slurmrestd -u slurmrest -a rest_auth/local \
      unix:/run/slurmrestd/slurmrestd.sock >/var/log/slurm/slurmrestd.log 2>&1 </dev/null &
    echo $! > /run/slurm-next/slurmrestd.pid'
  for _ in $(seq 1 40); do rest_answers && break; sleep 0.25; done
  rest_answers || die "slurmrestd does not answer on $SOCKET"
}

nodes_idle() {
  local idle
  idle=$(in_root sinfo -h -t idle -p batch -o '%D' 2>/dev/null | awk '{s+=$1} END {print s+0}')
  [ "$idle" -ge "$NNODES" ]
}
rest_answers() {
  [ -S "$SOCKET" ] && curl -sf --max-time 5 --unix-socket "$SOCKET" http://x/openapi/v3 >/dev/null
}
fully_up() {
  [ -x "$ROOT/usr/sbin/slurmctld" ] && mountpoint -q "$ROOT/proc" && alive "$PIDS/slurmctld.pid" \
    && alive "$PIDS/slurmdbd.pid" && alive "$PIDS/slurmrestd.pid" \
    && in_root scontrol ping 2>/dev/null | grep -q "is UP" && rest_answers
}

stop_daemons() {
  local pf pids=()
  for pf in "$PIDS"/*.pid "$ROOT/run/munge/munged.pid"; do
    [ -f "$pf" ] || continue
    if alive "$pf"; then
      pids+=("$(<"$pf")"); kill "$(<"$pf")" 2>/dev/null || true
      [ "${1:-}" = quiet ] || say "stopped $(basename "$pf" .pid)"
    fi
    rm -f "$pf"
  done
  for _ in $(seq 1 40); do  # each daemon takes a moment to let go of its port
    local left=0 pid
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break; sleep 0.25
  done
}

case "$CMD" in
  up)
    if fully_up; then say "already up: Slurm $(in_root dpkg-query -W -f='${Version}' slurmctld)"; exit 0; fi
    ensure_chroot
    say "Slurm $(in_root dpkg-query -W -f='${Version}' slurmctld) in $ROOT"
    write_configs
    start_daemons
    say "up: cluster $CLUSTER, $(in_root sinfo -h -o '%P %D %T' | tr '\n' ';') REST on $SOCKET"
    ;;
  status)
    if fully_up; then say "up"; else say "not (fully) up"; exit 1; fi
    ;;
  down)
    stop_daemons
    mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
    mountpoint -q "$ROOT/dev" && umount "$ROOT/dev"
    say "down (the chroot stays in $ROOT)"
    ;;
  *) echo "usage: $0 up|status|down trixie|sid" >&2; exit 2 ;;
esac
