#!/usr/bin/env bash
# A training set of several GB trains at np=2 under data.memory_budget_mb=256:
# rows are read from the file per batch, so what stays resident per rank is
# the model, the labels and epoch orders (20 B per row) and batch buffers.
#  1. a 3.1 GB HDF5 (Fashion-MNIST's training rows tiled 67 times, 4,000,000
#     rows of uint8) trains 150 shuffled steps; every rank's peak RSS (the done
#     line's peak_rss_mb, the largest over ranks) stays under 256 MB, and the
#     model learns (test accuracy on the real test split);
#  2. a budget below what the data path needs is refused before training,
#     naming the key, and nothing is written.
# usage: tests/test_bigdata.sh BIN DATA  (BIGDATA_DONE=FILE: also write the
#        budget and the run's done line there, for make bench)
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_bigdata.XXXXXX) # on disk: /tmp is not a tmpfs here
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
. "$(dirname "$0")/lib.sh"
BIG="$T/big.h5"
ROWS=4000000
BUDGET=256

t0=$SECONDS
/usr/bin/python3 - "$DATA" "$BIG" "$ROWS" <<'PY'
import sys, h5py, numpy as np
src, dst, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(src) as f:
    x, y = f["train/x"][()], f["train/y"][()]
with h5py.File(dst, "w") as g:
    gx = g.create_dataset("train/x", (rows, 28, 28), dtype="uint8", chunks=(4096, 28, 28))
    gy = g.create_dataset("train/y", (rows,), dtype="int32", chunks=(65536,))
    for lo in range(0, rows, len(x)):
        n = min(len(x), rows - lo)
        gx[lo:lo + n] = x[:n]
        gy[lo:lo + n] = y[:n]
    g.attrs["source"] = np.bytes_("fashion-mnist train, tiled (tests/test_bigdata.sh)")
    g.attrs["num_classes"] = 10
PY
gen=$?
size=$(stat -c %s "$BIG" 2>/dev/null || echo 0)
[ $gen -eq 0 ] && [ "$size" -gt 3000000000 ]
check "generated training set" $? "$ROWS rows, $size bytes in $((SECONDS - t0)) s"

# ---- 1. trains under the budget ----
t0=$SECONDS
timeout 600 mpirun -np 2 "$BIN" train configs/fashion_mlp.json --run-dir "$T/run" --quiet \
    --set "data.train=$BIG" --set "data.test=$DATA" --set "data.memory_budget_mb=$BUDGET" \
    --set train.steps=150 --set train.eval_every=0 >"$T/run.out" 2>"$T/run.err"
rc=$?
done_line=$(grep '"event":"done"' "$T/run.out")
# make bench reads the figures from here (BIGDATA_DONE=FILE)
[ -n "${BIGDATA_DONE:-}" ] && printf '{"budget_mb": %s, "done": %s}\n' "$BUDGET" "${done_line:-null}" >"$BIGDATA_DONE"
detail=$(/usr/bin/python3 - "$done_line" "$BUDGET" "$size" <<'PY'
import sys, json
d = json.loads(sys.argv[1] or "{}")
budget, size = float(sys.argv[2]), int(sys.argv[3])
rss, data_mb, acc = d.get("peak_rss_mb", 1e9), d.get("data_mb", 1e9), d.get("test_acc", 0)
print(f"peak_rss_mb {rss:.1f} (largest rank), data_mb {data_mb:.1f}, budget {budget:.0f} MB, "
      f"file {size / 2**20:.0f} MB; test_acc {acc:.4f} (>= 0.75) after {d.get('step')} steps, "
      f"{d.get('samples_per_s', 0):.0f} samples/s")
sys.exit(0 if rss < budget and data_mb < budget and acc >= 0.75 and d.get("step") == 150 else 1)
PY
)
ok=$?
[ $rc -eq 0 ]
check "3 GB set under a ${BUDGET} MB budget" $((ok | $?)) "exit $rc in $((SECONDS - t0)) s; $detail"
[ $rc -eq 0 ] || sed 's/^/    /' "$T/run.err" | head -n 8

# ---- 2. a budget too small for the labels and orders is refused up front ----
expect_bad "budget below the data path's need" "data.memory_budget_mb: 64 MB is less than" \
    mpirun -q -np 2 "$BIN" train configs/fashion_mlp.json --run-dir "$T/small" --quiet \
    --set "data.train=$BIG" --set "data.test=$DATA" --set data.memory_budget_mb=64
[ ! -e "$T/small/ckpt/latest" ]
check "refused run wrote no checkpoint" $? "$(ls "$T/small/ckpt" 2>/dev/null | wc -l) files in its ckpt dir"

finish
