#!/usr/bin/env bash
# Trains fashion_mlp locally: jobs/fashion_mlp.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_mlp.json "$@"
