#!/usr/bin/env bash
# Trains fashion_cnn locally: jobs/fashion_cnn.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_cnn.json "$@"
