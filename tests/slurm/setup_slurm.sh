#!/usr/bin/env bash
# Bring up a one-node Slurm cluster on this machine (Debian 12, run as root).
#
#   tests/slurm/setup_slurm.sh          # install (apt), configure, start, wait until the node is idle
#   tests/slurm/setup_slurm.sh --stop   # stop the daemons this script started
#
# Idempotent: re-running on a machine where the cluster is already up and the
# configuration is unchanged does nothing but check it. Works on a fresh Debian
# 12 (CI runs it from .ci/run on a clean clone) — nothing here relies on systemd:
# munged, slurmctld and slurmd are started by hand in the background.
#
# What it sets up (see docs/reliability.md, "Running on a Slurm cluster"):
#   - munge (authentication), slurmctld + slurmd on this host, one node, one
#     partition `main` (Default=YES), SlurmUser=root and SlurmdUser=root so jobs
#     may run as root (CI runs as root);
#   - a FAKE `gpu` GRES (Count=1, no device file) so the profile's `gpu=1` request
#     for the training job is scheduled exactly as on a real GPU site; the job
#     itself runs on the CPU (no CUDA here);
#   - accounting: none (AccountingStorageType=accounting_storage/none). The
#     executor plugin's status queries use `squeue --states=all`, which works
#     because MinJobAge keeps finished jobs in slurmctld's memory for 30 min;
#     completed jobs are also written to $SLURM_STATE/jobcomp.txt
#     (JobCompType=jobcomp/filetxt), which the tests read as a record of what ran.
#
# Environment knobs: DEEPCEE_SLURM_STATE (default /var/lib/deepcee-slurm).
set -euo pipefail

STATE="${DEEPCEE_SLURM_STATE:-/var/lib/deepcee-slurm}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
GRES_CONF="$CONF_DIR/gres.conf"
LOG_DIR="$STATE/log"
T0=$(date +%s)

log() { echo "[setup_slurm +$(( $(date +%s) - T0 ))s] $*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "ERROR: tests/slurm/setup_slurm.sh must run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
    for d in slurmd slurmctld; do
        if pid_alive "$STATE/$d.pid"; then
            log "stopping $d (pid $(cat "$STATE/$d.pid"))"
            kill "$(cat "$STATE/$d.pid")" || true
            for _ in $(seq 1 50); do pid_alive "$STATE/$d.pid" || break; sleep 0.2; done
        fi
        rm -f "$STATE/$d.pid"
    done
}

if [[ "${1:-}" == "--stop" ]]; then
    stop_all
    if [[ -s /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
        log "stopping munged"; kill "$(cat /run/munge/munged.pid)" || true
    fi
    exit 0
fi

# ---- 1. packages ---------------------------------------------------------
need_pkgs=()
for p in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if (( ${#need_pkgs[@]} )); then
    log "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_retry() {
        # another apt/dpkg may hold the lock (e.g. a texlive install in CI): wait for it
        for i in $(seq 1 60); do
            if "$@"; then return 0; fi
            log "apt-get busy or failed (try $i), retrying in 10 s"; sleep 10
        done
        return 1
    }
    apt_retry apt-get update -qq
    apt_retry apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ---- 2. configuration ----------------------------------------------------
HOST=$(hostname -s)
NCPU=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
REAL_MB=$(( MEM_MB * 90 / 100 ))   # leave room for the OS and the daemons
mkdir -p "$CONF_DIR" "$STATE"/{ctld,spool} "$LOG_DIR"
# the node must resolve to this host
getent hosts "$HOST" >/dev/null || echo "127.0.0.1 $HOST" >> /etc/hosts

new_conf=$(cat <<CONF
# Written by tests/slurm/setup_slurm.sh — a one-node test cluster. Do not use in production.
ClusterName=deepcee
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=1024
# keep finished jobs visible to squeue for 30 min (the executor's status queries)
MinJobAge=1800
MaxJobCount=100000
# no slurmdbd: completed jobs are logged to a text file instead
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
# a fake GPU so that --gpus=1 requests are schedulable (jobs still run on the CPU)
GresTypes=gpu
InactiveLimit=0
KillWait=10
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$REAL_MB Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
# gres/gpu needs a device file; an empty regular file stands in for /dev/nvidia0
touch "$STATE/fake-gpu0"
new_gres="NodeName=$HOST Name=gpu File=$STATE/fake-gpu0"

changed=0
if [[ ! -f "$CONF" ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
    printf '%s\n' "$new_conf" > "$CONF"; changed=1
fi
if [[ ! -f "$GRES_CONF" ]] || [[ "$(cat "$GRES_CONF")" != "$new_gres" ]]; then
    printf '%s\n' "$new_gres" > "$GRES_CONF"; changed=1
fi
# Debian's slurm packages ship no cgroup.conf; none is needed with proctrack/linuxproc.

# ---- 3. daemons ----------------------------------------------------------
if ! { [[ -s /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; }; then
    log "starting munged"
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        (command -v mungekey >/dev/null && mungekey --create --keyfile=/etc/munge/munge.key) \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
        chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
    fi
    su -s /bin/sh munge -c "/usr/sbin/munged --force" 2>&1 || /usr/sbin/munged --force
fi
for _ in $(seq 1 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
munge -n </dev/null | unmunge >/dev/null || { echo "ERROR: munge does not work" >&2; exit 1; }

if (( changed )); then
    log "configuration changed: (re)starting slurmctld and slurmd"
    stop_all
fi
if ! pid_alive "$STATE/slurmctld.pid"; then
    log "starting slurmctld"
    # -c: start clean (no saved jobs from an earlier run of this script)
    /usr/sbin/slurmctld -c
fi
for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.2; done
if ! pid_alive "$STATE/slurmd.pid"; then
    log "starting slurmd"
    /usr/sbin/slurmd
fi

# ---- 4. wait until the node is idle ------------------------------------------
for i in $(seq 1 120); do
    state=$(sinfo -h -N -n "$HOST" -o '%t' 2>/dev/null | head -1 || true)
    case "$state" in
        idle|mix|alloc) break ;;
        down*|drain*|drng*|fail*)
            # e.g. after a restart: bring it back
            scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
done
sinfo
if [[ "$state" != idle && "$state" != mix && "$state" != alloc ]]; then
    echo "ERROR: Slurm node $HOST is '$state', not idle; see $LOG_DIR/slurmctld.log and slurmd.log" >&2
    tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 1
fi
log "one-node Slurm is up: node $HOST ($NCPU CPUs, ${REAL_MB} MB, gres gpu:1 fake), partition main"
