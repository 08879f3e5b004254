# tests/slurm_lib.sh - sourced by the Slurm suites: job state, waits, and a
# preemption. Clients run through $SLURM_RUN, a prefix ("" on the one-node
# cluster; "slurm/local-cluster.sh run" on emulated nodes, whose controller
# only the nodes reach). The suite sets RT_SLURM_DIR.
SLURM_RUN=${SLURM_RUN:-}

state() { $SLURM_RUN scontrol show job "$1" | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2; }
field() { $SLURM_RUN scontrol show job "$1" | grep -oE "$2=[^ ]+" | cut -d= -f2; }

wait_state() { # wait_state JOB SECONDS STATE...: until the job reaches one of the states
    local job=$1 secs=$2 s want
    shift 2
    for _ in $(seq $((secs * 5))); do
        s=$(state "$job")
        for want in "$@"; do [ "$s" = "$want" ] && return 0; done
        sleep 0.2
    done
    return 1
}

wait_step() { # wait_step DIR STEP: until DIR/metrics.jsonl has logged STEP (60 s at most)
    for _ in $(seq 300); do grep -qs "\"step\":$2," "$1/metrics.jsonl" && return 0; sleep 0.2; done
    return 1
}

daemon_log() { # daemon_log JOB: what slurmctld and the slurmds said about the job
    echo "    slurmctld and slurmd on job $1:"
    grep -hE "(JobId=|job_id=|job |StepId=|\[)$1([^0-9]|$)" "$RT_SLURM_DIR"/slurmctld.log "$RT_SLURM_DIR"/slurmd*.log 2>/dev/null |
        tail -n 30 | sed 's/^/    /'
}

# release JOB: a requeued job is held for about two minutes; let it start as
# soon as the last attempt's step daemons are gone (their PMIx sockets must
# be free) and every node has left COMPLETING (a launch before that can be
# refused, failing the job)
release() {
    local job=$1
    for _ in $(seq 300); do [ "$(field "$job" Restarts)" != 0 ] && [ "$(state "$job")" = PENDING ] && break; sleep 0.2; done
    for _ in $(seq 300); do pgrep -f "slurmstepd: \[$job\." >/dev/null || break; sleep 0.2; done
    for _ in $(seq 300); do $SLURM_RUN sinfo -h -N -o %T | grep -qv '^idle$' || break; sleep 0.2; done
    # slurmd revokes the old attempt's credentials at the requeue, to the
    # second: a new credential made within that same second counts as revoked
    # ("Job credential revoked", the attempt killed at once). Slurm's own
    # requeue delay avoids that; this early release must wait out the second.
    sleep 1.2
    $SLURM_RUN scontrol update JobId="$job" StartTime=now
}

# preempt JOB RUN_DIR: USR1 to the batch shell once step 25 is logged, then
# release the requeued job and wait for its end
preempt() {
    wait_step "$2" 25
    $SLURM_RUN scancel --signal=USR1 --batch "$1"
    release "$1"
    wait_state "$1" 180 COMPLETED FAILED CANCELLED
}
