#!/usr/bin/python3
"""PyTorch peer of configs/fashion_rectflow_dit.json for make bench: the same
DiT (tests/reference/dit_ref.py, the same names and shapes), rectified-flow
training steps with AdamW on Fashion-MNIST rows, global batch as the config's.
Modes: `single THREADS` (one process, torch.set_num_threads(THREADS)) or
`ddp NP` (DistributedDataParallel over gloo on 127.0.0.1, one thread each).
Prints one JSON line with samples/s over STEPS steps after 5 warm-up steps.
usage: dit_torch.py CONFIG.json DATA.h5 STEPS single|ddp N (single N:B: OpenBLAS at B threads)"""
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import dit_ref  # noqa: E402


def setup(config, data):
    with h5py.File(data) as f:
        x = f["train/x"][()]
        y = f["train/y"][()].astype(np.int64)
    cfg = json.load(open(config))
    cfg["model"].setdefault("num_classes", 0)
    if not cfg["model"]["num_classes"]:
        cfg["model"]["num_classes"] = 10
    mean, std = cfg["data"].get("mean", 0.0), cfg["data"].get("std", 1.0)
    x = ((x.astype(np.float32) / 255 - mean) / std).reshape(len(x), *cfg["model"]["input"]).astype(np.float32)
    return cfg, x, y


def run(rank, world, config, data, steps, port, out, threads):
    torch.set_num_threads(threads)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    cfg, x, y = setup(config, data)
    model = dit_ref.build_dit(cfg)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    o = cfg.get("optim", {})
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=o.get("lr", 1e-3),
                            weight_decay=o.get("weight_decay", 0.01))
    B = cfg["train"].get("global_batch", 256)
    lo, hi = rank * B // world, (rank + 1) * B // world
    rng = np.random.default_rng(rank)
    K = cfg["model"]["num_classes"]

    def step(s):
        idx = np.arange(s * B + lo, s * B + hi) % len(x)
        x1 = torch.from_numpy(x[idx])
        x0 = torch.randn_like(x1)
        t = torch.sigmoid(torch.randn(len(idx)))
        xt = t.view(-1, 1, 1, 1) * x1 + (1 - t.view(-1, 1, 1, 1)) * x0
        lab = torch.from_numpy(np.where(rng.random(len(idx)) < 0.1, K, y[idx]))
        opt.zero_grad()
        loss = ((net(xt, t, lab) - (x1 - x0)) ** 2).mean() * (hi - lo) / B
        loss.backward()
        opt.step()

    for s in range(5):
        step(s)
    if world > 1:
        dist.barrier()
    t0 = time.perf_counter()
    for s in range(steps):
        step(s)
    if world > 1:
        dist.barrier()
    if rank == 0:
        out.put(steps * B / (time.perf_counter() - t0))
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    config, data, steps, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    n, blas = int(sys.argv[5].split(":")[0]), sys.argv[5].split(":")[-1]  # single 1:2: OpenBLAS at 2
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    world, threads = (n, 1) if mode == "ddp" else (1, n)
    # torch.set_num_threads does not reach OpenBLAS (Debian's torch calls it
    # through libblas.so.3): the spawned workers take its threads from here
    os.environ["OPENBLAS_NUM_THREADS"] = "1" if mode == "ddp" else blas
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=run, args=(r, world, config, data, steps, port, q, threads)) for r in range(world)]
    for p in procs:
        p.start()
    sps = q.get()
    for p in procs:
        p.join()
    print(json.dumps({"bench": f"pytorch_dit_{mode}", "n": n, "samples_per_s": sps}))
