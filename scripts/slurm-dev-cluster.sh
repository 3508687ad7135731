#!/usr/bin/env bash
# A real Slurm 22.05 cluster on this one machine, for development and CI (Debian 12, root).
#
#   scripts/slurm-dev-cluster.sh up       install what is missing, start what is not running
#   scripts/slurm-dev-cluster.sh status   say what runs; exit 1 unless the cluster is fully up
#   scripts/slurm-dev-cluster.sh down     stop every daemon it started (by pid file)
#
# Emulates NNODES nodes (one slurmd each) x CPUS cores x GPUS fake GPUs, three partitions
# (batch: all nodes, default; gpu: the second half; debug: two nodes, 1 h), accounting in
# slurmdbd on MariaDB (127.0.0.1:3306, root without password, as on the dev/CI machines; a
# local server is installed and started when none answers), and slurmrestd on a unix socket
# (local auth) and on 127.0.0.1:6820 (JWT). `up` is idempotent and takes about a second when
# everything already runs. Changing the generated configuration restarts the Slurm daemons:
# GRES changes under `scontrol reconfigure` leave stale GPU counts behind.
set -Eeuo pipefail

NNODES=${NNODES:-8}
CPUS=${CPUS:-16}
MEM_MB=${MEM_MB:-64000}
GPUS=${GPUS:-4}
GPU_TYPE=${GPU_TYPE:-a100}
CLUSTER=${CLUSTER:-schedsight}
ACCOUNTS=${ACCOUNTS:-"physics chemistry"}
DB_HOST=${DB_HOST:-127.0.0.1}
DB_PORT=${DB_PORT:-3306}
REST_SOCKET=/run/slurmrestd/slurmrestd.sock
REST_ADDR=127.0.0.1:6820
JWT_KEY=/var/spool/slurm/ctld/jwt_hs256.key
DB_PASS_FILE=/etc/slurm/.schedsight-dbpass
HOST=$(hostname -s)
PACKAGES="slurmctld slurmd slurm-client munge slurmdbd slurmrestd slurm-wlm-jwt-plugin curl"
LOGS="/var/log/slurm"
T0=$(date +%s%N)

say() { printf '[slurm-dev %5.1fs] %s\n' "$(( ($(date +%s%N) - T0) / 1000000 ))e-3" "$*"; }
die() {
  echo "slurm-dev-cluster: ERROR: $*" >&2
  for f in "$LOGS"/slurmctld.log "$LOGS"/slurmdbd.log "$LOGS"/slurmd-n1.log \
           "$LOGS"/slurmrestd-unix.log "$LOGS"/slurmrestd-jwt.log; do
    [ -s "$f" ] && { echo "---- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

# A daemon runs when its pid file names a live process with the expected command name
# (guards against a recycled pid after a reboot or an unclean stop).
alive() {  # $1 pid file, $2 process name; a zombie (dead, not yet reaped) is not alive
  local pid state
  [ -s "$1" ] || return 1
  pid=$(<"$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(<"/proc/$pid/comm")" = "$2" ] || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

stop() {  # pairs of: pid file, process name. TERM to all at once (each takes ~2 s), then wait.
  local pids=() files=() pid
  while [ $# -ge 2 ]; do
    if alive "$1" "$2"; then pid=$(<"$1"); kill "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    files+=("$1"); shift 2
  done
  for _ in $(seq 100); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break; sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then echo "pid $pid ignored TERM for 10 s, killing"; kill -9 "$pid"; fi
  done
  rm -f "${files[@]}"   # a stale /run/slurmctld.pid breaks the package's prerm (apt-get remove)
}

wait_for() {  # $1 tries (x 0.1 s), $2 what, then the command
  local tries=$1 what=$2; shift 2
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "timed out waiting for $what"
}

mysql_root() { mariadb -h "$DB_HOST" -P "$DB_PORT" -u root --connect-timeout=3 "$@"; }

# ------------------------------------------------------------------------------ packages
ensure_packages() {
  local missing=() p
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v mariadb >/dev/null || missing+=(mariadb-client)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # apt does not start services here (policy-rc.d exits 101): every daemon is started below.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ------------------------------------------------------------------------------ munge
ensure_munge() {
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 0600 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  if ! alive /run/munge/munged.pid munged; then
    # munged refuses to run as root ("Logfile is insecure"): run it as its own user.
    runuser -u munge -- /usr/sbin/munged
  fi
  wait_for 50 "munged" bash -c 'munge -n | unmunge'
}

# ------------------------------------------------------------------------------ config
node_range() { echo "n[1-$NNODES]"; }

render_configs() {  # $1 = directory to write slurm.conf, gres.conf, slurmdbd.conf into
  local d=$1 half=$(( NNODES / 2 + 1 )) pass
  pass=$(<"$DB_PASS_FILE")
  cat >"$d/slurm.conf" <<EOF
# Generated by schedsight scripts/slurm-dev-cluster.sh: edits are overwritten.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$JWT_KEY
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d/%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=/tmp/slurm-tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job with no --mem takes the whole node's memory.
DefMemPerCPU=256
DependencyParameters=kill_invalid_depend
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations
AccountingStoreFlags=job_comment
# GPUs in accounting (sacct TRES), not only cpu/mem/node.
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$(node_range) NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[17001-$((17000 + NNODES))] CPUs=$CPUS Sockets=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$MEM_MB Gres=gpu:$GPU_TYPE:$GPUS State=UNKNOWN
PartitionName=batch Nodes=$(node_range) Default=YES MaxTime=2-00:00:00 State=UP
PartitionName=gpu Nodes=n[$half-$NNODES] MaxTime=1-00:00:00 State=UP
PartitionName=debug Nodes=n[1-2] MaxTime=01:00:00 State=UP
EOF
  # A GPU without File= is dropped and the node drains; regular files are refused as devices.
  echo "NodeName=$(node_range) Name=gpu Type=$GPU_TYPE File=/run/slurm-fakegpu/nvidia[0-$((GPUS - 1))]" >"$d/gres.conf"
  cat >"$d/slurmdbd.conf" <<EOF
# Generated by schedsight scripts/slurm-dev-cluster.sh: edits are overwritten.
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$JWT_KEY
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=$LOGS/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=$DB_HOST
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$pass
EOF
}

install_configs() {  # prints "changed" when anything differs from what is installed
  local tmp changed=0 f
  tmp=$(mktemp -d)
  render_configs "$tmp"
  for f in slurm.conf gres.conf slurmdbd.conf; do
    cmp -s "$tmp/$f" "/etc/slurm/$f" || changed=1
  done
  if [ "$changed" = 1 ]; then
    install -m 0644 "$tmp/slurm.conf" /etc/slurm/slurm.conf
    install -m 0644 "$tmp/gres.conf" /etc/slurm/gres.conf
    install -m 0600 -o slurm -g slurm "$tmp/slurmdbd.conf" /etc/slurm/slurmdbd.conf
    echo changed
  fi
  rm -rf "$tmp"
}

prepare_files() {
  install -d -o slurm -g slurm /var/spool/slurm/ctld "$LOGS"
  install -d /var/spool/slurm/d /run/slurm-fakegpu /tmp/slurm-tmp
  local i
  for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "/run/slurm-fakegpu/nvidia$i"; done
  for i in $(seq 1 "$NNODES"); do install -d -m 1777 "/tmp/slurm-tmp/n$i"; done
  if [ ! -s "$JWT_KEY" ]; then
    (umask 077; head -c 32 /dev/urandom >"$JWT_KEY")
  fi
  chown slurm:slurm "$JWT_KEY" && chmod 0600 "$JWT_KEY"
  if [ ! -s "$DB_PASS_FILE" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DB_PASS_FILE")
  fi
}

# ------------------------------------------------------------------------------ database
ensure_mariadb() {
  mysql_root -e 'SELECT 1' >/dev/null 2>&1 && return 0
  if [ "$DB_HOST" != 127.0.0.1 ] && [ "$DB_HOST" != localhost ]; then
    die "MariaDB at $DB_HOST:$DB_PORT does not answer as root without a password"
  fi
  say "no MariaDB answers on $DB_HOST:$DB_PORT: starting a local one"
  command -v mariadbd >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq;
    apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null; }
  install -d -o mysql -g root /run/mysqld
  echo "started by slurm-dev-cluster.sh" >"$LOGS/mariadb.log"
  setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --port="$DB_PORT" \
    --pid-file=/run/mysqld/mysqld.pid --socket=/run/mysqld/mysqld.sock \
    >>"$LOGS/mariadb.log" 2>&1 </dev/null &
  wait_for 150 "MariaDB" mysql_root -e 'SELECT 1'
  # A fresh Debian server lets root in over the socket only: allow it on loopback as well.
  mariadb -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION" 2>/dev/null || true
}

ensure_db_user() {
  local pass; pass=$(<"$DB_PASS_FILE")
  local host
  for host in localhost 127.0.0.1; do
    mysql_root -e "CREATE USER IF NOT EXISTS 'slurm'@'$host' IDENTIFIED BY '$pass';
                   ALTER USER 'slurm'@'$host' IDENTIFIED BY '$pass';
                   GRANT ALL ON slurm_acct_db.* TO 'slurm'@'$host';"
  done
  mysql_root -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; FLUSH PRIVILEGES;"
}

sacctmgr_ok() { timeout 10 sacctmgr -n -P show cluster format=cluster; }

ensure_slurmdbd() {
  alive /run/slurmdbd.pid slurmdbd || /usr/sbin/slurmdbd
  wait_for 150 "slurmdbd" sacctmgr_ok
}

ensure_associations() {
  # The cluster must be registered BEFORE slurmctld connects: otherwise `sacctmgr add
  # cluster` waits forever on a table lock that slurmctld's registration holds.
  if ! sacctmgr_ok | grep -qx "$CLUSTER"; then
    alive /run/slurmctld.pid slurmctld && stop /run/slurmctld.pid slurmctld
    timeout 60 sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  # root submits from the CLI; slurmrest is who jobs sent over the unix socket run as.
  id slurmrest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin slurmrest
  local a u have
  have=$(timeout 10 sacctmgr -n -P show assoc cluster="$CLUSTER" format=account,user)
  for a in $ACCOUNTS; do
    grep -q "^$a|" <<<"$have" || timeout 30 sacctmgr -i add account "$a" cluster="$CLUSTER" \
      description="schedsight dev" organization=dev >/dev/null
    for u in root slurmrest; do
      grep -qx "$a|$u" <<<"$have" || timeout 30 sacctmgr -i add user "$u" account="$a" \
        cluster="$CLUSTER" >/dev/null
    done
  done
}

# ------------------------------------------------------------------------------ slurm daemons
stop_slurm_daemons() {
  local f args=(/run/slurmrestd-unix.pid slurmrestd /run/slurmrestd-jwt.pid slurmrestd)
  for f in /run/slurmd-*.pid; do [ -e "$f" ] && args+=("$f" slurmd); done
  stop "${args[@]}"
  stop /run/slurmctld.pid slurmctld
  stop /run/slurmdbd.pid slurmdbd
}

nodes_idle() {  # all nodes respond and none is down/drained
  local listed bad
  listed=$(sinfo -h -N -o '%N' 2>/dev/null | sort -u | wc -l)
  [ "$listed" -ge "$NNODES" ] || return 1
  bad=$(sinfo -h -N -t down,drain,fail,unknown,no_respond -o '%N' 2>/dev/null | wc -l)
  [ "$bad" = 0 ]
}

ensure_slurm() {
  alive /run/slurmctld.pid slurmctld || /usr/sbin/slurmctld
  wait_for 600 "slurmctld" scontrol ping  # it reloads its state and reconnects to slurmdbd
  local n
  for n in $(seq 1 "$NNODES"); do
    alive "/run/slurmd-n$n.pid" slurmd || /usr/sbin/slurmd -N "n$n"
  done
  for _ in $(seq 100); do nodes_idle && return 0; sleep 0.2; done
  # A node that once registered with a bad GRES stays drained: give it back after the fix.
  scontrol update nodename="$(node_range)" state=resume 2>/dev/null || true
  wait_for 100 "all $NNODES nodes to be up" nodes_idle
}

rest_ping() {
  curl -sf --max-time 5 --unix-socket "$REST_SOCKET" http://localhost/slurm/v0.0.38/ping
}
answers() {  # the command succeeds within 3 tries, a second apart
  local _
  for _ in 1 2 3; do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}
jwt_ping() {  # 401 without a token means the JWT listener is up
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$REST_ADDR/slurm/v0.0.38/ping")" = 401 ]
}

ensure_rest() {
  # slurmrestd does not chdir: started from a folder that is later deleted (an earlier CI
  # checkout), it died midway through the REST tests. It runs from / and appends to its logs.
  install -d -o slurmrest -m 0755 /run/slurmrestd
  # A slurmrestd that runs but does not answer (stopped, wedged, its socket gone) is replaced;
  # one missed ping on a busy host is not enough to call it dead.
  if alive /run/slurmrestd-unix.pid slurmrestd && ! answers rest_ping; then
    echo "slurmrestd on $REST_SOCKET runs but does not answer: restarting it"
    stop /run/slurmrestd-unix.pid slurmrestd
  fi
  if alive /run/slurmrestd-jwt.pid slurmrestd && ! answers jwt_ping; then
    echo "slurmrestd on $REST_ADDR runs but does not answer: restarting it"
    stop /run/slurmrestd-jwt.pid slurmrestd
  fi
  # slurmrestd refuses to run as root: -u drops to slurmrest after opening the socket.
  if ! alive /run/slurmrestd-unix.pid slurmrestd; then
    rm -f "$REST_SOCKET"
    (cd / && exec setsid /usr/sbin/slurmrestd -u slurmrest -a rest_auth/local \
      "unix:$REST_SOCKET") >>"$LOGS/slurmrestd-unix.log" 2>&1 </dev/null &
    echo $! >/run/slurmrestd-unix.pid
  fi
  if ! alive /run/slurmrestd-jwt.pid slurmrestd; then
    (cd / && SLURM_JWT=daemon exec setsid /usr/sbin/slurmrestd -u slurmrest -a rest_auth/jwt \
      "$REST_ADDR") >>"$LOGS/slurmrestd-jwt.log" 2>&1 </dev/null &
    echo $! >/run/slurmrestd-jwt.pid
  fi
  wait_for 100 "slurmrestd on $REST_SOCKET" rest_ping
  wait_for 100 "slurmrestd on $REST_ADDR" jwt_ping
}

# ------------------------------------------------------------------------------ commands
fully_up() {
  local n
  alive /run/munge/munged.pid munged && alive /run/slurmdbd.pid slurmdbd \
    && alive /run/slurmctld.pid slurmctld && alive /run/slurmrestd-unix.pid slurmrestd \
    && alive /run/slurmrestd-jwt.pid slurmrestd || return 1
  for n in $(seq 1 "$NNODES"); do alive "/run/slurmd-n$n.pid" slurmd || return 1; done
  nodes_idle && rest_ping >/dev/null && jwt_ping
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"
  ensure_packages
  prepare_files
  if [ "$(install_configs)" = changed ]; then
    say "configuration (re)written: restarting the Slurm daemons"
    stop_slurm_daemons
  elif fully_up; then
    say "already up: $NNODES nodes, partitions $(sinfo -h -o '%P' | paste -sd' ')"
    return 0
  fi
  ensure_munge
  ensure_mariadb
  ensure_db_user
  ensure_slurmdbd
  say "munged, MariaDB and slurmdbd up"
  ensure_associations
  ensure_slurm
  say "slurmctld and $NNODES slurmd up"
  ensure_rest
  fully_up || die "daemons started but the cluster is not fully up"
  sinfo -o '%P %a %l %D %c %m %G %t'
  say "up: cluster $CLUSTER, $NNODES nodes x $CPUS cores x $GPUS $GPU_TYPE, REST on $REST_SOCKET and $REST_ADDR"
}

cmd_status() {
  local rc=0 f n
  for f in "munged:/run/munge/munged.pid" "slurmdbd:/run/slurmdbd.pid" \
           "slurmctld:/run/slurmctld.pid" "slurmrestd:/run/slurmrestd-unix.pid" \
           "slurmrestd:/run/slurmrestd-jwt.pid"; do
    if alive "${f#*:}" "${f%%:*}"; then echo "running  ${f%%:*} (pid $(<"${f#*:}"), ${f#*:})"
    else echo "stopped  ${f%%:*} (${f#*:})"; rc=1; fi
  done
  for n in $(seq 1 "$NNODES"); do alive "/run/slurmd-n$n.pid" slurmd || { echo "stopped  slurmd n$n"; rc=1; }; done
  if [ "$rc" = 0 ]; then
    sinfo -o '%P %a %l %D %c %m %G %t' || rc=1
    nodes_idle || { echo "some nodes are not up"; rc=1; }
  fi
  [ "$rc" = 0 ] && echo "cluster $CLUSTER is up" || echo "cluster $CLUSTER is not fully up"
  return "$rc"
}

cmd_down() {
  trap - ERR
  if alive /run/slurmctld.pid slurmctld; then
    timeout 10 scancel --state=pending 2>/dev/null || true
    timeout 10 scancel --state=running 2>/dev/null || true
  fi
  stop_slurm_daemons
  stop /run/munge/munged.pid munged
  # MariaDB is left alone unless this script started it.
  if [ -s /run/mysqld/mysqld.pid ] && grep -q 'started by slurm-dev-cluster' "$LOGS/mariadb.log" 2>/dev/null; then
    stop /run/mysqld/mysqld.pid mariadbd
  fi
  say "down"
}

case "${1:-}" in
  up) cmd_up ;;
  status) trap - ERR; cmd_status ;;
  down) cmd_down ;;
  *) echo "usage: $0 up|status|down" >&2; exit 2 ;;
esac
