#!/usr/bin/env bash
# Sample quality (ringtrain eval --fid), for real: a fashion_mlp classifier
# trained 150 steps and a NICE run of 30. Checks: a samples file of 2,000
# real training images (rows 2000..3999) scored against the first 2,000 test
# images: fid, fid_train (train rows 0..1999) and class_agreement equal an
# independent numpy computation (features from the checkpoint's weights in
# float64, tr sqrt(S1 S2) from the eigenvalues of the product, not the
# symmetric route ringtrain takes) within 1e-3; the first
# 1000 test images against themselves score 0; a NICE checkpoint's own
# samples score far above the floor, without labels; bad input.
# usage: tests/test_fid.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_fid.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
D=(--set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA" --quiet)
"$BIN" train configs/fashion_mlp.json "${D[@]}" --set train.steps=150 --run-dir "$T/clf" >/dev/null 2>"$T/clf.err"
"$BIN" train configs/fashion_nice.json "${D[@]}" --set train.steps=30 --run-dir "$T/nice" >/dev/null 2>"$T/nice.err"
/usr/bin/python3 - "$DATA" "$T" <<'PY'
import sys, h5py, numpy as np
data, t = sys.argv[1], sys.argv[2]
with h5py.File(data) as f:
    x, y = f["test/x"][:1000].astype(np.float32) / np.float32(255), f["test/y"][:1000].astype(np.int32)
    tx, ty = f["train/x"][2000:4000].astype(np.float32) / np.float32(255), f["train/y"][2000:4000].astype(np.int32)
for name, (xs, ys) in (("other", (tx, ty)), ("same", (x, y))):
    with h5py.File(f"{t}/{name}.h5", "w") as g:
        g["images"] = xs.reshape(-1, 1, 28, 28)
        g["labels"] = ys
with h5py.File(f"{t}/flat.h5", "w") as g:
    g["images"] = x[:1000]
PY
out=$("$BIN" eval --fid "$T/clf" --samples "$T/other.h5" --n 2000 2>&1)
echo "    $out"
res=$(/usr/bin/python3 - "$DATA" "$T" "$out" <<'PY' 2>&1
import sys, json, glob, h5py, numpy as np
data, t, line = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ck = sorted(glob.glob(f"{t}/clf/ckpt/step_*.h5"))[-1]
with h5py.File(ck) as f:
    P = {k: f["params"][k][()].astype(np.float64) for k in f["params"]}
    cfg = json.loads(f.attrs["config"])
mean, std = cfg["data"]["mean"], cfg["data"]["std"]
def feats(x):  # fashion_mlp: fc1, relu, fc2, relu | fc3
    h = np.maximum(x @ P["fc1.weight"].T + P["fc1.bias"], 0)
    h = np.maximum(h @ P["fc2.weight"].T + P["fc2.bias"], 0)
    return h, h @ P["fc3.weight"].T + P["fc3.bias"]
def load(split, lo, n):
    with h5py.File(data) as f:
        x = f[f"{split}/x"][lo:lo + n].reshape(n, -1).astype(np.float64) / 255
        return (x - mean) / std, f[f"{split}/y"][lo:lo + n]
def fid(a, b):
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * root)
(gx, gy), (rx, _), (tx, _) = load("train", 2000, 2000), load("test", 0, 2000), load("train", 0, 2000)
(gf, glog), (rf, _), (tf, _) = feats(gx), feats(rx), feats(tx)
want = {"fid": fid(gf, rf), "fid_train": fid(tf, rf), "class_agreement": float((glog.argmax(1) == gy).mean())}
rel = {k: abs(line[k] - v) / abs(v) for k, v in want.items()}
print("numpy: " + ", ".join(f"{k} {v:.6g} (rel diff {rel[k]:.1e})" for k, v in want.items()))
sys.exit(0 if max(rel.values()) <= 1e-3 and line["n"] == 2000 else 1)
PY
)
check "FID and class agreement against numpy" $? "$res"

out=$("$BIN" eval --fid "$T/clf" --samples "$T/same.h5" --n 1000 2>&1)
fid=$(echo "$out" | grep -o '"fid":[^,]*' | cut -d: -f2)
/usr/bin/python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1])) < 1e-3 else 1)" "$fid" 2>/dev/null
check "the test images against themselves" $? "fid $fid"

out=$("$BIN" eval "$T/nice" --fid "$T/clf" --n 500 2>&1)
/usr/bin/python3 - "$out" <<'PY'
import sys, json
r = json.loads(sys.argv[1])
sys.exit(0 if r["fid"] > 10 * r["fid_train"] > 0 and r["class_agreement"] is None and r["n"] == 500 else 1)
PY
check "a NICE checkpoint's samples" $? "$out"

expect_bad "samples of the wrong shape" "flat.h5: /images: expected 4 dimensions" "$BIN" eval --fid "$T/clf" --samples "$T/flat.h5" --n 100
expect_bad "more rows asked than the file has" "other.h5: /images" "$BIN" eval --fid "$T/clf" --samples "$T/other.h5" --n 5000
expect_bad "a classifier that is not one" "not a classifier" "$BIN" eval --fid "$T/nice" --samples "$T/other.h5" --n 100
expect_bad "a checkpoint and --samples both" "not both" "$BIN" eval "$T/nice" --fid "$T/clf" --samples "$T/other.h5"
finish
