#!/usr/bin/env bash
# One short run end to end, for make check: fashion_mlp for 40 steps at np=2 on
# the real data; the loss falls, the test accuracy is well above chance, the
# checkpoint evaluates to the done line's metrics, and the logs carry the
# task's fixed metric names.
# usage: tests/test_smoke.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_smoke.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
timeout 300 mpirun -np 2 "$BIN" train configs/fashion_mlp.json --run-dir "$T/run" --quiet \
    --set "data.train=$DATA" --set "data.test=$DATA" --set train.steps=40 --set train.log_every=5 \
    >"$T/out" 2>"$T/err"
rc=$?
check "np=2 run" $rc "exit $rc$( [ $rc -ne 0 ] && head -c 300 "$T/err")"
ck="$T/run/ckpt/$(cat "$T/run/ckpt/latest" 2>/dev/null)"
timeout 120 "$BIN" eval "$ck" --data "$DATA" >"$T/eval" 2>"$T/eval.err"
/usr/bin/python3 - "$T" >"$T/summary" <<'PY'
import json, sys
t = sys.argv[1]
done = json.loads(open(f"{t}/out").read().strip().splitlines()[-1])
ev = json.loads(open(f"{t}/eval").read().strip().splitlines()[-1])
rows = [json.loads(l) for l in open(f"{t}/run/metrics.jsonl")]
losses = [r["loss"] for r in rows if "event" not in r]
evals = [r for r in rows if r.get("event") == "eval"]
ok = (done["event"] == "done" and done["step"] == 40 and len(losses) == 8 and losses[-1] < 0.6 * losses[0]
      and done["test_acc"] > 0.6 and abs(ev["test_acc"] - done["test_acc"]) < 1e-12
      and abs(ev["test_loss"] - done["test_loss"]) < 1e-9 and evals and "test_acc" in evals[-1])
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} over {len(losses)} windows; test_acc {done['test_acc']:.4f}, "
      f"eval of the checkpoint {ev['test_acc']:.4f}; eval events {len(evals)}")
sys.exit(0 if ok else 1)
PY
check "loss, accuracy, eval of the checkpoint" $? "$(cat "$T/summary")"
finish
