#!/usr/bin/env bash
# Trains fashion_kp_simcc (the keypoint task, data/fashion-keypoints.h5) locally: jobs/fashion_kp_simcc.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_kp_simcc.json "$@"
