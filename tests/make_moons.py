#!/usr/bin/python3
"""Two moons as a ringtrain dataset (configs/toy_moons_rectflow.json):
16384 training and 4096 test points in 2-D, labels all 0, seeded.
usage: make_moons.py OUT.h5"""
import sys

import h5py
import numpy as np

rng = np.random.default_rng(0)


def moons(n):
    t = rng.random(n) * np.pi
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return (np.stack([x, y], 1) + 0.06 * rng.standard_normal((n, 2))).astype(np.float32)


with h5py.File(sys.argv[1], "w") as f:
    for split, n in (("train", 16384), ("test", 4096)):
        f[f"{split}/x"] = moons(n)
        f[f"{split}/y"] = np.zeros(n, np.int32)
    f.attrs["source"] = "two moons, tests/make_moons.py"
