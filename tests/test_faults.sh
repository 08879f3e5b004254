#!/usr/bin/env bash
# Faults: a NaN in the data (train.nonfinite abort and skip), one rank's read
# or setup failing alone (every rank stops together, exit 1 or 2), a hung rank
# (SIGSTOP: the ring's deadline names it and the job is aborted), a dead rank
# (kill -9: everything is gone quickly, the last checkpoint resumes exactly),
# and a full disk (the previous checkpoint and `latest` survive, exit 1).
# usage: tests/test_faults.sh [BIN] [DATA.h5]
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
T=$(mktemp -d /tmp/rt_faults.XXXXXX)
MNT="$T/small_disk"
cleanup() {
    pkill -CONT -f "ringtrain train .*$T" 2>/dev/null
    pkill -KILL -f "ringtrain train .*$T" 2>/dev/null
    mountpoint -q "$MNT" && umount "$MNT"
    rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
CFG=configs/fashion_mlp.json
SUB="$T/fm.h5"
NAN="$T/fm_nan.h5"
/usr/bin/python3 - "$DATA" "$SUB" "$NAN" <<'PY'
import sys, h5py, numpy as np
src, dst, nan = sys.argv[1:4]
with h5py.File(src) as f:
    x = f["train/x"][:3000]; y = f["train/y"][:3000]; tx = f["test/x"][:1000]; ty = f["test/y"][:1000]
for path, poison in ((dst, False), (nan, True)):
    with h5py.File(path, "w") as g:
        xf = x.astype(np.float32) / np.float32(255)
        if poison:
            xf[300, 14, 14] = np.nan  # row 300: step 2 when unshuffled, batch 256
        g.create_dataset("train/x", data=xf if poison else x, chunks=(64, 28, 28))
        g["train/y"] = y
        g.create_dataset("test/x", data=tx.astype(np.float32) / np.float32(255) if poison else tx)
        g["test/y"] = ty
        g.attrs["num_classes"] = 10
PY
run() { # run NP DIR ARGS...
    local np=$1 dir=$2
    shift 2
    timeout "${TIMEOUT:-300}" mpirun -np "$np" --oversubscribe "$BIN" train $CFG --run-dir "$T/$dir" --quiet \
        --set "data.train=$SUB" --set "data.test=$SUB" --set train.log_every=1 "$@" >"$T/$dir.out" 2>"$T/$dir.err"
}

# ---- 1. a NaN planted in one row ----
# (uint8 data is scaled to [0,1] when read; this file stores float32 with the raw scale)
run 2 nan_abort --set "data.train=$NAN" --set "data.test=$NAN" --set data.shuffle=false --set data.mean=0 \
    --set data.std=1 --set train.steps=6
rc=$?
err=$(grep "ringtrain: error" "$T/nan_abort.err")
[ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && [[ "$err" == *"step 2: non-finite loss or gradient"* ]]
check "NaN, nonfinite=abort" $? "exit $rc: $err"
# with bf16 on the wire the NaN must not live on in the residuals: only step 2 skips
for comp in none bf16; do
    run 2 nan_skip_$comp --set "data.train=$NAN" --set "data.test=$NAN" --set data.shuffle=false --set data.mean=0 \
        --set data.std=1 --set train.steps=6 --set train.nonfinite=skip --set dist.check_every=1 \
        --set dist.compress=$comp
    rc=$?
    /usr/bin/python3 - "$T/nan_skip_$comp" <<'PY'
import sys, json, h5py, numpy as np
d = sys.argv[1]
rows = [json.loads(l) for l in open(f"{d}/metrics.jsonl") if '"skipped"' in l]
skipped = [r["skipped"] for r in rows]
with h5py.File(f"{d}/ckpt/step_00000006.h5") as f:
    finite = all(np.isfinite(f["params"][k][()]).all() for k in f["params"])
    finite &= "dist" not in f or bool(np.isfinite(f["dist/residual"][()]).all())
print(f"skipped counts per step {skipped}; loss, gradient norm at step 2: {rows[1]['loss']}, "
      f"{rows[1]['grad_norm']}; parameters (and residuals) finite {finite}")
sys.exit(0 if skipped == [0, 1, 1, 1, 1, 1] and rows[1]["grad_norm"] is None and finite else 1)
PY
    check "NaN, nonfinite=skip, dist.compress $comp" $((rc | $?)) "exit $rc; replicas checked every step stayed identical"
done

# ---- 1b. one rank's read fails (a corrupt chunk only it reads): all stop together ----
BADX="$T/fm_badchunk.h5"
/usr/bin/python3 - "$SUB" "$BADX" <<'PY'
import sys, h5py
src, dst = sys.argv[1], sys.argv[2]
with h5py.File(src) as f, h5py.File(dst, "w") as g:
    g.create_dataset("train/x", data=f["train/x"][()], chunks=(64, 28, 28), fletcher32=True)
    g["train/y"] = f["train/y"][()]
    g["test/x"] = f["test/x"][()]
    g["test/y"] = f["test/y"][()]
    g.attrs["num_classes"] = 10
PY
# rows 448..511 (chunk 7) belong to rank 1 of 2 in step 2 when unshuffled
/usr/bin/python3 - "$BADX" <<'PY'
import sys, h5py
p = sys.argv[1]
with h5py.File(p) as f:
    off = f["train/x"].id.get_chunk_info(7).byte_offset
with open(p, "r+b") as f:
    f.seek(off + 100); b = f.read(8); f.seek(off + 100); f.write(bytes(x ^ 0xFF for x in b))
PY
t0=$SECONDS
run 2 badchunk --set "data.train=$BADX" --set data.shuffle=false --set train.steps=6
rc=$?
secs=$((SECONDS - t0))
err=$(grep "ringtrain: error" "$T/badchunk.err")
[ $rc -eq 1 ] && [ $secs -le 20 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && [[ "$err" == *"fm_badchunk.h5: reading 128 rows failed"* ]]
check "one rank's read fails" $? "all ranks stopped after ${secs}s, exit $rc: $err"

# ---- 1c. one rank's setup fails (its own metrics log, on resume): every rank
# reaches the agreement and exits 2 at once, with that rank's message ----
run 2 onerank --set train.steps=2 --per-rank-metrics
rm -f "$T/onerank/metrics.rank1.jsonl" && mkdir "$T/onerank/metrics.rank1.jsonl"
t0=$SECONDS
TIMEOUT=120 run 2 onerank --set train.steps=4 --per-rank-metrics --resume auto
rc=$?
secs=$((SECONDS - t0))
err=$(grep "ringtrain: error" "$T/onerank.err")
[ $rc -eq 2 ] && [ $secs -le 20 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && [[ "$err" == *"metrics.rank1.jsonl"* ]]
check "one rank's setup fails" $? "exit $rc after ${secs}s (dist.timeout_s is 300): $err"

# ---- 2. a hung rank: SIGSTOP, the deadline fires, the job is aborted ----
TIMEOUT=60 run 3 hung --set train.steps=100000 --set dist.timeout_s=3 --set dist.check_every=0 &
job=$!
for _ in $(seq 300); do [ -s "$T/hung/metrics.jsonl" ] && grep -q '"step":5,' "$T/hung/metrics.jsonl" && break; sleep 0.1; done
victim=$(pgrep -f "^$BIN train .*$T/hung " | sed -n 2p)
t0=$SECONDS
kill -STOP "$victim"
wait $job
rc=$?
secs=$((SECONDS - t0))
kill -CONT "$victim" 2>/dev/null
err=$(grep "ringtrain: error" "$T/hung.err" | head -n1)
left=$(pgrep -f "^$BIN train .*$T/hung " | wc -l)
[ $rc -eq 4 ] && [ $secs -le 30 ] && [ "$left" -eq 0 ] && [[ "$err" == *"rank "*" for 3 s"*"aborting the job"* ]]
check "hung rank (SIGSTOP)" $? "gone after ${secs}s, exit $rc, $left processes left: $err"
# the stall report: the rank that saw the deadline names its own step and
# collective; every rank's last phase is on stderr and in metrics.jsonl, and
# the stopped rank is named as stopped, at the step it stopped in
/usr/bin/python3 - "$T/hung" "$victim" "$T/hung.err" <<'PY'
import json, re, sys
run, victim, errf = sys.argv[1], int(sys.argv[2]), sys.argv[3]
err = open(errf).read()
first = [l for l in err.splitlines() if l.startswith("ringtrain: error")][0]
m = re.search(r"this rank at step (\d+), phase (\w[\w ]*), communication ([\w -]+)", first)
stall = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if '"event":"stall"' in l]
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl") if l.startswith('{"step"')]
ranks = stall[0]["ranks"] if len(stall) == 1 else []
v = [r for r in ranks if r["pid"] == victim]
lines = [l for l in err.splitlines() if l.startswith("ringtrain: stall: rank ")]
vline = [l for l in lines if f"pid {victim}, stopped)" in l]
last = rows[-1]["step"] if rows else -1
ok = (m is not None and len(stall) == 1 and len(ranks) == 3 and len(lines) == 3 and len(v) == 1 and
      v[0]["process"] == "stopped" and v[0]["step"] in (last, last + 1) and v[0]["phase"] and len(vline) == 1)
print(f"{first[:160]}...; stopped rank: {vline[0] if vline else 'not named'}")
sys.exit(0 if ok else 1)
PY
check "stall report names the stopped rank's phase and step" $? "$(grep -c 'ringtrain: stall' "$T/hung.err") stall lines"

# ---- 3. a dead rank: kill -9, everyone gone, the last checkpoint resumes exactly ----
run 3 full --set train.steps=40 --set train.checkpoint_every=5
run 3 dead --set train.steps=40 --set train.checkpoint_every=5 &
job=$!
for _ in $(seq 300); do [ -s "$T/dead/metrics.jsonl" ] && grep -q '"step":12,' "$T/dead/metrics.jsonl" && break; sleep 0.05; done
victim=$(pgrep -f "^$BIN train .*$T/dead " | sed -n 3p)
t0=$SECONDS
kill -9 "$victim"
wait $job
rc=$?
secs=$((SECONDS - t0))
left=$(pgrep -f "^$BIN train .*$T/dead " | wc -l)
msg=$(grep -E "rank [0-9]+ .*(exited on signal 9|killed)" "$T/dead.err" | head -n1)
latest=$(cat "$T/dead/ckpt/latest")
run 3 dead --set train.steps=40 --set train.checkpoint_every=5 --resume auto
rc2=$?
/usr/bin/python3 - "$T/full" "$T/dead" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(f"{sys.argv[1]}/ckpt/step_00000040.h5"); b = h5py.File(f"{sys.argv[2]}/ckpt/step_00000040.h5")
same = all(np.array_equal(a[g][k][()], b[g][k][()]) for g in ("params", "optim/m", "optim/v") for k in a[g])
print("resumed run bitwise equal to the uninterrupted one:", same)
sys.exit(0 if same else 1)
PY
rc3=$?
[ $rc -ne 0 ] && [ $secs -le 30 ] && [ "$left" -eq 0 ] && [ -n "$msg" ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ]
check "dead rank (kill -9)" $? "gone after ${secs}s (exit $rc): ${msg}; latest $latest resumed (exit $rc2) to a bitwise-equal end"

# ---- 4. a full disk: the previous checkpoint and latest survive ----
mkdir -p "$MNT"
if mount -t tmpfs -o size=3m tmpfs "$MNT"; then
    SMALL=(--set model.layers.0.out=64 --set model.layers.2.out=64)
    timeout 300 "$BIN" train $CFG --run-dir "$MNT/run" --quiet --set "data.train=$SUB" --set "data.test=$SUB" \
        "${SMALL[@]}" --set train.steps=200 --set train.checkpoint_every=2 --set train.keep_checkpoints=1000 \
        >"$T/disk.out" 2>"$T/disk.err"
    rc=$?
    err=$(cat "$T/disk.err")
    latest=$(cat "$MNT/run/ckpt/latest")
    "$BIN" inspect "$MNT/run/ckpt/$latest" >/dev/null 2>&1
    rc2=$?
    n=$(ls "$MNT/run/ckpt" | grep -c '^step_.*h5$')
    tmp=$(ls "$MNT/run/ckpt" | grep -c 'tmp$')
    [ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && [[ "$err" == *"ringtrain: error: $MNT/run/ckpt"*"disk"* ]] &&
        [ $rc2 -eq 0 ] && [ "$tmp" -eq 0 ]
    check "full disk" $? "exit $rc: $err; latest $latest loads ($rc2), $n checkpoints kept, $tmp partial files"
    umount "$MNT"
else
    check "full disk" 1 "cannot mount a tmpfs at $MNT"
fi

finish
