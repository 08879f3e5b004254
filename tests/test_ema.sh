#!/usr/bin/env bash
# EMA of the parameters (train.ema_decay), for real: fashion_mlp at np=2 with
# the sharded optimizer, a checkpoint every step. Checks: every step's /ema
# equals the float32 recurrence ema = ema*d + p*(1-d) recomputed in numpy
# from the previous checkpoint's /ema and this one's /params, bitwise; a
# resume from a checkpoint without /ema starts the EMA from the parameters
# resumed (bitwise); stop and resume with the EMA on is bitwise exact; eval
# and sample use the EMA by default and the parameters with --weights
# params (eval's params figure is the training's own); /ema loads into torch
# with the one-line rule and scores as eval does; bad input.
# usage: tests/test_ema.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_ema.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MPI=(mpirun -np 2 --oversubscribe)
ARGS=(configs/fashion_mlp.json --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA"
      --set train.checkpoint_every=1 --set train.keep_checkpoints=1000 --set train.eval_every=1000)

# ---- the recurrence, step by step ----
"${MPI[@]}" "$BIN" train "${ARGS[@]}" --set train.steps=12 --set train.ema_decay=0.9 --run-dir "$T/a" >/dev/null 2>"$T/a.err"
out=$(/usr/bin/python3 - "$T/a" 12 0.9 <<'PY' 2>&1
import sys, h5py, numpy as np
d, n, decay = sys.argv[1], int(sys.argv[2]), np.float32(sys.argv[3])
omd = np.float32(1.0 - float(sys.argv[3]))
def grp(step, g):
    with h5py.File(f"{d}/ckpt/step_{step:08d}.h5") as f:
        return {k: f[g][k][()] for k in f[g]}
bad = [s for s in range(2, n + 1)
       if not all(np.array_equal(grp(s, "ema")[k], grp(s - 1, "ema")[k] * decay + grp(s, "params")[k] * omd)
                  for k in grp(s, "params"))]
far = max(float(np.max(np.abs(grp(n, "ema")[k] - grp(n, "params")[k]))) for k in grp(n, "params"))
print(f"steps 2..{n}: /ema bitwise equal to the recurrence: {not bad} {bad}; |ema - params| up to {far:.3g} at step {n}")
sys.exit(0 if not bad and far > 0 else 1)
PY
)
check "EMA recurrence against numpy" $? "$out"

# ---- a resume from a checkpoint without /ema starts it from the parameters resumed ----
"${MPI[@]}" "$BIN" train "${ARGS[@]}" --set train.steps=6 --run-dir "$T/b" >/dev/null 2>"$T/b.err"
"${MPI[@]}" "$BIN" train "${ARGS[@]}" --set train.steps=8 --set train.ema_decay=0.75 --allow-config-change \
    --resume auto --run-dir "$T/b" >/dev/null 2>>"$T/b.err"
out=$(/usr/bin/python3 - "$T/b" <<'PY' 2>&1
import sys, h5py, numpy as np
d = sys.argv[1]
def grp(step, g):
    with h5py.File(f"{d}/ckpt/step_{step:08d}.h5") as f:
        return {k: f[g][k][()] for k in f[g]} if g in f else None
d_, omd = np.float32(0.75), np.float32(0.25)
p6, p7, e7 = grp(6, "params"), grp(7, "params"), grp(7, "ema")
ok = grp(6, "ema") is None and e7 is not None and all(np.array_equal(e7[k], p6[k] * d_ + p7[k] * omd) for k in p6)
print(f"step 6 has no /ema, step 7's is p6*d + p7*(1-d) bitwise: {ok}")
sys.exit(0 if ok else 1)
PY
)
check "EMA started on resume" $? "$out"

# ---- stop and resume, bitwise ----
resume_bitexact "stop and resume with the EMA on" "$T/c" 10 "${MPI[@]}" "$BIN" train "${ARGS[@]}" \
    --set train.steps=10 --set train.ema_decay=0.95

# ---- eval: the EMA by default, the parameters on request ----
e_def=$("$BIN" eval "$T/a" 2>&1)
e_par=$("$BIN" eval "$T/a" --weights params 2>&1)
done_loss=$(grep -o '"test_loss":[0-9.e-]*' "$T/a/metrics.jsonl" | tail -n1)
[[ "$e_def" == *'"weights":"ema"'* ]] && [[ "$e_par" == *'"weights":"params"'* ]] &&
    [[ "$e_par" == *"$done_loss"* ]] && [ "$(echo "$e_def" | grep -o '"test_loss":[0-9.e-]*')" != "$done_loss" ]
check "eval --weights" $? "default: $(echo "$e_def" | grep -o '"weights".*'); params: $(echo "$e_par" | grep -o '"test_loss":[0-9.e-]*') (training's last: $done_loss)"

# ---- the EMA weights load into torch with the one-line rule (f['ema'] for f['params']) ----
out=$(/usr/bin/python3 tests/reference/interop.py "$BIN" "$T/a/ckpt/step_00000012.h5" "$DATA" ema 2>&1)
check "EMA weights into torch" $? "$out"

# ---- sample: a NICE run with the EMA ----
"$BIN" train configs/fashion_nice.json --quiet --set "data.train=$PWD/$DATA" --set "data.test=$PWD/$DATA" \
    --set train.steps=5 --set train.ema_decay=0.5 --run-dir "$T/n" >/dev/null 2>"$T/n.err"
"$BIN" sample "$T/n" --n 4 --out "$T/ema.h5" >/dev/null 2>&1
"$BIN" sample "$T/n" --n 4 --weights params --out "$T/par.h5" >/dev/null 2>&1
out=$(/usr/bin/python3 - "$T/ema.h5" "$T/par.h5" <<'PY' 2>&1
import sys, h5py, numpy as np
a, b = (h5py.File(p) for p in sys.argv[1:3])
wa, wb = (f.attrs["weights"].decode() if isinstance(f.attrs["weights"], bytes) else f.attrs["weights"] for f in (a, b))
same_noise = np.array_equal(a["noise"][()], b["noise"][()])
differ = not np.array_equal(a["samples"][()], b["samples"][()])
print(f"weights {wa} and {wb}; same noise {same_noise}; samples differ {differ}")
sys.exit(0 if (wa, wb) == ("ema", "params") and same_noise and differ else 1)
PY
)
check "sample --weights" $? "$out"

# ---- bad input ----
expect_bad "eval --weights ema without an EMA" "/ema: missing group" "$BIN" eval "$T/b/ckpt/step_00000006.h5" --weights ema
expect_bad "eval --weights other" "--weights" "$BIN" eval "$T/a" --weights best
expect_bad "train.ema_decay 1" "train.ema_decay" "$BIN" train "${ARGS[@]}" --set train.ema_decay=1 --run-dir "$T/x"
finish
