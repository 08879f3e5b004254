#!/usr/bin/env bash
# The DiT rectified flow against its PyTorch reference (tests/reference/dit_ref.py,
# the same names as facebookresearch/DiT's module) and the trainer's invariants:
#   - forward and backward on the same weights and inputs (v within 1e-5
#     relative, every gradient within 1e-4);
#   - 20 training steps, shuffle off, from the same initial weights: the
#     losses within 1e-5 relative (torch regenerates the noise, timesteps and
#     label dropout from the row keys);
#   - the sampler with classifier-free guidance (cfg 2) replayed in torch from
#     the file's /noise and /labels, within 1e-4;
#   - the same losses at np = 1, 2 and 3 (within 1e-5), a bit-exact resume at
#     np = 2, and the bad inputs of a DiT config and of the sampler.
# usage: tests/test_dit.sh [BIN] [DATA.h5] [OBJDIR]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
OBJDIR=${3:-build/obj}
T=$(mktemp -d /tmp/rt_dit.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
REF=tests/reference/dit_ref.py
CFG=tests/dit_small.json
D=(--set "data.train=$DATA" --set "data.test=$DATA")
# the small config with its class count written out, as the reference reads it
$PY -c 'import json,sys; c=json.load(open(sys.argv[1])); c["model"]["num_classes"]=10; json.dump(c,open(sys.argv[2],"w"))' \
    "$CFG" "$T/dit.json"

# ---- forward and backward on the same weights ----
$PY $REF init "$T/dit.json" "$T/p.h5" --n 4 >"$T/init.out" 2>&1 &&
    "$OBJDIR/tests/test_dit_dump" "$T/dit.json" "$T/p.h5" >"$T/dump.out" 2>&1 &&
    $PY $REF compare "$T/dit.json" "$T/p.h5" >"$T/compare.out" 2>&1
check "forward and backward vs torch" $? "$(grep -E '^(ok|FAIL)' "$T/compare.out" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"

# ---- 20 training steps ----
"$BIN" train "$T/dit.json" --run-dir "$T/train" --quiet "${D[@]}" --set data.shuffle=false \
    --set "init.from=$T/p.h5" >"$T/train.out" 2>&1 &&
    $PY $REF train "$T/dit.json" "$T/p.h5" "$DATA" "$T/train" --steps 20 >"$T/train_ref.out" 2>&1
check "20 training steps vs torch" $? "$(grep -E '^(ok|FAIL)' "$T/train_ref.out" | tail -n 1 | cut -c1-200)"

# ---- the guided sampler, replayed ----
ck="$T/train/ckpt/step_00000020.h5"
"$BIN" sample "$ck" --class all --n 20 --cfg 2 --steps 10 --seed 3 --out "$T/s.h5" >/dev/null 2>"$T/s.err" &&
    $PY $REF replay "$ck" "$T/s.h5" >"$T/replay.out" 2>&1
check "sampler replay (cfg 2)" $? "$(grep -E '^(ok|FAIL)' "$T/replay.out" | tail -n 1)"
"$BIN" sample "$ck" --class all --n 30 --cfg 2 --steps 5 --out "$T/grid.png" >/dev/null 2>&1 &&
    "$OBJDIR/tests/test_pngdecode" "$T/grid.png" 92 302 >"$T/png.out" 2>&1
check "one grid row per class" $? "$(head -n1 "$T/png.out")"

# ---- world-size independence: the same losses at np = 1, 2, 3 ----
for np in 1 2 3; do
    timeout 600 mpirun -np $np --oversubscribe "$BIN" train "$CFG" --run-dir "$T/np$np" --quiet "${D[@]}" \
        --set train.steps=12 >"$T/np$np.out" 2>&1 || echo "np=$np exit $?" >>"$T/np.err"
done
$PY - "$T" <<'PY' >"$T/np.out"
import json, sys
t = sys.argv[1]
L = {np: [json.loads(l)["loss"] for l in open(f"{t}/np{np}/metrics.jsonl") if '"event"' not in l] for np in (1, 2, 3)}
worst = max(abs(a - b) / abs(b) for np in (2, 3) for a, b in zip(L[np], L[1]))
ok = all(len(L[np]) == 12 for np in L) and worst <= 1e-5
print(f"12 steps: max rel diff of np=2,3 against np=1 {worst:.2e} (tol 1e-5)")
sys.exit(0 if ok else 1)
PY
check "losses at np=1,2,3" $? "$(cat "$T/np.out") $(cat "$T/np.err" 2>/dev/null)"

# ---- bit-exact resume at np = 2 ----
mkdir -p "$T/resume"
resume_bitexact "bit-exact resume np=2" "$T/resume" 12 \
    timeout 600 mpirun -np 2 "$BIN" train "$CFG" --quiet "${D[@]}" --set train.steps=12

# ---- bad input ----
train=("$BIN" train "$CFG" --run-dir "$T/bad" --quiet "${D[@]}" --set train.steps=1)
expect_bad "hidden not divisible by heads" "model.hidden: 64 is not divisible by model.heads 3" "${train[@]}" --set model.heads=3
expect_bad "patch that does not divide the image" "model.patch: 5 does not divide the 28x28 image" "${train[@]}" --set model.patch=5
expect_bad "hidden not divisible by 4" "model.hidden: 66 is not divisible by 4" "${train[@]}" --set model.hidden=66 --set model.heads=2
expect_bad "a DiT key on a conv net" "model.depth: a key of the dit net; this model's net is conv" \
    "$BIN" train configs/fashion_rectflow_conv.json --quiet --set model.depth=3
expect_bad "--class out of range" "--class: 10 is not a class of this model (0 to 9)" "$BIN" sample "$ck" --class 10 --out "$T/x.png"
"$BIN" train "$CFG" --run-dir "$T/uncond" --quiet "${D[@]}" --set train.steps=1 --set model.class_cond=false >/dev/null 2>&1
expect_bad "--cfg on a model without classes" "--cfg: this model has no classes to guide by" \
    "$BIN" sample "$T/uncond/ckpt/step_00000001.h5" --cfg 2 --out "$T/x.png"
finish
