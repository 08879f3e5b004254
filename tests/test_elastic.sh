#!/usr/bin/env bash
# Elastic restart on the emulated cluster (tests/cluster/cluster.sh): 3 hosts,
# one rank each, 1 Gbit/s links. jobs/elastic.sh trains a GELU fashion_mlp at
# np = 3; mid-run host 3's link goes down. The ranks' deadline fires, the
# supervisor finds host 3 gone, and restarts at np = 2 on hosts 1 and 2 from
# the latest checkpoint. Checks: the run finishes (exit 0); metrics.jsonl has
# one elastic_restart event (3 -> 2, host 3 dropped, the checkpoint's step);
# every loss after the restart matches an uninterrupted np = 2 run within
# 1e-5 (relative); nothing is left running on any host; the cluster is gone
# at the end.
# usage: tests/test_elastic.sh [BIN] [DATA.h5]   (RT_KEEP=1 keeps the scratch directory)
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_elastic.XXXXXX)
export RT_CLUSTER=rte$$
C=tests/cluster/cluster.sh
cleanup() {
    $C down
    pkill -KILL -f "ringtrain train .*$T" 2>/dev/null
    [ -n "${RT_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
$C up 3 --rate 1000 --net 79 || { check "cluster up" 1 "cannot build 3 namespace hosts"; finish; exit; }
STEPS=120
ARGS=(configs/fashion_mlp.json --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA"
      --set model.layers.1.type=gelu --set model.layers.3.type=gelu --set train.steps=$STEPS
      --set train.checkpoint_every=20 --set train.log_every=1 --set dist.timeout_s=3)

# the uninterrupted run at the world size the elastic run ends at
timeout 300 mpirun -np 2 --oversubscribe "$BIN" train "${ARGS[@]}" --run-dir "$T/ref" >/dev/null 2>"$T/ref.err"
check "uninterrupted run at np=2" $? "$STEPS steps, exit code above"

RINGTRAIN=$BIN RT_MPIRUN="$C mpirun" RT_PROBE="$C probe" timeout -k 10 400 \
    jobs/elastic.sh --hostfile "$($C hostfile)" --min-np 2 "${ARGS[@]}" --run-dir "$T/el" >"$T/el.out" 2>"$T/el.err" &
job=$!
for _ in $(seq 1200); do grep -q '"step":50,' "$T/el/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
t0=$SECONDS
$C link 3 down
wait $job
rc=$?
secs=$((SECONDS - t0))
$C status | sed 's/^/    /'
/usr/bin/python3 - "$T/ref" "$T/el" "$STEPS" <<'PY'
import json, sys
ref, el, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rows(d):
    out = {}
    for l in open(f"{d}/metrics.jsonl"):
        r = json.loads(l)
        if "loss" in r and "event" not in r:
            out[r["step"]] = r["loss"]
    return out
ev = [json.loads(l) for l in open(f"{el}/metrics.jsonl") if '"elastic_restart"' in l]
starts = [json.loads(l) for l in open(f"{el}/metrics.jsonl") if '"event":"start"' in l]
a, b = rows(ref), rows(el)
ok = len(ev) == 1 and ev[0]["old_world_size"] == 3 and ev[0]["new_world_size"] == 2 and \
    ev[0]["hosts_dropped"] == ["10.213.79.3"] and ev[0]["step"] > 0
at = ev[0]["step"] if ev else steps
after = [s for s in range(at + 1, steps + 1)]
worst = max((abs(b[s] - a[s]) / abs(a[s]) for s in after if s in b), default=float("inf"))
ok = ok and all(s in b for s in after) and worst <= 1e-5 and [s["world_size"] for s in starts] == [3, 2]
print(f"event {ev[0] if ev else None}; starts at world sizes {[s['world_size'] for s in starts]}; "
      f"{len(after)} losses after the restart, max relative difference to np=2 {worst:.3g}")
sys.exit(0 if ok else 1)
PY
cmp=$?
check "3 hosts -> host 3 lost -> continues on 2" $((rc | cmp)) "exit $rc, ${secs}s after the link went down; $(grep '^elastic: mpirun exited' "$T/el.err")"

# nothing is left on any host once the supervisor is done
left=0
for _ in $(seq 30); do
    left=$($C status | awk '/processes/ {n += $(NF-1)} END {print n + 0}')
    [ "$left" -eq 0 ] && break
    sleep 1
done
check "nothing left running on the hosts" "$left" "$left processes in the namespaces"
$C down
ip netns list | grep -q "^${RT_CLUSTER}_" && gone=1 || gone=0
check "cluster down removes every namespace" $gone "$(ip netns list | grep -c "^${RT_CLUSTER}_") left"
finish
