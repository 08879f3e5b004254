"""The PyTorch side of the fashion_mlp benchmarks: the same rows, normalisation
and model as configs/fashion_mlp.json, shared by mlp_single.py and ddp_mlp.py."""
import h5py
import numpy as np
import torch


def load_train(path):
    """Training rows as float32 (N, 784), scaled and normalised like ringtrain, and labels."""
    with h5py.File(path) as f:
        x = f["train/x"][()].reshape(-1, 784).astype(np.float32) / np.float32(255)
        y = f["train/y"][()].astype(np.int64)
    return (x - np.float32(0.2860)) / np.float32(0.3530), y


def make_mlp(seed=0):
    """784-1024-1024-10 with ReLU, PyTorch's default initialisation."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(),
                               torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
