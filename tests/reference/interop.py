#!/usr/bin/python3
"""Loads a ringtrain fashion_mlp checkpoint into PyTorch with DESIGN.md's rule
    {k: torch.from_numpy(f['params'][k][()]) for k in f['params']}
and nothing more, evaluates it on the test split, and compares the accuracy
with `ringtrain eval` on the same file (must agree within 1e-4).
usage: interop.py BIN CKPT.h5 DATA.h5"""
import json
import subprocess
import sys

import h5py
import numpy as np
import torch


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 1024)
        self.fc2 = torch.nn.Linear(1024, 1024)
        self.fc3 = torch.nn.Linear(1024, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


binary, ckpt, data = sys.argv[1:4]
with h5py.File(ckpt) as f:
    state = {k: torch.from_numpy(f['params'][k][()]) for k in f['params']}
    config = json.loads(f.attrs["config"])
model = MLP()
model.load_state_dict(state)
mean, std = np.float32(config["data"]["mean"]), np.float32(config["data"]["std"])
with h5py.File(data) as f:
    x = (f["test/x"][()].reshape(-1, 784).astype(np.float32) / np.float32(255) - mean) / std
    y = f["test/y"][()]
with torch.no_grad():
    acc = float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
out = subprocess.run([binary, "eval", ckpt, "--data", data], capture_output=True, text=True, check=True)
ref = json.loads(out.stdout.strip().splitlines()[-1])["accuracy"]
print(f"pytorch accuracy {acc:.6f}, ringtrain eval {ref:.6f}, diff {abs(acc - ref):.1e} (tol 1e-4)")
sys.exit(0 if abs(acc - ref) <= 1e-4 else 1)
