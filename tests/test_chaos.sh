#!/usr/bin/env bash
# The chaos soak: fashion_mlp at np = 2 through 13 faults of 10 kinds at steps
# drawn from a seed (kill -9 of a rank and of mpirun, SIGSTOP, SIGTERM and
# SIGUSR1 preemption, a full disk at a checkpoint, a crash inside a checkpoint
# write, a truncated and a bit-flipped newest checkpoint, one rank's read
# failing), each followed by a restart with --resume auto. It passes when every
# exit code is the documented one, nothing is left running after a fault,
# every restart has a checkpoint, and the final parameters and optimizer state
# are bitwise equal to an uninterrupted run's. The supervisor is
# tests/tools/chaos.py; it prints its fault log.
# usage: tests/test_chaos.sh [BIN] [DATA.h5] [SEED]   (RT_KEEP=1 keeps the scratch directory)
set -u
BIN=${1:-build/ringtrain}
DATA=${2:-data/fashion-mnist.h5}
SEED=${3:-${RT_CHAOS_SEED:-$(date +%s)}}
T=$(mktemp -d /tmp/rt_chaos.XXXXXX)
DISK="$T/disk"
cleanup() {
    pkill -CONT -f "ringtrain train .*$T" 2>/dev/null
    pkill -KILL -f "ringtrain train .*$T" 2>/dev/null
    mountpoint -q "$DISK" && umount "$DISK"
    [ -n "${RT_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$DISK"
# a filesystem of the run's own, for the full-disk fault: 4 checkpoints of
# 22 MB and the logs fit
if ! mount -t tmpfs -o size=128m tmpfs "$DISK"; then
    check "chaos soak (seed $SEED)" 1 "cannot mount a tmpfs at $DISK"
    finish
    exit
fi
/usr/bin/python3 tests/tools/chaos.py "$BIN" "$DATA" "$SEED" "$T" "$DISK" | tee "$T/chaos.log"
rc=${PIPESTATUS[0]}
check "chaos soak (seed $SEED)" "$rc" "$(tail -n1 "$T/chaos.log")"
finish
