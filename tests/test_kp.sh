#!/usr/bin/env bash
# The keypoint task and its three heads (regression, simcc, rle):
#   - the dataset's keypoints against an independent recomputation from the
#     Fashion-MNIST images (tests/reference/kp_data.py);
#   - each head's loss, decoded keypoints and gradients, and the RLE flow's
#     log-density, against the PyTorch reference (tests/reference/kp_ref.py);
#   - per head: the same losses at np = 1 and 3 (within 1e-5), a bit-exact
#     resume at np = 2, and eval's metrics equal to the done line's;
#   - the bad inputs of a keypoint config and of its data, one line each.
# usage: tests/test_kp.sh [BIN] [KP.h5] [FASHION.h5] [OBJDIR]
set -u
BIN=${1:-build/ringtrain}
KP=${2:-data/fashion-keypoints.h5}
FASHION=${3:-data/fashion-mnist.h5}
OBJDIR=${4:-build/obj}
T=$(mktemp -d /tmp/rt_kp.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
REF=tests/reference/kp_ref.py
CFG=tests/kp_small.json
D=(--set "data.train=$KP" --set "data.test=$KP")

# ---- the data ----
$PY tests/reference/kp_data.py "$KP" "$FASHION" >"$T/data.out" 2>&1
check "keypoints recomputed from the images" $? "$(tr '\n' ' ' <"$T/data.out" | cut -c1-300)"

# ---- each head against torch ----
$PY $REF selftest >"$T/self.out" 2>&1
check "torch reference self-check" $? "$(grep -c '^ok' "$T/self.out") ok, $(grep -c '^FAIL' "$T/self.out") FAIL"
for head in regression simcc rle; do
    f="$T/ref_$head.h5"
    $PY $REF init "$f" --head "$head" >"$T/init.out" 2>&1 &&
        "$OBJDIR/tests/test_kp_dump" "$f" >"$T/dump.out" 2>&1 &&
        $PY $REF compare "$f" >"$T/compare.out" 2>&1
    check "$head head vs torch" $? "$(grep -c '^ok' "$T/compare.out" 2>/dev/null) checks ok: $(grep -E \
        ' loss: |log-density|^FAIL' "$T/compare.out" 2>/dev/null | sed 's/^ok   //' | head -n 3 | tr '\n' ';')"
done

# ---- per head: world-size independence, resume, eval ----
for head in regression simcc rle; do
    H=(--set "model.head=$head")
    for np in 1 3; do
        timeout 600 mpirun -np $np --oversubscribe "$BIN" train "$CFG" --run-dir "$T/$head-np$np" --quiet "${D[@]}" \
            "${H[@]}" >"$T/np.out" 2>&1 || echo "np=$np exit $?" >>"$T/$head-np.err"
    done
    $PY - "$T/$head-np1" "$T/$head-np3" <<'PY' >"$T/np.out"
import json, sys
L = [[json.loads(l)["loss"] for l in open(f"{d}/metrics.jsonl") if '"event"' not in l] for d in sys.argv[1:3]]
worst = max(abs(a - b) / abs(b) for a, b in zip(L[1], L[0]))
print(f"12 steps: max rel diff of np=3 against np=1 {worst:.2e} (tol 1e-5)")
sys.exit(0 if len(L[0]) == len(L[1]) == 12 and worst <= 1e-5 else 1)
PY
    check "$head: losses at np=1 and np=3" $? "$(cat "$T/np.out") $(cat "$T/$head-np.err" 2>/dev/null)"

    mkdir -p "$T/$head"
    resume_bitexact "$head: bit-exact resume np=2" "$T/$head" 12 \
        timeout 600 mpirun -np 2 "$BIN" train "$CFG" --quiet "${D[@]}" "${H[@]}"

    # eval of the final checkpoint gives the done line's test metrics
    mpirun -np 2 "$BIN" eval "$T/$head/whole/ckpt/step_00000012.h5" >"$T/eval.out" 2>"$T/eval.err"
    $PY - "$T/eval.out" "$T/$head/whole/metrics.jsonl" <<'PY' >"$T/evalcmp.out"
import json, sys
ev = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
done = [json.loads(l) for l in open(sys.argv[2]) if '"event": "done"' in l or '"event":"done"' in l][-1]
keys = ("test_loss", "kp_err_px", "pck_2px", "pck_4px")
diff = max(abs(ev[k] - done[k]) / max(1e-9, abs(done[k])) for k in keys)
ok = all(0 <= ev[k] <= 1 for k in ("pck_2px", "pck_4px")) and ev["pck_2px"] <= ev["pck_4px"] and diff <= 1e-6
print(" ".join(f"{k} {ev[k]:.5g}" for k in keys) + f"; max rel diff from the done line {diff:.1e}")
sys.exit(0 if ok else 1)
PY
    check "$head: eval metrics match the done line" $? "$(cat "$T/evalcmp.out" 2>&1 | tail -n1) $(head -c 200 "$T/eval.err")"
done

# report names the task's own metrics
"$BIN" report "$T/regression/whole" >"$T/report.out" 2>&1
grep -qE '^last eval +step 12: test_loss [0-9.]+ kp_err_px [0-9.]+ pck_2px [0-9.]+ pck_4px [0-9.]+$' "$T/report.out"
check "report's last eval line has the keypoint metrics" $? "$(grep 'last eval' "$T/report.out")"

# ---- bad input ----
expect_bad "prep with a canvas smaller than a scaled garment" "--size: expected a side in [36, 512]" \
    "$BIN" prep fashion-keypoints --out "$T/never.h5" --size 20
[ ! -e "$T/never.h5" ]
check "a refused prep writes nothing" $? "$(ls "$T" | grep never)"
# a small keypoint file, and copies with one thing wrong
$PY - "$KP" "$T" <<'PY'
import sys, h5py, numpy as np
src, t = sys.argv[1], sys.argv[2]
def write(name, edit=None):
    with h5py.File(src, "r") as s, h5py.File(f"{t}/{name}.h5", "w") as f:
        for k, v in s.attrs.items(): f.attrs[k] = v
        for split, n in (("train", 96), ("test", 32)):
            d = {k: s[f"{split}/{k}"][:n] for k in ("x", "kp", "y")}
            if edit: edit(split, d)
            for k, v in d.items(): f[f"{split}/{k}"] = v
write("small")
write("kp4", lambda s, d: d.update(kp=d["kp"][:, :4]))
write("kprows", lambda s, d: d.update(kp=d["kp"][:-1]))
write("kp64", lambda s, d: d.update(kp=d["kp"].astype(np.float64)))
def outside(s, d):
    if s == "test": d["kp"][7, 2, 0] = 64.0
write("outside", outside)
write("nokp", lambda s, d: d.pop("kp"))
PY
train=("$BIN" train "$CFG" --run-dir "$T/bad" --quiet --set train.steps=1 --set train.global_batch=16)
on() { ON=("${train[@]}" --set "data.train=$T/$1.h5" --set "data.test=$T/$1.h5"); }
on kp4
expect_bad "kp with 4 keypoints for model.keypoints 5" "kp4.h5: /train/kp: shape must be [96, 5, 2]" "${ON[@]}"
on kprows
expect_bad "kp rows that do not match x" "kprows.h5: /train/kp: shape must be [96, 5, 2]" "${ON[@]}"
on kp64
expect_bad "kp as float64" "kp64.h5: /train/kp: dtype must be float32" "${ON[@]}"
on outside
expect_bad "a keypoint outside the canvas" "outside.h5: /test/kp: keypoint 2 of row 7, (64, " "${ON[@]}"
on nokp
expect_bad "a keypoint head on a dataset without kp" "nokp.h5: /train/kp: missing dataset (a keypoint head needs" "${ON[@]}"
expect_bad "a keypoint head on Fashion-MNIST" "/train/kp: missing dataset" \
    "${train[@]}" --set "data.train=$FASHION" --set "data.test=$FASHION" --set 'model.input=[1,28,28]'
on small
expect_bad "simcc_split 0" "model.simcc_split: must be in (0, 16], got 0" "${ON[@]}" --set model.head=simcc \
    --set model.simcc_split=0
expect_bad "simcc_split negative" "model.simcc_split: must be in (0, 16], got -1" "${ON[@]}" --set model.head=simcc \
    --set model.simcc_split=-1
expect_bad "a simcc key on an rle head" "model.simcc_sigma: a key of the simcc head; this model's head is rle" \
    "${ON[@]}" --set model.head=rle --set model.simcc_sigma=2
expect_bad "a head key without a head" "model.keypoints: a key of the regression head; this model's head is none" \
    "${ON[@]}" --set model.head=none
expect_bad "an unknown head" "model.head: expected one of none|regression|simcc|rle, got \"heatmap\"" \
    "${ON[@]}" --set model.head=heatmap
expect_bad "a head on a flat input" "model.input: a keypoint head needs an image input" \
    "${ON[@]}" --set 'model.input=[4096]' --set 'model.layers=[{"type":"flatten"}]'
finish
