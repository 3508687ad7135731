#!/usr/bin/env bash
# The OpenMP offload and MPI toolchain for hpc/offload and its tests (Debian 12, root).
#
#   scripts/offload-toolchain.sh        install what is missing; idempotent, ~0.1 s when present
#
# GCC 12 with nvptx offloading (gcc-offload-nvptx), Open MPI and PMIx so that MPI programs run
# under `srun --mpi=pmix`. Slurm's pmix plugin loads libpmix when slurmd starts: slurmds that
# started before libpmix was installed cannot launch `--mpi=pmix` steps ("can not load PMIx
# library"), so those are stopped here and scripts/slurm-dev-cluster.sh starts them again.
set -Eeuo pipefail

PACKAGES="gcc-offload-nvptx libgomp-plugin-nvptx1 openmpi-bin libopenmpi-dev libpmix-dev"
HERE=$(cd "$(dirname "$0")" && pwd)

missing=()
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "offload-toolchain: run as root to install ${missing[*]}" >&2; exit 1; }
  echo "[offload-toolchain] installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# slurmds older than the PMIx install: stop them (by pid file) and let `up` restart them.
installed=$(stat -c %Y /var/lib/dpkg/info/libpmix-dev*.list | sort -n | tail -1)
now=$(date +%s)
stale=()
for f in /run/slurmd-*.pid; do
  [ -s "$f" ] || continue
  pid=$(<"$f")
  [ -r "/proc/$pid/comm" ] && [ "$(<"/proc/$pid/comm")" = slurmd ] || continue
  started=$(( now - $(ps -o etimes= -p "$pid") ))
  [ "$started" -lt "$installed" ] && stale+=("$pid")
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "[offload-toolchain] restarting ${#stale[@]} slurmd started before PMIx was installed"
  kill "${stale[@]}"
  for _ in $(seq 100); do
    left=0
    for pid in "${stale[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break; sleep 0.1
  done
  bash "$HERE/slurm-dev-cluster.sh" up
fi
echo "[offload-toolchain] gcc $(gcc -dumpversion) with nvptx offload, $(mpirun --version 2>/dev/null | head -1)"
