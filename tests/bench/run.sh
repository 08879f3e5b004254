#!/usr/bin/env bash
# make bench: speed figures measured side by side in one run, printed as ratios.
# Not part of make test: this machine is shared and noisy, so nothing here
# asserts a time. OpenBLAS runs one thread per rank when the ranks fill the cores.
# It ends with one table of the goals (tests/bench/goals.py).
set -eu
BIN=${BIN:-build/ringtrain}
DATA=${DATA:-data/fashion-mnist.h5}
STEPS=${STEPS:-200}
REPS=${REPS:-5} # the np = 2 figures: runs alternated with their peers, medians printed
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/rt_bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
GOALS=$T/goals.jsonl # every goal's figure, peer and ratio, printed as one table at the end
export GOALS PYTHONPATH=tests/bench
CORES=$(nproc)
# PyTorch (Debian's, BLAS_INFO=generic) reaches OpenBLAS through libblas.so.3:
# when ringtrain names the kernels because OpenBLAS does not know this CPU,
# the PyTorch peers run those same kernels
blas=$("$BIN" --version | sed -n 's/^blas: //p')
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    k=$(echo "$blas" | sed -n 's/^OpenBLAS \([A-Za-z]*\) kernels (chosen by ringtrain.*/\1/p')
    [ -n "$k" ] && export OPENBLAS_CORETYPE=$k
fi
echo "$blas${OPENBLAS_CORETYPE:+; every process here, PyTorch too, runs OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}"
echo

echo "== 1. ring all-reduce vs MPI_Allreduce (busbw; goal >= 1.0x at >= 1 MiB, >= 1.3x at 64 MiB)"
for np in 2 3 4; do
    OPENBLAS_NUM_THREADS=1 mpirun -np $np --oversubscribe "$BIN" bench allreduce --json >"$T/ring$np.jsonl"
done
/usr/bin/python3 tests/bench/goals.py ring "$T"/ring2.jsonl "$T"/ring3.jsonl "$T"/ring4.jsonl
# What the ratios compare: MPI_Allreduce once more, forced to Open MPI's own
# ring (coll tuned algorithm 4), beside ours again. At np = 2 Open MPI's default
# from 256 KiB (Rabenseifner's) is the same exchange as a ring (README, bench)
echo
echo "the same, MPI_Allreduce forced to Open MPI's own ring (--mca coll_tuned_allreduce_algorithm 4):"
for np in 2 3 4; do
    OPENBLAS_NUM_THREADS=1 mpirun -np $np --oversubscribe --mca coll_tuned_use_dynamic_rules 1 \
        --mca coll_tuned_allreduce_algorithm 4 "$BIN" bench allreduce --sizes 1M,4M --json >"$T/ompiring$np.jsonl"
done
/usr/bin/python3 tests/bench/goals.py ring-vs-ompi-ring "$T"/ring2.jsonl "$T"/ompiring2.jsonl \
    "$T"/ring3.jsonl "$T"/ompiring3.jsonl "$T"/ring4.jsonl "$T"/ompiring4.jsonl

echo
echo "== 2. single-process fashion_mlp throughput vs PyTorch (same model, batch, rows)"
/usr/bin/python3 tests/bench/mlp_single.py "$BIN" "$DATA" "$STEPS"

# steady-state samples/s of a run: median of the logged windows after the first
steady() {
    /usr/bin/python3 - "$1" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"samples_per_s"' in l and '"event"' not in l]
print(f"{statistics.median(r['samples_per_s'] for r in rows[1:]):.1f}")
PY
}
med() { # med X...: the median, and the values in run order
    /usr/bin/python3 -c 'import sys, statistics; v = [float(a) for a in sys.argv[1:]]; print(f"{statistics.median(v):.1f}")' "$@"
}
sps() { # the samples_per_s of the JSON line on stdin
    /usr/bin/python3 -c 'import sys,json; print(round(json.loads(sys.stdin.read())["samples_per_s"],1))'
}
ddp_run() { # ddp_run STEPS [cnn]: PyTorch DDP (gloo) np = 2 samples/s
    /usr/bin/python3 tests/bench/ddp_mlp.py "$DATA" 2 "$@" | sps
}
torch_run() { # torch_run THREADS[:BLAS]: PyTorch single process (OpenBLAS at BLAS threads, else THREADS), samples/s
    /usr/bin/python3 tests/bench/mlp_single.py --torch "$1" "$DATA" "$STEPS" | sps
}
ceiling() { # ceiling NP CONFIG [THREADS]: samples/s if each rank did nothing but its step's sgemm calls,
    # OpenBLAS at THREADS per rank (default as run_np's); the JSON line of the last call is kept in $T/ceiling.json
    OPENBLAS_NUM_THREADS=${3:-$((CORES / $1 > 0 ? CORES / $1 : 1))} mpirun -np "$1" --oversubscribe \
        "${OBJDIR:-build/obj}/tests/bench/bench_ceiling" \
        "$2" "$DATA" | tee "$T/ceiling.json" |
        /usr/bin/python3 -c 'import sys,json; print(round(json.loads(sys.stdin.read())["ceiling_samples_per_s"],1))'
}
ceiling_vs_peak() { # what the last ceiling's sgemm reached against the cores' FMA peak
    /usr/bin/python3 -c 'import sys,json; r = json.load(open(sys.argv[1]))
g, p, q = r["gflops_per_rank"], r["fma_peak_gflops_per_rank"], r["fma512_peak_gflops_per_rank"]
print(f"  its sgemm calls ran at {g:.1f} GFLOP/s a rank; a core issuing nothing but FMAs: 8-wide (AVX2) {p:.1f}"
      + (f" ({g / p:.2f} of it)" if p else "") + (f", 16-wide (AVX-512) {q:.1f} GFLOP/s ({g / q:.2f})" if q else ""))' \
        "$T/ceiling.json"
}
run_np() { # run_np NP DIR ARGS...: fashion_mlp, or CFG=configs/X.json
    local np=$1 dir=$2
    shift 2
    OPENBLAS_NUM_THREADS=$((CORES / np > 0 ? CORES / np : 1)) mpirun -np "$np" --oversubscribe \
        "$BIN" train "${CFG:-configs/fashion_mlp.json}" --run-dir "$T/$dir" --quiet \
        --set "data.train=$DATA" --set "data.test=$DATA" --set "train.steps=$STEPS" \
        --set train.log_every=20 --set "train.eval_every=$((STEPS * 10))" "$@" >/dev/null
}

echo
echo "== 2b. fashion_mlp, one process, 1 thread, against the 1-core sgemm ceiling of its own products (tests/bench/bench_ceiling.c), $REPS alternated runs each (issue 27 goal 2: >= 0.95)"
r1s=() c1s=()
for r in $(seq "$REPS"); do
    rm -rf "$T/mlp1"
    OPENBLAS_NUM_THREADS=1 "$BIN" train configs/fashion_mlp.json --run-dir "$T/mlp1" --quiet \
        --set "data.train=$DATA" --set "data.test=$DATA" --set "train.steps=$STEPS" \
        --set train.log_every=20 --set "train.eval_every=$((STEPS * 10))" >/dev/null
    r1s+=("$(steady "$T/mlp1/metrics.jsonl")")
    c1s+=("$(ceiling 1 configs/fashion_mlp.json 1)")
done
/usr/bin/python3 - "$(med "${r1s[@]}")" "$(med "${c1s[@]}")" "${r1s[*]}" "${c1s[*]}" <<'PY'
import sys
from goals import add
rt, ceil = float(sys.argv[1]), float(sys.argv[2])
print(f"ringtrain 1 process, 1 thread {rt:.0f}/s (runs: {sys.argv[3]}); its sgemm calls alone {ceil:.0f}/s "
      f"(runs: {sys.argv[4]}): {rt / ceil:.3f} of the ceiling")
add("27.2", f"fashion_mlp 1 process 1 thread: {rt:.0f} samples/s", f"1-core sgemm ceiling: {ceil:.0f}/s",
    rt / ceil, ">= 0.95", rt / ceil >= 0.95)
PY
ceiling_vs_peak

echo
echo "== 3. fashion_mlp at np = 2: ringtrain vs PyTorch DDP (gloo, np = 2) and PyTorch single process with 1 thread (OpenBLAS too) and with OpenBLAS at 2 threads, $REPS alternated runs each (goal 1: >= 9000/s and >= 1.6x the best PyTorch setup)"
rts=() ddps=() ones=() twos=() ceils=() blass=()
for r in $(seq "$REPS"); do
    rm -rf "$T/mlp2" "$T/mlp2b"
    RINGTRAIN_GEMM=openblas run_np 2 mlp2b
    blass+=("$(steady "$T/mlp2b/metrics.jsonl")")
    run_np 2 mlp2
    rts+=("$(steady "$T/mlp2/metrics.jsonl")")
    ddps+=("$(ddp_run "$STEPS")")
    ones+=("$(torch_run 1)")
    twos+=("$(torch_run 1:2)")
    ceils+=("$(ceiling 2 configs/fashion_mlp.json)")
done
rt2=$(med "${rts[@]}") ddp=$(med "${ddps[@]}") one=$(med "${ones[@]}") two=$(med "${twos[@]}") ceil2=$(med "${ceils[@]}")
/usr/bin/python3 -c "
rt, ddp, one, two = float($rt2), float($ddp), float($one), float($two)
print(f'ringtrain np=2 {rt:.0f}/s (runs: ${rts[*]})')
print(f'pytorch ddp np=2 {ddp:.0f}/s (runs: ${ddps[*]}): {rt / ddp:.2f}x')
print(f'pytorch single process, 1 thread {one:.0f}/s (runs: ${ones[*]}): {rt / one:.2f}x')
print(f'pytorch single process, 1 thread, OpenBLAS at 2 (torch.set_num_threads(1) alone) {two:.0f}/s (runs: ${twos[*]}): {rt / two:.2f}x')
peers = {'ddp np=2': ddp, 'single process, 1 thread': one, '1 thread, OpenBLAS 2': two}
peer = max(peers, key=peers.get)
best = peers[peer]
print(f'goal 1: ringtrain np=2 {rt:.0f}/s vs the best pytorch setup {best:.0f}/s ({peer}): {rt / best:.2f}x')
from goals import add
add('1', f'fashion_mlp np=2: {rt:.0f} samples/s', '9000/s (the floor)', rt / 9000, '>= 1.0x', rt >= 9000)
add('1', f'fashion_mlp np=2: {rt:.0f} samples/s', f'pytorch {peer}: {best:.0f}/s', rt / best, '>= 1.6x', rt / best >= 1.6)
ceil = float($ceil2)
print(f'the np=2 sgemm ceiling of its products (both ranks at once, nothing but their sgemm calls) {ceil:.0f}/s (runs: ${ceils[*]}): {rt / ceil:.3f}')
add('27.1', f'fashion_mlp np=2: {rt:.0f} samples/s', f'np=2 sgemm ceiling: {ceil:.0f}/s', rt / ceil, '>= 0.90', rt / ceil >= 0.90)
add('27.1', f'fashion_mlp np=2: {rt:.0f} samples/s', f'pytorch {peer}: {best:.0f}/s', rt / best, '>= 1.75x', rt / best >= 1.75)"
ceiling_vs_peak
/usr/bin/python3 -c '
import sys
rt, ob = float(sys.argv[1]), float(sys.argv[2])
print(f"the same, sgemm on OpenBLAS (RINGTRAIN_GEMM=openblas) {ob:.0f}/s (runs: {sys.argv[3]}): "
      f"the default ({sys.argv[4]}) is {rt / ob:.2f}x")' "$rt2" "$(med "${blass[@]}")" "${blass[*]}" \
    "$("$BIN" --version | sed -n 's/^sgemm: //p')"

/usr/bin/python3 - "$T/mlp2/metrics.jsonl" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in lines if "samples_per_s" in r and "event" not in r][1:]
done = [r for r in lines if r.get("event") == "done"][-1]
from goals import add, global_batch
step = statistics.median(global_batch(sys.argv[1]) / r["samples_per_s"] for r in rows)
wait = statistics.median(r["t_data_s"] for r in rows)
print(f"data loading: the step waits {wait * 1e3:.3f} ms for the loader's data of {step * 1e3:.1f} ms: {100 * wait / step:.2f}% (goal <= 3%)")
print(f"memory: peak RSS (largest rank) {done['peak_rss_mb']:.0f} MB, bound 1.2 x (16 B x params + activations + data path) + 40 MB = {done['rss_bound_mb']:.0f} MB: {done['peak_rss_mb'] / done['rss_bound_mb']:.2f} (goal <= 1)")
add("6", f"fashion_mlp np=2: wait for data {wait * 1e3:.3f} ms a step", f"the step: {step * 1e3:.1f} ms",
    wait / step, "<= 0.03", wait / step <= 0.03)
add("5", f"fashion_mlp np=2: peak RSS {done['peak_rss_mb']:.0f} MB (largest rank)",
    f"1.2 x (16 B x params + act. + data) + 40 MB: {done['rss_bound_mb']:.0f} MB",
    done["peak_rss_mb"] / done["rss_bound_mb"], "<= 1.0", done["peak_rss_mb"] <= done["rss_bound_mb"])
PY
# heap allocations per steady-state step on the training thread, OpenBLAS at
# one thread as when the ranks fill the cores (tests/test_alloc.c, also in make test)
for cfg in fashion_mlp fashion_cnn; do
    out=$(OPENBLAS_NUM_THREADS=1 "${OBJDIR:-build/obj}/tests/test_alloc" "$DATA" "configs/$cfg.json" 2>&1 || true)
    # the sum over its cases (adamw, sgd+clip+cosine, accum4+shuffle), 20 steps each
    n=$(echo "$out" | awk '/heap allocations on the training thread/ {
        for (i = 1; i < NF; i++) if ($(i + 1) == "heap") { s += $i; k++ } } END {if (k == 3) print s}')
    echo "allocations: $cfg, ${n:-?} heap allocations on the training thread in 3 x 20 steady-state steps"
    /usr/bin/python3 tests/bench/goals.py add 5 "$cfg: heap allocations in 60 steady-state steps: ${n:-?}" \
        "none (tests/test_alloc.c)" "" "0" "$([ "${n:-1}" = 0 ] && echo 1 || echo 0)"
done

echo
echo "== 4. overlap: np = 2 step with the ring vs the compute-only step, $REPS alternated runs each (goal <= 1.05x)"
ws=() cs=() ss=() us=()
for r in $(seq "$REPS"); do
    rm -rf "$T/default" "$T/nosync" "$T/overlap" "$T/noshard"
    # one run that takes both kinds of step in turn, 20 of each (0.5 s)
    RINGTRAIN_BENCH_NO_SYNC=alternate STEPS=$((2 * STEPS)) run_np 2 "alt$r" --set dist.check_every=0 2>/dev/null
    run_np 2 default
    RINGTRAIN_BENCH_NO_SYNC=1 run_np 2 nosync --set dist.check_every=0 2>/dev/null
    run_np 2 overlap --set dist.overlap=true
    run_np 2 noshard --set dist.shard_optimizer=false
    ws+=("$(steady "$T/default/metrics.jsonl")")
    cs+=("$(steady "$T/nosync/metrics.jsonl")")
    ss+=("$(steady "$T/overlap/metrics.jsonl")")
    us+=("$(steady "$T/noshard/metrics.jsonl")")
done
with=$(med "${ws[@]}") without=$(med "${cs[@]}") threaded=$(med "${ss[@]}") unsharded=$(med "${us[@]}")
/usr/bin/python3 -c "
import json
start = json.loads(open('$T/default/metrics.jsonl').readline())
how = f\"dist.overlap auto -> {'on' if start['overlap'] else 'off'}, {start['cores_per_rank']} core(s) per rank\"
w, c, s, u = float($with), float($without), float($threaded), float($unsharded)
print(f'compute-only (every rank runs the whole AdamW, no ring) {c:.0f}/s (runs: ${cs[*]})')
print(f'with the ring, the default ({how}; sharded AdamW) {w:.0f}/s (runs: ${ws[*]}) -> step {c / w:.3f}x compute-only')
print(f'  communication thread forced on {s:.0f}/s (runs: ${ss[*]}) -> {c / s:.3f}x; not sharded {u:.0f}/s (runs: ${us[*]}) -> {c / u:.3f}x')"
/usr/bin/python3 - "$T"/alt*/metrics.jsonl <<'PY'
import json, statistics, sys
kind = {True: [], False: []}
per_run = []
for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if '"bench_sync"' in l][1:]
    run = {k: statistics.median(r["samples_per_s"] for r in rows if r["bench_sync"] == k) for k in kind}
    per_run.append(f"{run[False] / run[True]:.3f}")
    for r in rows:
        kind[r["bench_sync"]].append(r["samples_per_s"])
w, c = statistics.median(kind[True]), statistics.median(kind[False])
print(f"in one run, steps with and without the ring in turns of 20 (the ranks meet at each turn's end), "
      f"{len(kind[True])} + {len(kind[False])} windows over {len(sys.argv) - 1} runs: with the ring {w:.0f}/s, "
      f"compute-only {c:.0f}/s -> step {c / w:.3f}x compute-only (per run: {' '.join(per_run)})")
# the goal is judged on these windows: both kinds of step share the run, the
# rows and the moment, where separate runs minutes apart differ by 30% or more
from goals import add, global_batch
batch = global_batch(sys.argv[1])
add("4", f"np=2 step with the ring, in one run: {batch * 1e3 / w:.2f} ms",
    f"compute-only step, same run: {batch * 1e3 / c:.2f} ms", c / w, "<= 1.05x", c / w <= 1.05)
PY

echo "== 5. checkpoint write vs a raw write of the same bytes (params + AdamW m, v; goal <= 1.5x)"
"${OBJDIR:-build/obj}/tests/bench/bench_ckpt" "$T" 1863690 50000000 | tee "$T/ckpt.txt"
/usr/bin/python3 - "$T/ckpt.txt" <<'PY'
import sys
from goals import add
for line in open(sys.argv[1]).read().splitlines()[1:]:
    n, ck, raw, _ = line.split()
    ratio = float(ck) / float(raw)
    add("27.5", f"checkpoint write, {int(n) / 1e6:.1f} M params: {float(ck):.3f} s",
        f"raw write + fsync, same bytes: {float(raw):.3f} s", ratio, "<= 1.5x", ratio <= 1.5)
PY

echo
echo "== 6. fashion_cnn at np = 2: ringtrain vs PyTorch DDP (gloo, np = 2), global batch 128, $REPS alternated runs each (goal >= 1.5x)"
rtcs=() ddpcs=() ceilcs=()
for r in $(seq "$REPS"); do
    rm -rf "$T/cnn2"
    CFG=configs/fashion_cnn.json run_np 2 cnn2
    rtcs+=("$(steady "$T/cnn2/metrics.jsonl")")
    ddpcs+=("$(ddp_run "$((STEPS / 2))" cnn)")
    ceilcs+=("$(ceiling 2 configs/fashion_cnn.json)")
done
rtc=$(med "${rtcs[@]}") ddpc=$(med "${ddpcs[@]}") ceilc=$(med "${ceilcs[@]}")
/usr/bin/python3 -c "
from goals import add
rt, ddp = float($rtc), float($ddpc)
print(f'ringtrain np=2 {rt:.0f}/s (runs: ${rtcs[*]}), pytorch ddp np=2 {ddp:.0f}/s (runs: ${ddpcs[*]}): {rt / ddp:.2f}x')
add('2', f'fashion_cnn np=2: {rt:.0f} samples/s', f'pytorch ddp np=2: {ddp:.0f}/s', rt / ddp, '>= 1.5x', rt / ddp >= 1.5)
ceil = float($ceilc)
print(f'the np=2 sgemm ceiling of its products {ceil:.0f}/s (runs: ${ceilcs[*]}): {rt / ceil:.3f}')
add('27.3', f'fashion_cnn np=2: {rt:.0f} samples/s', f'pytorch ddp np=2: {ddp:.0f}/s', rt / ddp, '>= 2.0x', rt / ddp >= 2.0)
add('27.3', f'fashion_cnn np=2: {rt:.0f} samples/s', f'np=2 sgemm ceiling: {ceil:.0f}/s', rt / ceil, '>= 0.70', rt / ceil >= 0.70)"
ceiling_vs_peak

echo
echo "== 7. a training set larger than the memory budget (tests/test_bigdata.sh: 3 GB HDF5, np = 2, data.memory_budget_mb=256)"
BIGDATA_DONE="$T/bigdata.json" tests/test_bigdata.sh "$BIN" "$DATA" | grep -v '^[0-9]* passed'
/usr/bin/python3 - "$T/bigdata.json" <<'PY'
import json, os, sys
from goals import add
r = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
d, budget = r.get("done") or {}, r.get("budget_mb")
rss, data_mb = d.get("peak_rss_mb"), d.get("data_mb")
if rss is None or budget is None:
    add("7", "3 GB training set: the run failed", "data.memory_budget_mb", None, "< 1.0", False)
else:
    add("7", f"3 GB training set, np=2: peak RSS {rss:.0f} MB (data path {data_mb:.0f} MB)",
        f"data.memory_budget_mb: {budget} MB", rss / budget, "< 1.0", rss < budget)
PY

echo
echo "== 8. fashion_rectflow_dit at np = 2: ringtrain vs the best PyTorch setup of the same DiT (tests/bench/dit_torch.py: 1 and 2 threads, 1 thread with OpenBLAS at 2, DDP gloo np = 2), $REPS alternated runs each (goal >= 1.5x)"
DSTEPS=$((STEPS / 5 > 10 ? STEPS / 5 : 10))
rtds=() t1s=() t2s=() t12s=() tds=() ceilds=()
for r in $(seq "$REPS"); do
    rm -rf "$T/dit2"
    CFG=configs/fashion_rectflow_dit.json STEPS=$((DSTEPS * 2)) run_np 2 dit2 --set train.log_every=10
    rtds+=("$(steady "$T/dit2/metrics.jsonl")")
    t1s+=("$(/usr/bin/python3 tests/bench/dit_torch.py configs/fashion_rectflow_dit.json "$DATA" "$DSTEPS" single 1 | sps)")
    t2s+=("$(/usr/bin/python3 tests/bench/dit_torch.py configs/fashion_rectflow_dit.json "$DATA" "$DSTEPS" single 2 | sps)")
    t12s+=("$(/usr/bin/python3 tests/bench/dit_torch.py configs/fashion_rectflow_dit.json "$DATA" "$DSTEPS" single 1:2 | sps)")
    tds+=("$(/usr/bin/python3 tests/bench/dit_torch.py configs/fashion_rectflow_dit.json "$DATA" "$DSTEPS" ddp 2 | sps)")
    ceilds+=("$(ceiling 2 configs/fashion_rectflow_dit.json)")
done
/usr/bin/python3 - "$(med "${rtds[@]}")" "$(med "${t1s[@]}")" "$(med "${t2s[@]}")" "$(med "${t12s[@]}")" \
    "$(med "${tds[@]}")" "$(med "${ceilds[@]}")" "${rtds[*]}" "${t1s[*]}" "${t2s[*]}" "${t12s[*]}" "${tds[*]}" \
    "${ceilds[*]}" <<'PY'
import sys
from goals import add
rt, t1, t2, t12, td, ceil = (float(v) for v in sys.argv[1:7])
runs = sys.argv[7:13]
peers = {"single process, 1 thread": t1, "single process, 2 threads": t2, "1 thread, OpenBLAS 2": t12,
         "ddp np=2": td}
print(f"ringtrain np=2 {rt:.0f}/s (runs: {runs[0]})")
print(f"pytorch: 1 thread {t1:.0f}/s (runs: {runs[1]}), 2 threads {t2:.0f}/s (runs: {runs[2]}), "
      f"1 thread with OpenBLAS at 2 {t12:.0f}/s (runs: {runs[3]}), ddp np=2 {td:.0f}/s (runs: {runs[4]})")
best = max(peers, key=peers.get)
add("21", f"fashion_rectflow_dit np=2: {rt:.0f} samples/s", f"pytorch {best}: {peers[best]:.0f}/s",
    rt / peers[best], ">= 1.5x", rt / peers[best] >= 1.5)
print(f"the np=2 sgemm ceiling of its products {ceil:.0f}/s (runs: {runs[5]}): {rt / ceil:.3f}")
add("27.4", f"fashion_rectflow_dit np=2: {rt:.0f} samples/s", f"pytorch {best}: {peers[best]:.0f}/s",
    rt / peers[best], ">= 1.8x", rt / peers[best] >= 1.8)
add("27.4", f"fashion_rectflow_dit np=2: {rt:.0f} samples/s", f"np=2 sgemm ceiling: {ceil:.0f}/s",
    rt / ceil, ">= 0.65", rt / ceil >= 0.65)
PY
ceiling_vs_peak

echo
echo "== the performance goals, measured above in this run (issue 7's, and issue 21's DiT)"
/usr/bin/python3 tests/bench/goals.py table
