"""The PyTorch side of the fashion benchmarks: the same rows, normalisation and
models as configs/fashion_mlp.json and configs/fashion_cnn.json, shared by
mlp_single.py and ddp_mlp.py."""
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


def make_cnn(seed=0):
    """conv32-pool-conv64-pool-fc128-fc10 as configs/fashion_cnn.json; input (N, 784)."""
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                         nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
