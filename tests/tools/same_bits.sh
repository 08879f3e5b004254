#!/usr/bin/env bash
# Refactor guard: runs every shipped config for a few shuffled steps at np=2
# with two builds and asserts that the two runs are the same run: bitwise
# identical checkpoints (/params, /optim and /ema, every dataset) and the same
# logged losses, step by step. Not part of make test (it needs a second
# build); use it to prove that a change of structure changed no behaviour:
#     git worktree add /tmp/old <rev> && make -C /tmp/old
#     tests/tools/same_bits.sh /tmp/old/build/ringtrain build/ringtrain
# usage: tests/tools/same_bits.sh OLD_BIN NEW_BIN [CONFIG.json ...]
# env: STEPS (default 30), NP (default 2), DATA (default data/fashion-mnist.h5)
set -u
OLD=${1:?usage: same_bits.sh OLD_BIN NEW_BIN [CONFIG.json ...]}
NEW=${2:?usage: same_bits.sh OLD_BIN NEW_BIN [CONFIG.json ...]}
shift 2
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(configs/*.json)
STEPS=${STEPS:-30} NP=${NP:-2} DATA=${DATA:-data/fashion-mnist.h5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/rt_same.XXXXXX)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
. "$(dirname "$0")/../lib.sh"

# the two-moons set of tests/test_models.sh, for the toy config
$PY tests/make_moons.py "$T/moons.h5"

for cfg in "${CONFIGS[@]}"; do
    name=$(basename "$cfg" .json)
    data=$DATA
    [[ "$name" == *moons* ]] && data=$T/moons.h5
    for side in old new; do
        bin=$OLD
        [ $side = new ] && bin=$NEW
        timeout 900 mpirun -np "$NP" --oversubscribe "$bin" train "$cfg" --quiet --run-dir "$T/$name.$side" \
            --set "data.train=$data" --set "data.test=$data" --set train.steps="$STEPS" \
            --set data.shuffle=true --set train.log_every=1 --set train.eval_every=0 \
            >"$T/$name.$side.out" 2>"$T/$name.$side.err"
        echo $? >"$T/$name.$side.rc"
    done
    out=$($PY - "$T/$name.old" "$T/$name.new" "$STEPS" <<'PY'
import sys, json, h5py, numpy as np
old, new, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
def losses(d):
    out = {}
    for line in open(f"{d}/metrics.jsonl"):
        o = json.loads(line)
        if "event" not in o and o.get("loss") is not None:
            out[o["step"]] = "%.9g" % o["loss"]   # the old log printed 9 digits
    return out
def arrays(d):
    name = open(f"{d}/ckpt/latest").read().strip()
    got = {}
    with h5py.File(f"{d}/ckpt/{name}", "r") as f:
        def visit(k, v):
            if isinstance(v, h5py.Dataset) and k.split("/")[0] in ("params", "optim", "ema"):
                got[k] = v[()]
        f.visititems(visit)
    return got
lo, ln = losses(old), losses(new)
ao, an = arrays(old), arrays(new)
bad = [k for k in sorted(set(ao) | set(an))
       if k not in ao or k not in an or ao[k].dtype != an[k].dtype or ao[k].shape != an[k].shape
       or ao[k].tobytes() != an[k].tobytes()]
lossbad = [s for s in sorted(set(lo) | set(ln)) if lo.get(s) != ln.get(s)]
ok = not bad and not lossbad and len(lo) == steps and len(ao) > 0
print(("ok" if ok else "FAIL") + f" {len(ao)} datasets bitwise identical" * (not bad)
      + (f" datasets differ: {bad[:4]}" if bad else "")
      + f", {len(lo)} logged losses" + (" identical" if not lossbad else f" differ at steps {lossbad[:5]}"))
PY
)
    rc_old=$(cat "$T/$name.old.rc") rc_new=$(cat "$T/$name.new.rc")
    [ "$rc_old" -eq 0 ] && [ "$rc_new" -eq 0 ] && [[ "$out" == ok* ]]
    check "$name" $? "exit $rc_old / $rc_new; ${out#* }"
    [ "$rc_new" -eq 0 ] || sed 's/^/    /' "$T/$name.new.err" | head -n 5
done
finish
