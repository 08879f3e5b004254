#!/usr/bin/env bash
# Trains fashion_nice_long (70 epochs, 46 min at np=2 on a 2-core EPYC, 5.35 test bits/dim): jobs/fashion_nice_long.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_nice_long.json "$@"
