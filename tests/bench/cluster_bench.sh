#!/usr/bin/env bash
# make cluster-bench: the ring on emulated hosts (tests/cluster/cluster.sh)
# at a real link speed, measured side by side in one run, with the goals of
# the multi-node issue:
#   - H = 2 and 4 hosts x 1 rank at RATE Mbit/s: the ring's busbw against the
#     link bound (a ring's busbw cannot exceed the link rate; goal >= 0.90)
#     and against MPI_Allreduce over the same links (goal >= 1.2x), 4-64 MiB;
#   - 2 hosts x 2 ranks placed round-robin (--map-by node): the host-major
#     ring against the launcher's rank order at 16 MiB (goal >= 1.8x, bound 2x),
#     and the hierarchical all-reduce against the host-major ring (goal >= 1.35x,
#     bound 1.5x);
#   - 2 hosts x 1 rank: the ring with bf16 on the wire against the float32
#     ring, busbw in float32 bytes, 16 and 64 MiB (the compression issue's
#     goal >= 1.8x, bound 2x).
# usage: tests/bench/cluster_bench.sh [BIN]   (RATE=400 ITERS=3 SIZES=4M,16M,64M)
set -u
BIN=${1:-build/ringtrain}
RATE=${RATE:-400} ITERS=${ITERS:-3} SIZES=${SIZES:-4M,16M,64M}
export RT_CLUSTER=rtb$$ OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
C=tests/cluster/cluster.sh
T=$(mktemp -d /tmp/rt_cbench.XXXXXX)
trap '$C down; rm -rf "$T"' EXIT
bound=$(awk -v r="$RATE" 'BEGIN {print r * 1e6 / 8 / 1e9}') # GB/s
bench() { # bench NAME H R [mpirun options] -- [bench options]
    local name=$1 h=$2 r=$3
    shift 3
    local mp=()
    while [ "$1" != -- ]; do mp+=("$1"); shift; done
    shift
    $C up "$h" --slots "$r" --rate "$RATE" --net 84 >/dev/null
    $C mpirun --hostfile "$($C hostfile)" -np $((h * r)) "${mp[@]}" "$PWD/$BIN" bench allreduce --json \
        --iters "$ITERS" "$@" >"$T/$name.json" 2>"$T/$name.err" || { echo "$name failed:"; cat "$T/$name.err"; }
    $C down
}
echo "cluster-bench: emulated hosts at $RATE Mbit/s (link bound $bound GB/s busbw), $ITERS calls per round"
bench h2 2 1 -- --sizes "$SIZES"
bench h4 4 1 -- --sizes "$SIZES"
bench topo_rank 2 2 --map-by node -- --sizes 16M --order rank
bench topo_host 2 2 --map-by node -- --sizes 16M --order topology
bench topo_hier 2 2 --map-by node -- --sizes 16M --algorithm hierarchical
bench bf16 2 1 -- --sizes 16M,64M --compress bf16
/usr/bin/python3 - "$T" "$bound" <<'PY'
import json, sys, os
d, bound = sys.argv[1], float(sys.argv[2])
def rows(name):
    p = os.path.join(d, name + ".json")
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
table = []
for name, hosts in (("h2", 2), ("h4", 4)):
    for r in rows(name):
        mib = r["bytes"] >> 20
        table.append((f"ring busbw, {hosts} hosts x 1, {mib} MiB", r["ring_busbw_gbs"], "link bound", bound, 0.90))
        table.append((f"ring vs MPI_Allreduce, {hosts} hosts x 1, {mib} MiB", r["ring_busbw_gbs"],
                      "MPI_Allreduce", r["mpi_busbw_gbs"], 1.2))
a, b = rows("topo_rank"), rows("topo_host")
if a and b:
    table.append(("host-major ring, 2x2 --map-by node, 16 MiB", b[0]["ring_busbw_gbs"], "rank-order ring",
                  a[0]["ring_busbw_gbs"], 1.8))
h = rows("topo_hier")
if h and b:
    table.append(("hierarchical, 2x2 --map-by node, 16 MiB", h[0]["ring_busbw_gbs"], "host-major ring",
                  b[0]["ring_busbw_gbs"], 1.35))
for r in rows("bf16"):
    table.append((f"bf16 on the wire, 2 hosts x 1, {r['bytes'] >> 20} MiB", r["ring_busbw_gbs"], "float32 ring",
                  r["f32_busbw_gbs"], 1.8))
print(f"{'figure':52s} {'GB/s':>8s}  {'peer or bound':16s} {'GB/s':>8s} {'ratio':>7s} {'goal':>6s}  met")
met = 0
for name, v, peer, pv, goal in table:
    ratio = v / pv if pv else float("nan")
    ok = ratio >= goal
    met += ok
    print(f"{name:52s} {v:8.4f}  {peer:16s} {pv:8.4f} {ratio:6.2f}x {goal:5.2f}x  {'yes' if ok else 'no'}")
print(f"{met} of {len(table)} goals met")
PY
