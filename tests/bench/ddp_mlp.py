#!/usr/bin/python3
"""PyTorch DistributedDataParallel (gloo, 127.0.0.1) on fashion_mlp's model
(global batch 256) or fashion_cnn's (global batch 128), AdamW, the batch split
over the ranks, Fashion-MNIST rows.
Prints one JSON line with samples/s. usage: ddp_mlp.py DATA.h5 NP STEPS [mlp|cnn]"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fashion_torch import load_train, make_cnn, make_mlp


def worker(rank, world, data, steps, port, out, model):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    x, y = load_train(data)
    m = make_cnn() if model == "cnn" else make_mlp()
    B = 128 if model == "cnn" else 256
    per_epoch = len(x) // B
    ddp = torch.nn.parallel.DistributedDataParallel(m)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-3, weight_decay=0.01)
    perm = np.random.default_rng(0).permutation(len(x))
    lo, hi = rank * B // world, (rank + 1) * B // world

    def step(s):
        idx = np.sort(perm[(s % per_epoch) * B:(s % per_epoch + 1) * B][lo:hi])
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ddp(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        (loss * (hi - lo) / B).backward()
        opt.step()

    for s in range(10):
        step(s)
    dist.barrier()
    t0 = time.perf_counter()
    for s in range(steps):
        step(s)
    dist.barrier()
    if rank == 0:
        out.put(steps * B / (time.perf_counter() - t0))
    dist.destroy_process_group()


if __name__ == "__main__":
    data, world, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = sys.argv[4] if len(sys.argv) > 4 else "mlp"
    # one core per rank, as ringtrain's ranks: torch.set_num_threads does not
    # reach OpenBLAS (Debian's torch calls it through libblas.so.3), whose
    # threads the spawned workers take from the environment
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=worker, args=(r, world, data, steps, port, q, model)) for r in range(world)]
    for p in procs:
        p.start()
    sps = q.get()
    for p in procs:
        p.join()
    print(json.dumps({"bench": "pytorch_ddp_gloo", "model": model, "np": world, "samples_per_s": sps}))
