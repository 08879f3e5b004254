#!/usr/bin/python3
"""Single-process fashion_mlp throughput: ringtrain against PyTorch on the same
model (784-1024-1024-10), AdamW, global batch 256 and Fashion-MNIST rows,
measured side by side in one run. Prints a table and the ratios.
usage: tests/bench/mlp_single.py BIN DATA.h5 [STEPS]
       tests/bench/mlp_single.py --torch THREADS[:BLAS] DATA.h5 [STEPS]: PyTorch alone,
       one JSON line with samples/s (make bench alternates it with ringtrain)"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# torch.set_num_threads does not reach OpenBLAS, which Debian's torch calls
# through libblas.so.3 and which takes its thread count from the environment
# when it loads: --torch THREADS runs OpenBLAS with as many, --torch
# THREADS:BLAS with BLAS (1:2 is torch's default here: one intra-op thread,
# OpenBLAS on every core)
if sys.argv[1] == "--torch":
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[2].split(":")[-1]

import numpy as np
import torch

from fashion_torch import load_train, make_mlp

args = sys.argv[1:]
TORCH_THREADS = None  # --torch THREADS: PyTorch alone
if args[0] == "--torch":
    TORCH_THREADS, args = int(args[1].split(":")[0]), args[2:]
else:
    BIN, args = args[0], args[1:]
DATA = args[0]
STEPS = int(args[1]) if len(args) > 1 else 200
B = 256


def torch_sps(threads):
    torch.set_num_threads(threads)
    x, y = load_train(DATA)
    m = make_mlp()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
    perm = np.random.default_rng(0).permutation(len(x))
    def step(s):
        idx = np.sort(perm[(s % 234) * B:(s % 234 + 1) * B])  # rows read as ringtrain reads them
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(m(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        loss.backward()
        opt.step()
    for s in range(10):
        step(s)
    t0 = time.perf_counter()
    for s in range(STEPS):
        step(s)
    return STEPS * B / (time.perf_counter() - t0)


def ringtrain_sps(threads):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
        cmd = [BIN, "train", "configs/fashion_mlp.json", "--run-dir", tmp + "/run", "--quiet",
               "--set", f"train.steps={STEPS + 10}", "--set", "train.log_every=10",
               "--set", f"data.train={DATA}", "--set", f"data.test={DATA}",
               "--set", f"train.eval_every={10 * STEPS}"]
        subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        # steady state, as for pytorch: the median window after the first 10 (warm-up) steps
        with open(tmp + "/run/metrics.jsonl") as f:
            rows = [json.loads(l) for l in f if '"samples_per_s"' in l and '"event"' not in l]
        return statistics.median(r["samples_per_s"] for r in rows[1:])


if TORCH_THREADS:
    print(json.dumps({"threads": TORCH_THREADS, "openblas_threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
                      "samples_per_s": torch_sps(TORCH_THREADS)}))
    sys.exit(0)

def torch_alone(threads):
    """PyTorch in a process of its own, where OpenBLAS loads with `threads`."""
    out = subprocess.run([sys.executable, __file__, "--torch", str(threads), DATA, str(STEPS)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["samples_per_s"]


rows = []
for threads in (1, 2):
    rt, pt = ringtrain_sps(threads), torch_alone(threads)
    rows.append((threads, rt, pt))
default = torch_alone("1:2")  # torch.set_num_threads(1) alone: OpenBLAS keeps both cores
best_torch = max([r[2] for r in rows] + [default])
print(f"{'threads':>8} {'ringtrain/s':>12} {'pytorch/s':>10} {'ratio':>6}")
for threads, rt, pt in rows:
    print(f"{threads:>8} {rt:>12.0f} {pt:>10.0f} {rt / pt:>6.2f}x")
print(f"pytorch with 1 thread and OpenBLAS at 2: {default:.0f}/s")
best_rt = max(r[1] for r in rows)
print(f"best ringtrain {best_rt:.0f}/s against best pytorch {best_torch:.0f}/s: {best_rt / best_torch:.2f}x")
print("note: ringtrain reads every batch from HDF5 (on its loader thread); pytorch indexes arrays in memory")
