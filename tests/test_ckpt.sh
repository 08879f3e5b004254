#!/usr/bin/env bash
# Checkpoints that reproduce runs: bit-exact resume (np = 1, 2, 3; mid-epoch
# and at an epoch boundary), resume at another world size, a crash in the
# middle of a write, a corrupted file, a real SIGUSR1, compatibility errors,
# and a run directory or ckpt/latest given where a checkpoint is.
# Uses the first 3000 rows of the real Fashion-MNIST (11 steps per epoch).
# usage: tests/test_ckpt.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_ckpt.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
CFG=configs/fashion_mlp.json
SUB="$T/fm3000.h5"
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 - "$DATA" "$SUB" <<'PY'
import sys, h5py
src, dst = sys.argv[1], sys.argv[2]
with h5py.File(src) as f, h5py.File(dst, "w") as g:
    for split, n in (("train", 3000), ("test", 1000)):
        g.create_dataset(f"{split}/x", data=f[f"{split}/x"][:n], chunks=(64, 28, 28))
        g[f"{split}/y"] = f[f"{split}/y"][:n]
    for k, v in f.attrs.items():
        g.attrs[k] = v
PY
mpi() { # mpi NP DIR ARGS...: 30 steps over the subset, shuffled, loss logged every step
    local np=$1 dir=$2
    shift 2
    timeout 300 mpirun -np "$np" --oversubscribe "$BIN" train $CFG --run-dir "$T/$dir" --quiet \
        --set "data.train=$SUB" --set "data.test=$SUB" --set train.steps=30 --set train.log_every=1 \
        --set data.shuffle=true "$@" >"$T/$dir.out" 2>"$T/$dir.err"
}
# same DIR1 DIR2 [STEP]: parameters, AdamW m and v bitwise equal, and every logged loss
same() {
    /usr/bin/python3 - "$T/$1" "$T/$2" "${3:-30}" <<'PY'
import sys, json, h5py, numpy as np
a, b, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
def state(d):
    with h5py.File(f"{d}/ckpt/step_{step:08d}.h5") as f:
        return {g + "/" + k: f[g][k][()] for g in ("params", "optim/m", "optim/v") for k in f[g]}
def losses(d):
    return {json.loads(l)["step"]: json.loads(l)["loss"] for l in open(f"{d}/metrics.jsonl") if '"event"' not in l}
sa, sb = state(a), state(b)
la, lb = losses(a), losses(b)
bits = sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
logs = la == lb and sorted(la) == list(range(1, step + 1))
print(f"{len(sa)} tensors bitwise equal: {bits}; {len(la)} logged losses identical: {logs}")
sys.exit(0 if bits and logs else 1)
PY
}

# ---- 1. bit-exact resume: stop mid-epoch (step 16) and at an epoch boundary (step 11) ----
for np in 1 2 3; do
    mpi $np full$np
    for k in 16 11; do
        RINGTRAIN_STOP_AT_STEP=$k mpi $np stop$np.$k
        rc1=$?
        mpi $np stop$np.$k --resume auto
        rc2=$?
        out=$(same full$np stop$np.$k)
        rc=$?
        [ $rc1 -eq 3 ] && [ $rc2 -eq 0 ]
        check "bit-exact resume np=$np stop at $k" $((rc | $?)) "stop exit $rc1, resume exit $rc2; $out"
    done
done

# ---- 2. resume at another world size: stop at np=2, go on at np=1 and np=3 ----
# (GELU: see tests/test_mpi.sh for why AdamW+ReLU is compared across N only loosely)
G=(--set model.layers.1.type=gelu --set model.layers.3.type=gelu)
mpi 2 ws_full "${G[@]}"
for np in 1 3; do
    RINGTRAIN_STOP_AT_STEP=16 mpi 2 ws$np "${G[@]}"
    mpi $np ws$np "${G[@]}" --resume auto
    rc=$?
    /usr/bin/python3 - "$T/ws_full" "$T/ws$np" <<'PY'
import sys, json
def losses(d):
    return {json.loads(l)["step"]: json.loads(l)["loss"] for l in open(f"{d}/metrics.jsonl") if '"event"' not in l}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a)
print(f"{len(b)} steps, max rel loss diff {worst:.2e} (tol 1e-5)")
sys.exit(0 if sorted(a) == sorted(b) and worst <= 1e-5 else 1)
PY
    check "resume np=2 -> np=$np" $((rc | $?)) "losses follow the uninterrupted np=2 run"
done

# ---- 3. a crash half-way through writing a checkpoint ----
RINGTRAIN_FAULT_CKPT_CRASH=20 mpi 1 crash --set train.checkpoint_every=10
rc1=$?
latest=$(cat "$T/crash/ckpt/latest" 2>/dev/null)
partial=$(ls "$T/crash/ckpt/" | grep -c 'tmp$')
mpi 1 crash --set train.checkpoint_every=10 --resume auto
rc2=$?
resumed=$(grep -o 'resume: [^ ]*' "$T/crash.out" | head -n1)
out=$(same full1 crash)
rc=$?
[ $rc1 -ne 0 ] && [ "$latest" = "step_00000010.h5" ] && [ "$partial" -eq 1 ] && [ $rc2 -eq 0 ]
check "crash during a write" $((rc | $?)) "killed (exit $rc1) with latest -> $latest and $partial partial file; resumed from step 10 (exit $rc2); $out"

# ---- 4. a corrupted checkpoint: clear error, and --resume auto falls back ----
mpi 1 flip --set train.checkpoint_every=10
/usr/bin/python3 tests/flip_bytes.py "$T/flip/ckpt/step_00000030.h5" params/fc2.weight 1000 8
"$BIN" eval "$T/flip/ckpt/step_00000030.h5" >/dev/null 2>"$T/flip_eval.err"
rc1=$?
err=$(cat "$T/flip_eval.err")
timeout 300 "$BIN" train $CFG --run-dir "$T/flip" --set "data.train=$SUB" --set "data.test=$SUB" \
    --set train.steps=40 --set data.shuffle=true --set train.checkpoint_every=10 --resume auto >"$T/flip2.out" 2>"$T/flip2.err"
rc2=$?
[ $rc1 -eq 2 ] && [[ "$err" == *"step_00000030.h5: contents do not match its seal"* ]] &&
    [ $rc2 -eq 0 ] && grep -q "falling back to .*step_00000020.h5" "$T/flip2.err" && grep -q "resume: .*step_00000020.h5 (step 20" "$T/flip2.out"
check "corrupted checkpoint" $? "eval exit $rc1: $err; --resume auto warned and went on from step 20 (exit $rc2)"

# ---- 5. a real SIGUSR1 to one rank: checkpoint, exit 3 everywhere, resume is exact ----
mpi 2 sig --set train.steps=30 --set train.log_every=1 &
mpipid=$!
for _ in $(seq 100); do
    pid=$(pgrep -f "^$BIN train .*$T/sig " | tail -n1)
    [ -n "$pid" ] && [ -s "$T/sig/metrics.jsonl" ] && break
    sleep 0.1
done
kill -USR1 "$pid" 2>/dev/null
wait $mpipid
rc1=$?
stopped=$(grep -o '"event":"stopped","step":[0-9]*' "$T/sig.out")
mpi 2 sig --resume auto
rc2=$?
out=$(same full2 sig)
rc=$?
[ $rc1 -eq 3 ] && [ -n "$stopped" ] && [ $rc2 -eq 0 ]
check "SIGUSR1 to one rank" $((rc | $?)) "exit $rc1 ($stopped), resumed (exit $rc2); $out"

# ---- 6. compatibility: each gives one clear error and exit 2 (edited files are
# re-sealed with `ringtrain seal`, as if another build had written them) ----
ck="$T/full1/ckpt/step_00000030.h5"
expect_bad "resume another model" "/params/fc1.weight: shape [1024, 784] in the file, model needs [512, 784]" \
    "$BIN" train $CFG --run-dir "$T/other" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --set model.layers.0.out=512 --resume "$ck"
cp "$ck" "$T/v99.h5"
/usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); f.attrs.modify('format_version', 99)" "$T/v99.h5" && "$BIN" seal "$T/v99.h5" >/dev/null
expect_bad "unknown format_version" "v99.h5: format_version: 99 is not one this build reads" \
    "$BIN" train $CFG --run-dir "$T/v99" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --resume "$T/v99.h5"
cp "$ck" "$T/nov.h5"
/usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); del f['optim/v']" "$T/nov.h5" && "$BIN" seal "$T/nov.h5" >/dev/null
expect_bad "missing optimizer state" "nov.h5: /optim/v: missing group" \
    "$BIN" train $CFG --run-dir "$T/nov" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --resume "$T/nov.h5"
cp "$ck" "$T/vlen.h5" # h5py stores a str as a variable-length string, which ringtrain refuses unread
/usr/bin/python3 -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); f.attrs['optim_type'] = 'adamw'" "$T/vlen.h5" && "$BIN" seal "$T/vlen.h5" >/dev/null
expect_bad "variable-length string attribute" "vlen.h5: optim_type: variable-length string attribute" \
    "$BIN" train $CFG --run-dir "$T/vlen" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --resume "$T/vlen.h5"
expect_bad "optimizer type differs" "optim_type: the checkpoint holds adamw state, the config asks for sgd" \
    "$BIN" train $CFG --run-dir "$T/sgd" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --set optim.type=sgd --resume "$ck"
expect_bad "bad --resume path" "$T/none.h5: No such file" \
    "$BIN" train $CFG --run-dir "$T/none" --quiet --set "data.train=$SUB" --set "data.test=$SUB" --resume "$T/none.h5"

# ---- 7. inspect ----
"$BIN" inspect "$ck" >"$T/inspect.out" 2>&1
grep -q "^step            30$" "$T/inspect.out" && grep -q "fc1.weight  *\[1024, 784\]  *802816" "$T/inspect.out" &&
    grep -q "6 tensors, 1863690 parameters" "$T/inspect.out"
check "inspect" $? "$(grep -c . "$T/inspect.out") lines: step, shapes, counts, norms"

# ---- 8. PyTorch loads a checkpoint with the one-line rule, same accuracy ----
mpi 2 interop --set train.steps=40
/usr/bin/python3 tests/reference/interop.py "$BIN" "$T/interop/ckpt/step_00000040.h5" "$SUB"
check "pytorch interop" $? "state_dict from the one-line rule reproduces ringtrain eval"

# ---- 9. a run directory or ckpt/latest where a checkpoint is ----
mpi 1 resolve --set train.checkpoint_every=10 --set train.keep_checkpoints=3
R="$T/resolve"
newest="$R/ckpt/step_00000030.h5"
for arg in "$R" "$R/" "$R/ckpt" "$R/ckpt/latest"; do
    "$BIN" inspect "$arg" >"$T/res.out" 2>&1 && head -n1 "$T/res.out" | grep -qF "$newest"
    check "inspect ${arg#"$T"/}: the newest checkpoint" $? "$(head -n1 "$T/res.out")"
done
"$BIN" eval "$R/ckpt/latest" --data "$SUB" >"$T/res.out" 2>&1 && grep -qF "\"checkpoint\":\"$newest\"" "$T/res.out"
check "eval ckpt/latest: the newest checkpoint" $? "$(cut -c1-160 "$T/res.out")"
(cd "$R/ckpt" && "$OLDPWD/$BIN" inspect latest) >"$T/res.out" 2>&1 && head -n1 "$T/res.out" | grep -q "step_00000030.h5"
check "inspect latest from inside ckpt/" $? "$(head -n1 "$T/res.out")"
# a newest checkpoint cut short: the next complete one
truncate -s 4096 "$newest"
"$BIN" inspect "$R" >"$T/res.out" 2>&1 && head -n1 "$T/res.out" | grep -qF "$R/ckpt/step_00000020.h5"
check "a truncated newest checkpoint: the next complete one" $? "$(head -n1 "$T/res.out")"
mkdir -p "$T/plain"
expect_bad "a directory that is not a run" "$T/plain: a directory that is not a run directory" "$BIN" inspect "$T/plain"
mkdir -p "$T/empty/ckpt"
expect_bad "a run without checkpoints" "$T/empty: no complete checkpoint in $T/empty/ckpt" "$BIN" eval "$T/empty"
# sample takes them too (a rectified flow, 4 steps)
timeout 300 "$BIN" train configs/fashion_rectflow.json --run-dir "$T/flow" --quiet --set "data.train=$SUB" \
    --set "data.test=$SUB" --set train.steps=4 >/dev/null 2>&1
"$BIN" sample "$T/flow/ckpt/latest" --n 4 --steps 2 --out "$T/s.h5" >"$T/res.out" 2>&1 &&
    grep -qF "\"checkpoint\":\"$T/flow/ckpt/step_00000004.h5\"" "$T/res.out"
check "sample ckpt/latest" $? "$(cut -c1-160 "$T/res.out")"

# ---- 10. a resume whose config differs from the checkpoint's ----
mpi 1 cfg --set train.steps=20
cont=("$BIN" train $CFG --run-dir "$T/cfg" --quiet --set "data.train=$SUB" --set "data.test=$SUB"
      --set data.shuffle=true --resume auto)
before=$(cd "$T/cfg" && md5sum config.json metrics.jsonl ckpt/*)
expect_bad "resume with another lr" "step_00000020.h5: the config differs from the one it was trained with: optim.lr 0.001 -> 0.5" \
    "${cont[@]}" --set train.steps=30 --set optim.lr=0.5
[ "$(cd "$T/cfg" && md5sum config.json metrics.jsonl ckpt/*)" = "$before" ]
check "a refused resume leaves the run as it was" $? "config.json, metrics.jsonl and ckpt/ unchanged"
cp "$SUB" "$T/fm3000_copy.h5"
expect_bad "resume on another data file" "data.train \"$SUB\" -> \"$T/fm3000_copy.h5\"" \
    "${cont[@]}" --set train.steps=30 --set "data.train=$T/fm3000_copy.h5"
# allowed: logging, a longer run, the same file by another path
"${cont[@]}" --set train.steps=30 --set train.log_every=5 --set "data.test=$T/../$(basename "$T")/fm3000.h5" \
    >"$T/cfg.out" 2>&1
rc=$?
/usr/bin/python3 - "$T/cfg/metrics.jsonl" <<'PY' >"$T/cfg.chk"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"event":"start"' in l][-1]
ch = {c["key"]: c["allowed"] for c in s.get("config_changes", [])}
print(f"start event config_changes {ch}")
sys.exit(0 if ch == {"train.log_every": True, "train.steps": True, "data.test": True} else 1)
PY
py=$?
[ $rc -eq 0 ] && [ $py -eq 0 ]
check "allowed changes resume and are listed" $? "exit $rc; $(cat "$T/cfg.chk")"
"${cont[@]}" --set train.steps=40 --set optim.lr=0.5 --allow-config-change >"$T/cfg2.out" 2>&1
rc=$?
grep '"event":"start"' "$T/cfg/metrics.jsonl" | tail -n1 | grep -q '{"key":"optim.lr","old":"0.001","new":"0.5","allowed":false}'
check "--allow-config-change resumes and records the change" $(( rc | $? )) "exit $rc; $(grep '"event":"start"' "$T/cfg/metrics.jsonl" | tail -n1 | grep -o '"config_changes".*' | cut -c1-200)"

finish
