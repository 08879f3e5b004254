#!/usr/bin/env bash
# Slurm across nodes, for real: slurm/local-cluster.sh --nodes 3 starts one
# slurmd per emulated host (network namespaces, 1 Gbit/s links), slurmctld on
# node1 and munged, all in a temporary directory; the run directories are on
# the one filesystem every node sees. Cases:
#  1. sbatch --nodes=2 --ntasks-per-node=1: completes, and its final
#     parameters are bitwise equal to a local mpirun -np 2 run;
#  2. that job preempted (scancel --signal=USR1 --batch): it checkpoints,
#     requeues, resumes across both nodes, completes, bitwise equal to 1;
#  2b. a step whose rank crashes as MPI starts up: relaunched once, with a
#     warning, and still bitwise equal to 1;
#  3. a node lost (node3's link down) under --no-kill: the job goes on at
#     world size 2 on node1 and node2, with an elastic_restart event, and
#     completes;
#  4. a node crashed (every process of node3, slurmd too) under --no-kill
#     --on-node-failure requeue: a node_failure event, the job is requeued,
#     waits for node3 to come back, and completes at world size 3;
#  5. after `local-cluster.sh stop`: no daemon, namespace or process left.
# usage: tests/test_slurm_nodes.sh [BIN] [DATA.h5]   (RT_KEEP=1 keeps the scratch directory)
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
export RT_SLURM_DIR=$(mktemp -d /tmp/rt_slurmn.XXXXXX)
export RT_SLURM_PORT=$((19000 + RANDOM % 2000))
export RT_CLUSTER=rtn$$
export SLURM_CONF="$RT_SLURM_DIR/slurm.conf"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
L=slurm/local-cluster.sh
SLURM_RUN="$L run"
OUT="$RT_SLURM_DIR/jobs"
RUNS=runs/slurm-nodes-$$
cleanup() {
    $L stop 2>/dev/null
    [ -n "${RT_KEEP:-}" ] || rm -rf "$RT_SLURM_DIR" "$RUNS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slurm_lib.sh"
if ! $L start --nodes 3 --rate 1000 --net 76 >/dev/null; then
    check "3-node local cluster" 1 "did not start; see above"
    finish
    exit 1
fi
submit() { # submit NAME SBATCH-ARGS... -- TRAIN-ARGS...: prints the job id
    local name=$1 sb=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do sb+=("$1") && shift; done
    shift
    $L run sbatch --parsable --output="$OUT/$name.out" "${sb[@]}" slurm/train.sbatch configs/fashion_mlp.json \
        --run-dir "$RUNS/$name" "$@"
}
ARGS=(--set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA" --set train.steps=160 --set train.log_every=5
      --set train.eval_every=1000 --set train.checkpoint_every=20 --set dist.timeout_s=3 --quiet)
same_params() { # same_params DIR_A DIR_B STEP: every parameter bitwise equal
    /usr/bin/python3 - "$@" <<'PY'
import sys, h5py, numpy as np
a, b, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
def params(d):
    with h5py.File(f"{d}/ckpt/step_{step:08d}.h5") as f:
        return {k: f["params"][k][()] for k in f["params"]}
pa, pb = params(a), params(b)
same = pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)
print(f"{len(pa)} parameters bitwise equal: {same}")
sys.exit(0 if same else 1)
PY
}
events() { # events DIR: the run's events, one compact line each
    /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1] + "/metrics.jsonl"):
    r = json.loads(l)
    if r.get("event") in ("start", "done", "elastic_restart", "node_failure", "stopped"):
        keep = ("event", "step", "world_size", "old_world_size", "new_world_size", "hosts_dropped", "nodes_lost", "action", "requeue_count")
        print(json.dumps({k: r[k] for k in keep if k in r}, separators=(",", ":")))' "$1" 2>/dev/null
}
show_job() { # on failure: the job's output and the daemons' lines
    echo "    the job's output, last lines:"
    grep -v '^ringtrain: stall' "$OUT/$1.out" | tail -n 60 | sed 's/^/    /'
    daemon_log "$2"
}

# ---- 1. a 2-node job against a local np=2 run ----
timeout 300 mpirun -np 2 --oversubscribe "$BIN" train configs/fashion_mlp.json "${ARGS[@]}" \
    --run-dir "$RUNS/local" >/dev/null 2>"$OUT/local.err"
j1=$(submit two --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}")
wait_state "$j1" 180 COMPLETED FAILED CANCELLED
out=$(same_params "$RUNS/local" "$RUNS/two" 160 2>&1)
nodes=$(grep -o 'tasks on [^,]*' "$OUT/two.out" | head -n1)
[ "$(state "$j1")" = COMPLETED ] && [ "$nodes" = "tasks on node[1-2]" ] && [[ "$out" == *"equal: True" ]]
ok=$?
check "2-node job, bitwise equal to local np=2" $ok "job $j1 $(state "$j1"), 2 $nodes; $out; relaunches: $(grep -c relaunching "$OUT/two.out")"
[ $ok -eq 0 ] && { grep -h '"event":"start"' "$RUNS/two/metrics.jsonl" | cut -c1-150 | sed 's/^/    /'; } || show_job two "$j1"

# ---- 2. the 2-node job preempted, requeued, resumed across both nodes ----
j2=$(submit pre --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}")
preempt "$j2" "$RUNS/pre"
out=$(same_params "$RUNS/two" "$RUNS/pre" 160 2>&1)
starts=$(events "$RUNS/pre" | grep -c '"event":"start","step":[1-9][0-9]*,"world_size":2')
[ "$(state "$j2")" = COMPLETED ] && [ "$(field "$j2" Restarts)" = 1 ] && [ "$starts" = 1 ] && [[ "$out" == *"equal: True" ]]
ok=$?
check "2-node job preempted and requeued" $ok "job $j2 $(state "$j2") after $(field "$j2" Restarts) requeue, resumed at world size 2: $starts; $out"
[ $ok -eq 0 ] && events "$RUNS/pre" | sed 's/^/    /' || show_job pre "$j2"

# ---- 2b. a step that crashes as MPI starts: launched again, with a warning ----
j5=$(RINGTRAIN_FAULT_START_CRASH="$RT_SLURM_DIR/crashed" submit crash --nodes=2 --ntasks-per-node=1 -- "${ARGS[@]}")
wait_state "$j5" 180 COMPLETED FAILED CANCELLED
out=$(same_params "$RUNS/two" "$RUNS/crash" 160 2>&1)
warn=$(grep -o 'warning: the step exited with [0-9]* before training started; relaunching (1 of 2)' "$OUT/crash.out")
[ "$(state "$j5")" = COMPLETED ] && [ -e "$RT_SLURM_DIR/crashed" ] && [ -n "$warn" ] && [[ "$out" == *"equal: True" ]]
ok=$?
check "a launch that crashes is relaunched" $ok "job $j5 $(state "$j5"): $warn; $out"
[ $ok -eq 0 ] || show_job crash "$j5"

# ---- 3. node3's link lost mid-job: shrink to node1 and node2 ----
j3=$(submit shrink --no-kill --nodes=3 --ntasks-per-node=1 -- "${ARGS[@]}")
wait_step "$RUNS/shrink" 50
t0=$SECONDS
$L link node3 down
wait_state "$j3" 240 COMPLETED FAILED CANCELLED
secs=$((SECONDS - t0))
ev=$(events "$RUNS/shrink")
[ "$(state "$j3")" = COMPLETED ] &&
    [[ "$ev" == *'{"event":"elastic_restart","step":'[1-9]*',"old_world_size":3,"new_world_size":2,"hosts_dropped":["node3"]}'* ]] &&
    [[ "$ev" == *'"event":"done","step":160,"world_size":2'* ]]
ok=$?
check "node lost under --no-kill: goes on at world size 2" $ok "job $j3 $(state "$j3") ${secs} s after the link went down"
[ $ok -eq 0 ] && echo "$ev" | sed 's/^/    /' || show_job shrink "$j3"
# node3 comes back as after a reboot: what ran on it is gone
$L crash node3 2>/dev/null
$L link node3 up
$L revive node3 2>/dev/null
for _ in $(seq 150); do $SLURM_RUN sinfo -h -N -o %T | grep -qv '^idle$' || break; sleep 0.2; done

# ---- 4. node3 crashed mid-job, and the job waits for the full allocation ----
j4=$(submit requeue --no-kill --nodes=3 --ntasks-per-node=1 -- "${ARGS[@]}" --on-node-failure requeue)
wait_step "$RUNS/requeue" 50
$L crash node3 2>/dev/null
for _ in $(seq 600); do [ "$(field "$j4" Restarts)" = 1 ] && break; sleep 0.2; done
$L revive node3 2>/dev/null
release "$j4"
wait_state "$j4" 180 COMPLETED FAILED CANCELLED
ev=$(events "$RUNS/requeue")
[ "$(state "$j4")" = COMPLETED ] && [ "$(field "$j4" Restarts)" = 1 ] &&
    [[ "$ev" == *'{"event":"node_failure","step":'[1-9]*',"world_size":3,"nodes_lost":["node3"],"action":"requeue"}'* ]] &&
    [[ "$ev" == *'"event":"done","step":160,"world_size":3'* ]]
ok=$?
check "node crashed, --on-node-failure requeue: waits for 3 nodes" $ok "job $j4 $(state "$j4") after $(field "$j4" Restarts) requeue"
[ $ok -eq 0 ] && echo "$ev" | sed 's/^/    /' || show_job requeue "$j4"

# ---- 5. nothing left behind ----
$L stop 2>/dev/null
# a step daemon is this cluster's when it holds one of its files open (its
# node's log); job ids alone are shared with any other cluster on the machine
ours() { local p; for p in $(pgrep -f "slurmstepd: "); do ls -l /proc/"$p"/fd 2>/dev/null | grep -qF "$RT_SLURM_DIR" && ps -o pid=,args= -p "$p"; done; }
left=$(pgrep -af "slurmd|slurmctld|munged" | grep -F "$RT_SLURM_DIR"; ours; pgrep -af "ringtrain train .*$RUNS")
ns=$(ip netns list | grep -c "^${RT_CLUSTER}_")
[ -z "$left" ] && [ "$ns" = 0 ] && [ ! -e "/run/ringtrain-cluster/$RT_CLUSTER" ]
check "stop leaves nothing" $? "namespaces left: $ns; processes left: ${left:-none}"
finish
