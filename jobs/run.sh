#!/usr/bin/env bash
# Trains one config locally: jobs/run.sh CONFIG.json [--set key=value ...]
# NP ranks (default 2).
set -eu
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
[ -f data/fashion-mnist.h5 ] || build/ringtrain prep fashion-mnist --out data/fashion-mnist.h5
config=$1
if grep -q '"data/fashion-keypoints.h5"' "$config" && [ ! -f data/fashion-keypoints.h5 ]; then
    build/ringtrain prep fashion-keypoints --out data/fashion-keypoints.h5
fi
NP=${NP:-2}
extra=()
[ "$NP" -gt "$(nproc)" ] && extra=(--oversubscribe)
shift
exec mpirun -np "$NP" "${extra[@]}" build/ringtrain train "$config" "$@"
