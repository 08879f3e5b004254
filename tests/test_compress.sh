#!/usr/bin/env bash
# dist.compress "bf16" in training: fashion_mlp at np=2. Checks: gradients on
# the wire take half the float32 bytes (the metrics' wire_bytes, without the
# sharded optimizer, whose parameter all-gather stays float32; with it, the
# reduce-scatter's half); replicas stay bitwise identical (the check every
# step); /dist/residual holds one nonzero row per rank; stop and resume is
# bitwise exact, sharded or not; a resume at np=3 warns that rank 0 takes the
# residuals' sum and goes on; and after one epoch the test accuracy is within
# 0.005 of the float32 run's (fashion_cnn: after two epochs). The collective itself is checked against
# MPI_Allreduce in tests/test_ring.c.
# usage: tests/test_compress.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_compress.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI=(mpirun -np 2 --oversubscribe)
ARGS=(configs/fashion_mlp.json --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA"
      --set train.eval_every=100000 --set train.log_every=5)
field() { grep -o "\"$2\":[0-9.e+-]*" "$1" | tail -n1 | cut -d: -f2; }

# ---- bytes on the wire, and identical replicas ----
for run in "f32 none true" "bf16 bf16 true" "f32ns none false" "bf16ns bf16 false"; do
    read -r name comp shard <<<"$run"
    "${MPI[@]}" "$BIN" train "${ARGS[@]}" --set train.steps=20 --set dist.compress=$comp \
        --set dist.shard_optimizer=$shard --set dist.check_every=1 --run-dir "$T/$name" >/dev/null 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
done
rcs=$(cat "$T"/f32.rc "$T"/bf16.rc "$T"/f32ns.rc "$T"/bf16ns.rc | tr -d '\n')
a=$(field "$T/f32ns/metrics.jsonl" wire_bytes) b=$(field "$T/bf16ns/metrics.jsonl" wire_bytes)
c=$(field "$T/f32/metrics.jsonl" wire_bytes) d=$(field "$T/bf16/metrics.jsonl" wire_bytes)
nom=$(for n in f32ns bf16ns f32 bf16; do field "$T/$n/metrics.jsonl" wire_bytes_per_step; done | tr '\n' ' ')
# each step also sends its 4 sums (32 bytes at np=2, float32 either way); sharded, the
# parameters' all-gather is as many bytes as the float32 reduce-scatter; the start
# event's nominal bytes are the gradients' alone
/usr/bin/python3 - "$a" "$b" "$c" "$d" $nom <<'PY'
import sys
a, b, c, d = (float(v) for v in sys.argv[1:5])
ok = a - 32 == 2 * (b - 32) and (c - 32) == 4 * (c - d) and b > 32
ok = ok and len(sys.argv) == 9 and [float(v) + 32 for v in sys.argv[5:9]] == [a, b, c, d]
sys.exit(0 if ok else 1)
PY
check "bf16 halves the gradients' bytes" $((${rcs//0/} + $?)) "exit codes $rcs; per step, not sharded: float32 $a, bf16 $b bytes; sharded: $c, $d; start events' nominal bytes $nom; replicas checked every step"

# ---- the residuals in the checkpoint ----
out=$(/usr/bin/python3 - "$T/bf16/ckpt/step_00000020.h5" <<'PY' 2>&1
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
r = f["dist/residual"]
rows = int(r.attrs["rows"]); x = r[()].reshape(rows, -1); P = x.shape[1]
nz = [int(np.count_nonzero(x[q])) for q in range(rows)]
big = float(np.abs(x).max())
print(f"{rows} rows of {P}; nonzero per row {nz}; max |r| {big:.3g}")
sys.exit(0 if rows == 2 and min(nz) > P // 4 and 0 < big < 1 else 1)
PY
)
check "/dist/residual" $? "$out"

# ---- stop and resume, bitwise ----
resume_bitexact "bf16: bit-exact resume np=2 (sharded)" "$T/r1" 10 "${MPI[@]}" "$BIN" train "${ARGS[@]}" \
    --set train.steps=10 --set dist.compress=bf16
resume_bitexact "bf16: bit-exact resume np=2 (not sharded)" "$T/r2" 10 "${MPI[@]}" "$BIN" train "${ARGS[@]}" \
    --set train.steps=10 --set dist.compress=bf16 --set dist.shard_optimizer=false

# ---- another world size: rank 0 takes the sum ----
mpirun -np 3 --oversubscribe "$BIN" train "${ARGS[@]}" --set train.steps=25 --set dist.compress=bf16 \
    --set dist.check_every=1 --resume auto --run-dir "$T/bf16" >/dev/null 2>"$T/np3.err"
rc=$?
[ "$(grep -c "residuals are of 2 ranks, this job has 3: rank 0 takes their sum" "$T/np3.err")" = 1 ]
check "bf16: resume at np=3" $((rc | $?)) "exit $rc; $(grep -o 'warning: [^:]*: dist.compress.*' "$T/np3.err" | head -c 160)"

# ---- accuracy against float32: fashion_mlp after one epoch, fashion_cnn after two ----
for run in "mlp fashion_mlp 1 0.80" "cnn fashion_cnn 2 0.88"; do
    read -r name cfg epochs floor <<<"$run"
    for comp in none bf16; do
        "${MPI[@]}" "$BIN" train configs/$cfg.json "${ARGS[@]:1}" --set train.epochs=$epochs --set dist.compress=$comp \
            --run-dir "$T/e_${name}_$comp" >/dev/null 2>&1
    done
    a=$(field "$T/e_${name}_none/metrics.jsonl" test_acc) b=$(field "$T/e_${name}_bf16/metrics.jsonl" test_acc)
    /usr/bin/python3 -c "import sys; a, b, f = map(float, sys.argv[1:4]); sys.exit(0 if abs(a - b) <= 0.005 and a > f else 1)" \
        "${a:-nan}" "${b:-nan}" "$floor"
    check "bf16: $cfg's test accuracy after $epochs epoch(s) within 0.005 of float32" $? "float32 $a, bf16 $b"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
