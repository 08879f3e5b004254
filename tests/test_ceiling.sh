#!/usr/bin/env bash
# make bench's sgemm ceiling (tests/bench/bench_ceiling.c) must record every
# product of a training step: the FLOP it records per rank equal the model's
# products counted here from the layer shapes, for fashion_mlp and fashion_cnn
# at np = 1 and 2, and one short replay gives a positive time that matches
# the recorded FLOP count.
# usage: tests/test_ceiling.sh [OBJDIR] [DATA.h5]
set -u
OBJDIR=${1:-build/obj}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_ceiling.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
B="$OBJDIR/tests/bench/bench_ceiling"

# FLOP per sample of forward and backward, from the shapes: a product of
# (m x k)(k x n) is 2mkn; each layer runs forward, dW and dX, but the first
# layer's dX (the input's gradient) is never needed
mlp=$((2 * (784 * 1024 * 2 + 1024 * 1024 * 3 + 1024 * 10 * 3)))
# convolutions as im2col products: (cout x cin*9)(cin*9 x H*W)
conv1=$((2 * 32 * 9 * 784)) conv2=$((2 * 64 * 288 * 196))
cnn=$((conv1 * 2 + conv2 * 3 + 2 * 3136 * 128 * 3 + 2 * 128 * 10 * 3))

for np in 1 2; do
    for m in "fashion_mlp $mlp 256" "fashion_cnn $cnn 128"; do
        set -- $m
        timeout 300 mpirun -np $np --oversubscribe "$B" "configs/$1.json" "$DATA" --flops-only \
            >"$T/out" 2>"$T/err"
        rc=$?
        got=$(/usr/bin/python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["max_rank_flop_per_step"]))' \
            "$T/out" 2>/dev/null)
        want=$(($2 * $3 / np))
        ok=1
        [ "$rc" -eq 0 ] && [ "${got:-0}" = "$want" ] && ok=0
        check "$1 np=$np FLOP per rank a step" $ok "recorded ${got:-none}, from the shapes $want (exit $rc)$(head -c 200 "$T/err")"
    done
done

timeout 300 mpirun -np 2 --oversubscribe "$B" configs/fashion_mlp.json "$DATA" --seconds 0.5 >"$T/out" 2>"$T/err"
rc=$?
res=$(/usr/bin/python3 - "$T/out" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
s, g, c = r["sgemm_s_per_step"], r["gflops_per_rank"], r["ceiling_samples_per_s"]
ok = s > 0 and abs(g - r["max_rank_flop_per_step"] / s * 1e-9) < 0.01 * g and abs(c - 256 / s) < 0.01 * c
print(f"{'0' if ok else '1'} {s * 1e3:.2f} ms a step, {g:.1f} GFLOP/s a rank, ceiling {c:.0f} samples/s")
PY
)
check "replay at np=2" $([ "$rc" -eq 0 ] && [ "${res%% *}" = 0 ] && echo 0 || echo 1) "${res#* } (exit $rc)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
