#!/usr/bin/env bash
# make bench: speed figures measured side by side, printed as ratios.
# Not part of make test: this machine is shared and noisy.
set -eu
BIN=${BIN:-build/ringtrain}
DATA=${DATA:-data/fashion-mnist.h5}
echo "== single-process fashion_mlp throughput, ringtrain vs PyTorch (same model, batch, rows)"
/usr/bin/python3 tests/bench/mlp_single.py "$BIN" "$DATA" "${STEPS:-200}"
