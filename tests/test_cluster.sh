#!/usr/bin/env bash
# The ring on emulated clusters (tests/cluster/cluster.sh): H hosts x R ranks
# = 2x1, 1x2, 2x2 (placed round-robin, --map-by node) and 3x1, each rank's
# host learnt by MPI_Comm_split_type and the ring in host-major order, as the
# trainer runs it. tests/test_ring (MPI_Allreduce as the oracle, odd counts,
# the same bits on every rank, the ring order checked) runs on each, with the
# flat ring and with the hierarchical all-reduce (rings within the hosts, one
# ring per local rank across them); dist.algorithm "hierarchical" on hosts of
# unequal rank counts must fail with one line naming the key. Then
# fashion_mlp trains on 2x2 --map-by node with the replicas compared every
# step, its losses within 1e-5 of a local np = 4 run, and on 2 hosts x 1 rank
# its --timeline is parsed (tests/tools/check_timeline.py) with the
# communication thread on and off. A rank killed mid-run on host 2 must end
# the job, and taking the cluster down after it must leave no process.
# Every cluster is taken down, and no namespace may remain.
# usage: tests/test_cluster.sh [OBJDIR] [BIN] [DATA.h5]
set -u
OBJDIR=${1:-build/obj}
BIN=${2:-build/ringtrain}
DATA=${3:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_cluster.XXXXXX)
export RT_CLUSTER=rtk$$
C=tests/cluster/cluster.sh
cleanup() {
    $C down
    [ -n "${RT_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

for layout in 2x1 1x2 2x2:node 3x1; do
    shape=${layout%%:*} map=()
    [ "$layout" != "$shape" ] && map=(--map-by node)
    H=${shape%x*} R=${shape#*x}
    $C up "$H" --slots "$R" --rate 1000 --net 82 >/dev/null || { check "cluster $shape up" 1 "failed"; continue; }
    for algo in ring hierarchical; do
        out=$(timeout 300 $C mpirun --hostfile "$($C hostfile)" -np $((H * R)) "${map[@]}" -x OPENBLAS_NUM_THREADS \
            -x RT_RING_ORDER=topology -x RT_ALGORITHM=$algo "$PWD/$OBJDIR/tests/test_ring" 2>&1)
        rc=$?
        line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n1)
        order=$(echo "$out" | grep -o 'ring order [^:]*' | head -n1)
        stages=$(echo "$out" | grep -c '^ok   .*hierarchical: .*stages taken')
        [ $rc -eq 0 ] && [[ "$line" == *" 0 failed" ]] && [ -n "$order" ] && { [ $algo = ring ] || [ "$stages" = 1 ]; }
        ok=$?
        check "$algo vs MPI_Allreduce on ${H}x$R ${map[*]}" $ok "$line; $order"
        [ $ok -eq 0 ] || echo "$out" | grep -v '^ok' | head -n 12 | sed 's/^/    /'
    done
done

# 3 ranks on 2 hosts of 2 slots: 2 + 1, which the hierarchical all-reduce cannot take
$C up 2 --slots 2 --rate 1000 --net 82 >/dev/null
timeout 120 $C mpirun --hostfile "$($C hostfile)" -np 3 -x OPENBLAS_NUM_THREADS "$PWD/$BIN" train configs/fashion_mlp.json \
    --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA" --set train.steps=2 \
    --set dist.algorithm=hierarchical --run-dir "$T/uneven" >/dev/null 2>"$T/uneven.err"
rc=$?
n=$(grep -c 'dist.algorithm' "$T/uneven.err")
[ $rc -ne 0 ] && [ "$n" = 1 ] && grep -q 'have 1 to 2' "$T/uneven.err"
check "dist.algorithm hierarchical on hosts of 2 and 1 ranks: one error line" $? "exit $rc: $(grep -m1 dist.algorithm "$T/uneven.err")"

# training on 2 hosts x 2 ranks placed round-robin: replicas checked every step
ARGS=(train configs/fashion_mlp.json --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA"
      --set train.steps=12 --set train.log_every=1 --set dist.check_every=1)
timeout 300 mpirun -np 4 --oversubscribe "$BIN" "${ARGS[@]}" --run-dir "$T/local" >/dev/null 2>"$T/local.err"
rc_local=$?
$C up 2 --slots 2 --rate 1000 --net 82 >/dev/null
timeout 300 $C mpirun --hostfile "$($C hostfile)" -np 4 --map-by node -x OPENBLAS_NUM_THREADS \
    "$PWD/$BIN" "${ARGS[@]}" --run-dir "$T/cl" >/dev/null 2>"$T/cl.err"
rc=$?
cmpout=$(/usr/bin/python3 - "$T/local" "$T/cl" 2>&1 <<'PY'
import json, sys
def losses(d):
    return {r["step"]: r["loss"] for r in map(json.loads, open(f"{d}/metrics.jsonl")) if "loss" in r and "event" not in r}
def algorithm(d):
    return [r for r in map(json.loads, open(f"{d}/metrics.jsonl")) if r.get("event") == "start"][0].get("algorithm")
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a) if a.keys() == b.keys() and a else float("inf")
algos = (algorithm(sys.argv[1]), algorithm(sys.argv[2]))
print(f"{len(b)} steps, max relative loss difference to local np=4 {worst:.3g}; all-reduce {algos[1]} (local {algos[0]})")
sys.exit(0 if worst <= 1e-5 and algos == ("ring", "hierarchical") else 1)
PY
)
cmp=$?
check "fashion_mlp on 2x2 --map-by node (dist.algorithm auto: hierarchical), replicas checked every step" \
    $((rc | rc_local | cmp)) "exit $rc (local $rc_local); $cmpout $(tail -n1 "$T/cl.err")"

# a timeline on 2 hosts x 1 rank at 400 Mbit/s: with the communication thread
# on, bucket reductions run during backward; with it off, none do (the
# checker must then fail: a control that it can)
$C up 2 --slots 1 --rate 400 --net 82 >/dev/null
for ov in true false; do
    timeout 300 $C mpirun --hostfile "$($C hostfile)" -np 2 -x OPENBLAS_NUM_THREADS "$PWD/$BIN" "${ARGS[@]}" \
        --set dist.check_every=0 --set dist.overlap=$ov --run-dir "$T/tl_$ov" --timeline "$T/tl_$ov.json" \
        >/dev/null 2>"$T/tl_$ov.err"
    echo "rc=$?" >>"$T/tl_$ov.err"
done
out=$(/usr/bin/python3 tests/tools/check_timeline.py "$T/tl_true.json" 2 --overlap 2>&1)
check "timeline, overlap on: balanced, one track per rank, buckets during backward" $? "$out"
/usr/bin/python3 tests/tools/check_timeline.py "$T/tl_false.json" 2 >/dev/null 2>&1
plain=$?
out=$(/usr/bin/python3 tests/tools/check_timeline.py "$T/tl_false.json" 2 --overlap 2>&1)
neg=$?
[ $plain -eq 0 ] && [ $neg -ne 0 ] && [[ "$out" == *"no bucket collective overlaps backward"* ]]
check "timeline, overlap off: balanced, and no bucket during backward" $? "$(echo "$out" | head -n1)"
$C down

# a failure injected mid-run: a rank on host 2 is killed once training has
# logged a few steps; the job must end non-zero within the deadline, and
# taking the cluster down must leave no process and no namespace behind
$C up 2 --slots 1 --rate 1000 --net 82 >/dev/null
timeout 300 $C mpirun --hostfile "$($C hostfile)" -np 2 -x OPENBLAS_NUM_THREADS "$PWD/$BIN" "${ARGS[@]}" \
    --set train.steps=100000 --set dist.check_every=0 --set dist.timeout_s=10 --run-dir "$T/inj" \
    >/dev/null 2>"$T/inj.err" &
job=$!
for _ in $(seq 1 600); do
    logged=$(grep -c '"loss"' "$T/inj/metrics.jsonl" 2>/dev/null)
    [ "${logged:-0}" -ge 3 ] && break
    kill -0 $job 2>/dev/null || break
    sleep 0.1
done
victim=$(ip netns pids "${RT_CLUSTER}_h2" | while read -r p; do
    grep -qa ringtrain "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done | head -n1)
t0=$SECONDS
[ -n "$victim" ] && kill -KILL "$victim"
wait $job
rc=$?
secs=$((SECONDS - t0))
$C down
procs=$(pgrep -fc "$T/inj")
left=$(ip netns list | grep -c "^${RT_CLUSTER}_")
[ -n "$victim" ] && [ "$rc" -ne 0 ] && [ "$secs" -le 60 ] && [ "$procs" -eq 0 ] && [ "$left" -eq 0 ]
check "a rank killed mid-run on host 2: the job ends, nothing is left" $? \
    "killed pid ${victim:-none}; exit $rc after ${secs}s; $procs processes and $left namespaces left"

left=$(ip netns list | grep -c "^${RT_CLUSTER}_")
check "no namespace left" "$left" "$left namespaces of this suite remain"
finish
