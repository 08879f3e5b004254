#!/usr/bin/env bash
# Trains fashion_nice locally: jobs/fashion_nice.sh [--set key=value ...]
# NP ranks (default 2); see jobs/run.sh.
exec "$(dirname "$0")/run.sh" configs/fashion_nice.json "$@"
