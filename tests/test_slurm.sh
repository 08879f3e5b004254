#!/usr/bin/env bash
# Slurm, for real: starts a one-node cluster (munged, slurmctld, slurmd) in a
# temporary directory, submits slurm/train.sbatch with sbatch, and stops every
# daemon by PID at the end. Cases: a whole job; a preempted job (USR1 to the
# batch shell) that checkpoints, exits 3, requeues, resumes and ends bitwise
# equal to the whole job; a missing config and an allocation too small for the
# config, which must fail without a requeue loop; and a job given train's own
# --run-dir and --set, preempted, that requeues, resumes and completes.
# usage: tests/test_slurm.sh
set -u
export RT_SLURM_DIR=$(mktemp -d /tmp/rt_slurm.XXXXXX)
export RT_SLURM_PORT=$((17000 + RANDOM % 2000))
export SLURM_CONF="$RT_SLURM_DIR/slurm.conf"
OUT="$RT_SLURM_DIR/jobs"
RUNS=runs/slurm-test-$$
cleanup() {
    slurm/local-cluster.sh stop
    [ -n "${RT_KEEP:-}" ] || rm -rf "$RT_SLURM_DIR" "$RUNS"
}
trap cleanup EXIT
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slurm_lib.sh"
if ! slurm/local-cluster.sh start >/dev/null; then
    echo "FAIL local cluster did not start"
    echo "0 passed, 1 failed"
    exit 1
fi
submit() { # submit NAME ARGS...: prints the job id
    local name=$1
    shift
    RINGTRAIN_RUN_DIR="$RUNS/$name" sbatch --parsable --output="$OUT/$name.out" "$@"
}
STEPS=(--set train.steps=300 --set train.log_every=25 --set train.eval_every=1000 --quiet)

# ---- 1. a whole job ----
j1=$(submit whole slurm/train.sbatch configs/fashion_mlp.json "${STEPS[@]}")
wait_state "$j1" 180 COMPLETED FAILED CANCELLED
st=$(state "$j1")
done_line=$(grep '"event":"done"' "$OUT/whole.out" | tail -n1)
[ "$st" = COMPLETED ] && [ "$(field "$j1" ExitCode)" = "0:0" ] && [[ "$done_line" == *'"step":300'*'"world_size":2'* ]]
check "whole job" $? "job $j1 $st exit $(field "$j1" ExitCode); $(echo "$done_line" | cut -c1-80)"

# ---- 2. preemption: USR1 to the batch shell, checkpoint, exit 3, requeue, resume ----
j2=$(submit preempt slurm/train.sbatch configs/fashion_mlp.json "${STEPS[@]}")
preempt "$j2" "$RUNS/preempt"
st=$(state "$j2")
stopped=$(grep -o '"event":"stopped","step":[0-9]*' "$OUT/preempt.out" | head -n1)
/usr/bin/python3 - "$RUNS/whole" "$RUNS/preempt" <<'PY'
import sys, json, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
def params(d):
    with h5py.File(f"{d}/ckpt/step_00000300.h5") as f:
        return {k: f["params"][k][()] for k in f["params"]}, dict(f.attrs)
pa, _ = params(a)
pb, attrs = params(b)
same = all(np.array_equal(pa[k], pb[k]) for k in pa)
starts = [json.loads(l) for l in open(f"{b}/metrics.jsonl") if '"event":"start"' in l]
seen = [(s["job_id"], s["requeue_count"], s["launcher"]) for s in starts]
print(f"final parameters bitwise equal to the whole job: {same}; start events {seen}; "
      f"checkpoint job_id {attrs.get('job_id')} requeue_count {attrs.get('requeue_count')}")
ok = same and len(starts) == 2 and starts[0]["requeue_count"] == 0 and starts[1]["requeue_count"] == 1 \
    and all(s[2] == "srun" for s in seen) and int(attrs.get("requeue_count")) == 1
sys.exit(0 if ok else 1)
PY
rc=$?
[ "$st" = COMPLETED ] && [ -n "$stopped" ] && [ "$(field "$j2" Restarts)" = 1 ]
ok=$((rc | $?))
check "preemption and requeue" $ok "job $j2 $st after $(field "$j2" Restarts) requeue ($stopped)"
[ $ok -eq 0 ] || { echo "    the job's output, last lines:"; tail -n 25 "$OUT/preempt.out" | sed 's/^/    /'; daemon_log "$j2"; }

# ---- 3. bad input: fails clearly, no requeue loop ----
j3=$(submit missing slurm/train.sbatch configs/no_such_config.json)
wait_state "$j3" 60 FAILED COMPLETED
err=$(grep "error" "$OUT/missing.out" | head -n1)
[ "$(state "$j3")" = FAILED ] && [ "$(field "$j3" Restarts)" = 0 ] && [[ "$err" == *"no_such_config.json: config not found"* ]]
check "missing config" $? "job $j3 $(state "$j3") exit $(field "$j3" ExitCode), restarts $(field "$j3" Restarts): $err"

j4=$(submit small slurm/train.sbatch configs/fashion_mlp.json --set train.global_batch=1 --set train.steps=5)
wait_state "$j4" 60 FAILED COMPLETED
err=$(grep "ringtrain: error" "$OUT/small.out" | head -n1)
[ "$(state "$j4")" = FAILED ] && [ "$(field "$j4" Restarts)" = 0 ] && [ "$(field "$j4" ExitCode)" = "2:0" ] &&
    [[ "$err" == *"train.global_batch: 1 rows cannot feed 2 ranks"* ]]
check "allocation too small for the config" $? "job $j4 $(state "$j4") exit $(field "$j4" ExitCode), restarts $(field "$j4" Restarts): $err"

# ---- 4. train's own arguments through the script: --run-dir, --set, a preempted job ----
# (the script looked for the done event in its default directory, and failed
# finished jobs; --run-dir must also win over RINGTRAIN_RUN_DIR)
j5=$(submit own slurm/train.sbatch configs/fashion_mlp.json "${STEPS[@]}" --run-dir "$RUNS/own-dir")
preempt "$j5" "$RUNS/own-dir"
/usr/bin/python3 - "$RUNS/whole" "$RUNS/own-dir" <<'PY'
import sys, json, h5py, numpy as np
a, b = sys.argv[1], sys.argv[2]
def params(d):
    with h5py.File(f"{d}/ckpt/step_00000300.h5") as f:
        return {k: f["params"][k][()] for k in f["params"]}
same = all(np.array_equal(x, params(b)[k]) for k, x in params(a).items())
ev = [json.loads(l)["event"] for l in open(f"{b}/metrics.jsonl") if '"event"' in l]
print(f"bitwise equal to the whole job: {same}; events {ev}")
sys.exit(0 if same and ev.count("start") == 2 and ev[-1] == "done" else 1)
PY
rc=$?
[ "$(state "$j5")" = COMPLETED ] && [ "$(field "$j5" ExitCode)" = "0:0" ] && [ "$(field "$j5" Restarts)" = 1 ] &&
    [ ! -e "$RUNS/own" ] && ! grep -q "ringtrain.sbatch: error" "$OUT/own.out"
ok=$((rc | $?))
check "--run-dir through the script, preempted and requeued" $ok "job $j5 $(state "$j5") exit $(field "$j5" ExitCode) after $(field "$j5" Restarts) requeue; $(grep 'run dir' "$OUT/own.out" | head -n1 | grep -o 'run dir .*')"
[ $ok -eq 0 ] || { echo "    the job's output, last lines:"; tail -n 25 "$OUT/own.out" | sed 's/^/    /'; daemon_log "$j5"; }

finish
