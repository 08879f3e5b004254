#!/usr/bin/env bash
# valgrind memcheck on a few single-rank training steps (real Fashion-MNIST
# rows, a checkpoint written at the end) and on eval of that checkpoint:
# no invalid reads or writes, no use of uninitialised memory.
# usage: tests/test_valgrind.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_vg.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
/usr/bin/python3 - "$DATA" "$T/small.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2], "w") as g:
    for split, n in (("train", 1024), ("test", 200)):
        g.create_dataset(f"{split}/x", data=f[f"{split}/x"][:n], chunks=(64, 28, 28))
        g[f"{split}/y"] = f[f"{split}/y"][:n]
    g.attrs["num_classes"] = 10
PY
SUPP=()
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && SUPP=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
vg() { # vg NAME CMD...
    local name=$1
    shift
    timeout 600 valgrind --error-exitcode=99 "${SUPP[@]}" "$@" >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    local summary
    summary=$(grep "ERROR SUMMARY" "$T/$name.err" | tail -n1 | sed 's/^==[0-9]*== //')
    [ $rc -eq 0 ] && [[ "$summary" == "ERROR SUMMARY: 0 errors"* ]]
    check "valgrind $name" $? "exit $rc; $summary"
    [ $rc -eq 0 ] || grep -A12 "Invalid\|uninitialised" "$T/$name.err" | head -n 30 | sed 's/^/    /'
}
vg train "$BIN" train configs/fashion_mlp.json --run-dir "$T/run" --quiet --set "data.train=$T/small.h5" \
    --set "data.test=$T/small.h5" --set train.steps=4 --set train.global_batch=128 --set train.eval_batch=100 \
    --set optim.accum_steps=2 --set optim.clip_grad_norm=1.0 --set model.layers.0.out=64 --set model.layers.2.out=64
vg eval "$BIN" eval "$T/run/ckpt/step_00000004.h5" --data "$T/small.h5"
vg inspect "$BIN" inspect "$T/run/ckpt/step_00000004.h5"
finish
