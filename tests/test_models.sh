#!/usr/bin/env bash
# The seed models trained for real at np=2 on real data: the CNN on
# Fashion-MNIST (accuracy, checkpoint into torch.nn.Conv2d), NICE (NLL and
# log-det parity with a torch NICE on the same weights; bits/dim within 2% of
# a torch run of the same config, steps and initial weights), rectified flow
# on two moons generated here (mean, covariance and MMD against a
# shuffled-data baseline), and `ringtrain sample` PNG grids for both
# generative models, decoded by libpng.
# usage: tests/test_models.sh [BIN] [DATA.h5] [OBJDIR]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
OBJDIR=${3:-build/obj}
T=$(mktemp -d /tmp/rt_models.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
MPI=(mpirun -np 2 -q)

# train NAME CONFIG ARGS...: an np=2 run into $T/NAME; its done line in $T/NAME.done
train() {
    local name=$1 cfg=$2
    shift 2
    "${MPI[@]}" "$BIN" train "$cfg" --run-dir "$T/$name" --quiet --set "data.test=$DATA" "$@" \
        >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    grep '"event":"done"' "$T/$name.out" >"$T/$name.done"
    [ $rc -eq 0 ] || sed 's/^/    /' "$T/$name.err" | head -n 5
    return $rc
}
field() { $PY -c "import json,sys; print(json.loads(open(sys.argv[1]).read())[sys.argv[2]])" "$1" "$2"; }
latest() { echo "$T/$1/ckpt/$(cat "$T/$1/ckpt/latest")"; }

# ---- C invariants: NICE inversion and log-det, flow keys, CNN shapes ----
"$OBJDIR/tests/test_models" >"$T/unit.out" 2>&1
rc=$?
sed 's/^/    /' "$T/unit.out"
check "model invariants" $rc "$(tail -n1 "$T/unit.out")"

# ---- CNN: 300 steps at np=2, then into torch.nn.Conv2d ----
train cnn configs/fashion_cnn.json --set "data.train=$DATA" --set train.steps=300 --set train.log_every=50
rc=$?
acc=$([ $rc -eq 0 ] && field "$T/cnn.done" test_acc || echo 0)
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.84 else 1)" "$acc"
check "cnn np=2 300 steps" $? "exit $rc, test_acc $acc (want >= 0.84 after 300 of the 2340 steps of 5 epochs)"
if [ $rc -eq 0 ]; then
    $PY tests/reference/interop.py "$BIN" "$(latest cnn)" "$DATA" >"$T/interop.out" 2>&1
    check "cnn checkpoint in torch" $? "$(tail -n1 "$T/interop.out")"
fi

# ---- every parameterless layer kind too: a small net into the equivalent torch.nn modules ----
cat >"$T/layers.json" <<'JSON'
{"model": {"type": "sequential", "input": [1, 28, 28], "layers": [
  {"name": "c1", "type": "conv2d", "out": 8, "kernel": [3, 2], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]},
  {"type": "gelu"}, {"type": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1},
  {"type": "upsample", "scale": [2, 4], "mode": "bilinear", "align_corners": true},
  {"type": "maxpool2d", "kernel": 3, "stride": 2, "padding": 1},
  {"type": "pixel_unshuffle", "factor": 2}, {"type": "pixel_shuffle", "factor": 2},
  {"type": "upsample", "scale": 2, "mode": "nearest"}, {"type": "maxpool2d", "kernel": 2},
  {"name": "ln", "type": "layernorm"}, {"type": "dropout", "p": 0.2}, {"type": "tanh"},
  {"type": "sigmoid"}, {"type": "softplus"}, {"type": "silu"}, {"type": "relu"},
  {"type": "flatten"}, {"name": "fc", "type": "linear", "out": 10}]},
 "data": {"mean": 0.286, "std": 0.353},
 "train": {"global_batch": 64, "steps": 30, "seed": 3, "log_every": 10, "eval_batch": 500}}
JSON
"$BIN" train "$T/layers.json" --run-dir "$T/layers" --quiet --set "data.train=$DATA" --set "data.test=$DATA" \
    >"$T/layers.out" 2>"$T/layers.err"
rc=$?
if [ $rc -eq 0 ]; then
    $PY tests/reference/interop.py "$BIN" "$(latest layers)" "$DATA" >"$T/interop2.out" 2>&1
    rc=$?
fi
check "every layer kind in torch" $rc "$(tail -n1 "$T/interop2.out" 2>/dev/null || head -n1 "$T/layers.err")"
# ... and "every" is the parser's own list: an unknown type's error names them all
kinds=$("$BIN" train "$T/layers.json" --set model.layers.0.type=no_such_kind 2>&1 | sed -n 's/.*(expected \(.*\)).*/\1/p' |
        sed 's/ or /, /' | tr -d ' ' | tr ',' '\n' | sort)
used=$($PY -c 'import json,sys; print("\n".join(sorted({l["type"] for l in json.load(open(sys.argv[1]))["model"]["layers"]})))' "$T/layers.json")
[ -n "$kinds" ] && [ "$kinds" = "$used" ]
check "the net covers every layer kind" $? "parser's kinds: $(echo $kinds); missing from the net: $(comm -23 <(echo "$kinds") <(echo "$used") | tr '\n' ' ')"

# ---- NICE: a small config against a torch NICE from the same initial weights ----
NICE_SET=(--set model.hidden=256 --set model.hidden_layers=2 --set train.global_batch=128
          --set train.eval_batch=1000 --set data.shuffle=false)
NICE_STEPS=150
jq_cfg() { # the small config as the torch reference reads it
    $PY - "$@" <<'PY'
import json, sys
c = json.load(open("configs/fashion_nice.json"))
c["model"].update(hidden=256, hidden_layers=2)
c["train"].update(global_batch=128)
json.dump(c, open(sys.argv[1], "w"))
PY
}
jq_cfg "$T/nice_small.json"
$PY tests/reference/nice_ref.py train "$T/nice_small.json" $NICE_STEPS "$DATA" "$T/nice_init.h5" >"$T/nice_ref.out" 2>"$T/nice_ref.err"
check "nice torch reference" $? "$(tail -n1 "$T/nice_ref.out")"
train nice configs/fashion_nice.json --set "data.train=$DATA" "${NICE_SET[@]}" \
    --set train.steps=$NICE_STEPS --set "init.from=$T/nice_init.h5"
rc=$?
ours=$([ $rc -eq 0 ] && field "$T/nice.done" test_bpd || echo nan)
ref=$(field "$T/nice_ref.out" test_bpd 2>/dev/null || echo nan)
$PY -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) <= 0.02 * b else 1)" "$ours" "$ref"
check "nice bits/dim vs torch" $? "ringtrain np=2 $ours, torch $ref bits/dim after $NICE_STEPS steps from the same weights (tol 2%)"
if [ $rc -eq 0 ]; then
    $PY tests/reference/nice_ref.py parity "$BIN" "$(latest nice)" "$DATA" >"$T/nice_parity.out" 2>&1
    rc=$?
    sed 's/^/    /' "$T/nice_parity.out"
    check "nice parity with torch" $rc "$(tail -n1 "$T/nice_parity.out")"
    "$BIN" sample "$(latest nice)" --n 64 --out "$T/nice.png" >/dev/null 2>"$T/sample.err"
    rc=$?
    "$OBJDIR/tests/test_pngdecode" "$T/nice.png" 242 242 >"$T/png.out" 2>&1
    check "nice sample grid" $((rc | $?)) "exit $rc; $(head -n1 "$T/png.out")"
fi
# model.logit_alpha: the logit in front of the flow, its log-det in the NLL, sigmoid after sampling
train nice_logit configs/fashion_nice.json --set "data.train=$DATA" "${NICE_SET[@]}" --set train.steps=30 \
    --set model.logit_alpha=0.05 --set model.scale_init=data
rc=$?
[ $rc -eq 0 ] && $PY tests/reference/nice_ref.py parity "$BIN" "$(latest nice_logit)" "$DATA" \
    >"$T/nice_logit_parity.out" 2>&1
rc=$((rc | $?))
sed 's/^/    /' "$T/nice_logit_parity.out"
check "nice logit_alpha 0.05: parity with torch" $rc "$(tail -n1 "$T/nice_logit_parity.out")"

# ---- NICE model.scale_init "data": the initial scale against a float64 oracle, at np = 1, 2, 3 ----
$PY - "$DATA" "$T/deq.h5" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(7)
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2], "w") as g:
    for split in ("train", "test"):
        k = f[f"{split}/x"][:192].reshape(192, -1).astype(np.float64)
        g[f"{split}/x"] = ((k + rng.random(k.shape)) / 256).astype(np.float32)
        g[f"{split}/y"] = f[f"{split}/y"][:192]
PY
DI=(--quiet --set "data.train=$T/deq.h5" --set "data.test=$T/deq.h5" --set data.shuffle=false
    --set model.hidden=64 --set model.hidden_layers=2 --set train.global_batch=96 --set train.steps=1
    --set optim.lr=1e-30 --set optim.schedule.warmup_steps=0)
di_ckpts=() rc=0
for run in "zero 1 zero logistic 0" "data 1 data logistic 0" "data 2 data logistic 0" "data 3 data logistic 0" \
           "normal 2 data normal 0" "logit 1 data logistic 0.05" "logit 3 data logistic 0.05"; do
    read -r name np init prior alpha <<<"$run"
    mpirun -np "$np" -q --oversubscribe "$BIN" train configs/fashion_nice.json "${DI[@]}" \
        --set "model.scale_init=$init" --set "model.prior=$prior" --set "model.logit_alpha=$alpha" \
        --run-dir "$T/di_${name}_np$np" \
        >/dev/null 2>"$T/di.err" || { rc=1; sed 's/^/    /' "$T/di.err" | head -n 3; }
    [ "$name" = zero ] || di_ckpts+=("$(latest "di_${name}_np$np")")
done
[ $rc -eq 0 ] && $PY tests/reference/nice_ref.py datainit "$T/deq.h5" 96 "$(latest di_zero_np1)" "${di_ckpts[@]}" \
    >"$T/di.out" 2>&1
rc=$((rc | $?))
sed 's/^/    /' "$T/di.out"
check "nice scale_init data vs a float64 oracle" $rc "$(tail -n1 "$T/di.out")"

# the path real runs take: uint8 Fashion-MNIST, shuffled, dequantised by row
# keys: the same scale bits at np = 1 and 3, and a bit-exact resume
U8=(--quiet --set "data.train=$DATA" --set "data.test=$DATA" --set data.shuffle=true
    --set model.hidden=64 --set model.hidden_layers=2 --set train.global_batch=96 --set model.scale_init=data)
rc=0
for np in 1 3; do
    mpirun -np "$np" -q --oversubscribe "$BIN" train configs/fashion_nice.json "${U8[@]}" --set train.steps=1 \
        --set optim.lr=1e-30 --set optim.schedule.warmup_steps=0 --run-dir "$T/u8_np$np" \
        >/dev/null 2>"$T/u8.err" || { rc=1; sed 's/^/    /' "$T/u8.err" | head -n 3; }
done
out=$([ $rc -eq 0 ] && $PY - "$(latest u8_np1)" "$(latest u8_np3)" <<'PY' 2>&1
import sys, h5py, numpy as np
a, b = (h5py.File(p)["params/scale"][()] for p in sys.argv[1:3])
ok = a.tobytes() == b.tobytes() and np.isfinite(a).all() and a.std() > 0.1
print(f"np=1 and np=3 scale bits equal: {a.tobytes() == b.tobytes()}; s in [{a.min():.3f}, {a.max():.3f}]")
sys.exit(0 if ok else 1)
PY
)
check "nice scale_init data on uint8, shuffled: world-size independent" $((rc | $?)) "$out"
resume_bitexact "nice scale_init data: bit-exact resume np=2" "$T/u8_resume" 10 \
    "${MPI[@]}" "$BIN" train configs/fashion_nice.json "${U8[@]}" --set train.steps=10

# ---- rectified flow: two moons generated here ----
$PY tests/make_moons.py "$T/moons.h5"
"${MPI[@]}" "$BIN" train configs/toy_moons_rectflow.json --run-dir "$T/moons" --quiet \
    --set "data.train=$T/moons.h5" --set "data.test=$T/moons.h5" >"$T/moons.out" 2>"$T/moons.err"
rc=$?
check "flow two moons np=2" $rc "$(grep -o '"test_loss":[0-9.e-]*' "$T/moons.out" | tail -n1)"
if [ $rc -eq 0 ]; then
    "$BIN" sample "$(latest moons)" --n 4096 --seed 5 --out "$T/moons_samples.h5" >/dev/null 2>"$T/sample.err"
    $PY tests/reference/moons_check.py "$T/moons.h5" "$T/moons_samples.h5" >"$T/moons_check.out" 2>&1
    rc=$?
    sed 's/^/    /' "$T/moons_check.out"
    check "flow samples match two moons" $rc "$(tail -n1 "$T/moons_check.out")"
fi

# ---- rectified flow on Fashion-MNIST (MLP and conv U-Net): trains, samples a grid ----
for cfg in fashion_rectflow fashion_rectflow_conv; do
    train "$cfg" "configs/$cfg.json" --set "data.train=$DATA" --set train.steps=60 --set train.log_every=1 \
        --set model.sample_steps=8 --set optim.schedule.warmup_steps=5
    rc=$?
    loss=$([ $rc -eq 0 ] && field "$T/$cfg.done" test_loss || echo nan)
    first=$($PY -c "import json,sys; print([json.loads(l)['loss'] for l in open(sys.argv[1]) if '\"event\"' not in l][0])" "$T/$cfg/metrics.jsonl" 2>/dev/null || echo nan)
    $PY -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if a < 0.85 * b else 1)" "$loss" "$first"
    check "$cfg np=2" $? "exit $rc, training loss at step 1 $first, test flow-matching loss after 60 steps $loss (want < 0.85x)"
    "$BIN" sample "$(latest "$cfg")" --n 16 --out "$T/$cfg.png" >/dev/null 2>"$T/sample.err"
    rc=$?
    "$OBJDIR/tests/test_pngdecode" "$T/$cfg.png" 122 122 >"$T/png.out" 2>&1
    check "$cfg sample grid" $((rc | $?)) "exit $rc; $(head -n1 "$T/png.out")"
done

finish
