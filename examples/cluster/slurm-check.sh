#!/usr/bin/env bash
# The Slurm example really runs: start a one-node Slurm cluster on this machine (installing
# Debian's slurm-wlm and munge if missing), run a small sweep as a job array with
# examples/cluster/slurm-sweep.sh, merge it in a dependent job, and check that the merged results
# are byte for byte those of the same sweep run unsharded. Needs root; takes about a minute.
#   bash examples/cluster/slurm-check.sh          # CONVLAB=path/to/convlab to test another binary
# The daemons it starts are stopped on exit; their state and logs are in $CHECK_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
CONVLAB=${CONVLAB:-target/release/convlab}
[[ $CONVLAB == /* ]] || CONVLAB=$root/$CONVLAB
[[ -x $CONVLAB ]] || { echo "slurm-check: no convlab binary at $CONVLAB (cargo build --release, or set CONVLAB)" >&2; exit 1; }
export CONVLAB
CHECK_DIR=${CHECK_DIR:-${TMPDIR:-/tmp}/convlab-slurm-check}
[[ $(id -u) == 0 ]] || { echo "slurm-check: run as root (it installs packages and starts slurmd)" >&2; exit 1; }
start=$SECONDS
say() { echo "slurm-check: $*"; }
die() { echo "slurm-check: FAILED: $*" >&2; exit 1; }

# 1. Slurm and munge, from Debian.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >/dev/null
fi

# Daemons left by an earlier run that was killed (its pid files are in $CHECK_DIR): stop them.
for f in "$CHECK_DIR"/slurmd.pid "$CHECK_DIR"/slurmctld.pid; do
    if [[ -f $f ]] && pid=$(cat "$f") && [[ $(cat /proc/"$pid"/comm 2>/dev/null) == slurm* ]]; then
        say "stopping $(cat /proc/"$pid"/comm) $pid left by an earlier run"; kill "$pid" || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
done
rm -rf "$CHECK_DIR"
mkdir -p "$CHECK_DIR"/{state,spool,work}

pids=()
started_munged=
cleanup() {
    local rc=$?
    ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ -n $started_munged && -f /run/munge/munged.pid ]]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true; fi
    ((rc == 0)) || echo "slurm-check: state and logs in $CHECK_DIR" >&2
    exit $rc
}
trap cleanup EXIT
logs() {
    for f in "$CHECK_DIR"/slurmctld.log "$CHECK_DIR"/slurmd.log; do
        [[ -f $f ]] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; }
    done >&2
}

# 2. munge: a key (the package makes one; made here if absent), then munged unless one answers.
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged
    started_munged=1
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# A one-node cluster: this host, its CPUs and memory; no cgroups, no accounting.
host=$(hostname)
cpus=$(nproc)
mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
export SLURM_CONF=$CHECK_DIR/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=convlab-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$CHECK_DIR/state
SlurmdSpoolDir=$CHECK_DIR/spool
SlurmctldPidFile=$CHECK_DIR/slurmctld.pid
SlurmdPidFile=$CHECK_DIR/slurmd.pid
SlurmctldLogFile=$CHECK_DIR/slurmctld.log
SlurmdLogFile=$CHECK_DIR/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=sched_interval=2
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -f "$SLURM_CONF" >>"$CHECK_DIR/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >>"$CHECK_DIR/slurmd.log" 2>&1 &
pids+=($!)
state=
for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { logs; die "a Slurm daemon (pid $pid) exited"; }; done
    sleep 0.5
done
[[ $state == idle ]] || { logs; die "node $host is not idle after 30 s (sinfo: ${state:-no answer})"; }
say "one-node cluster up: $host, $cpus CPUs, ${mem_mb} MB ($((SECONDS - start)) s)"

# 3. A small sweep as a job array of 4 shards, then the merge as a dependent job.
work=$CHECK_DIR/work
cat >"$work/sweep.toml" <<'TOML'
data = "pattern1d"
model = "pattern1d"
optimizer = "sgd(lr=0.05,momentum=0.9,weight_decay=1e-3)"
epochs = 100
batch_size = 0
rng = "numpy"
seeds = 8
success = "train_accuracy >= 1"

[grid]
filters = [3, 4]
TOML
export CONVLAB_SWEEP_CONFIG=$work/sweep.toml CONVLAB_SWEEP_OUT=$work/sharded
t0=$SECONDS
jid=$(sbatch --parsable --array=0-3 --cpus-per-task=1 --time=00:05:00 --chdir="$work" \
    --output="$work/slurm-%A_%a.out" "$root/examples/cluster/slurm-sweep.sh")
mid=$(sbatch --parsable --dependency=afterok:"$jid" --time=00:05:00 --chdir="$work" \
    --output="$work/slurm-merge-%j.out" --wrap "\"$CONVLAB\" sweep merge \"$CONVLAB_SWEEP_OUT\"")
say "submitted array job $jid (4 tasks) and merge job $mid (afterok:$jid)"

# The states of a job's tasks, once none is pending or running (scontrol keeps finished jobs for
# MinJobAge, 300 s); fails after 120 s.
wait_job() {
    local id=$1 states
    for _ in $(seq 240); do
        if [[ -z $(squeue -h -j "$id" -o %T 2>/dev/null) ]]; then
            states=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | tr -s ' ' | xargs)
            echo "$states"
            return 0
        fi
        sleep 0.5
    done
    squeue -j "$id" >&2 || true
    logs
    die "job $id still queued or running after 120 s"
}
states=$(wait_job "$jid")
if [[ $states != "4 JobState=COMPLETED" ]]; then
    scontrol -o show job "$jid" | grep -v 'JobState=COMPLETED' | grep -o 'ArrayTaskId=[0-9]*' | cut -d= -f2 |
        while read -r t; do echo "--- task $t: $work/slurm-${jid}_$t.out"; cat "$work/slurm-${jid}_$t.out" 2>/dev/null; done >&2
    scancel "$mid" 2>/dev/null || true
    die "array job $jid: $states"
fi
mstates=$(wait_job "$mid")
if [[ $mstates != "1 JobState=COMPLETED" ]]; then
    cat "$work/slurm-merge-$mid.out" >&2 2>/dev/null || true
    die "merge job $mid: $mstates"
fi
slurm_s=$((SECONDS - t0))
say "array job $jid: 4 tasks COMPLETED; merge job $mid COMPLETED (${slurm_s} s)"

# 4. The same sweep unsharded; the merged files must be the same bytes.
t0=$SECONDS
"$CONVLAB" sweep --config "$work/sweep.toml" --out "$work/unsharded" --quiet >/dev/null
local_s=$((SECONDS - t0))
files=(runs.jsonl summary.json summary.txt final-loss.png sweep.toml)
for f in "${files[@]}"; do
    [[ -f $work/unsharded/$f ]] || die "the unsharded sweep wrote no $f"
    cmp "$work/sharded/$f" "$work/unsharded/$f" || die "$f differs: $work/sharded/$f vs $work/unsharded/$f"
done

# 5. Summary (the daemons are stopped by the EXIT trap).
say "array job $jid + merge job $mid on $host: ${slurm_s} s; unsharded: ${local_s} s; total $((SECONDS - start)) s"
say "merged == unsharded: identical (${files[*]})"
