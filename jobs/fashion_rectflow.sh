#!/usr/bin/env bash
# Trains fashion_rectflow locally: jobs/fashion_rectflow.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_rectflow.json "$@"
