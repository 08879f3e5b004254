#!/usr/bin/env bash
# Trains fashion_rectflow_dit_long (30 epochs, EMA; 49 min 45 s at np=2 on a 2-core EPYC, FID 13.1 at --cfg 2 on 2,000 samples): jobs/fashion_rectflow_dit_long.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_rectflow_dit_long.json "$@"
