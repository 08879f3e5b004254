#!/usr/bin/env bash
# Trains fashion_rectflow_conv_long (50 epochs, sized to about 50 min at np=2; not yet run to the end): jobs/fashion_rectflow_conv_long.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_rectflow_conv_long.json "$@"
