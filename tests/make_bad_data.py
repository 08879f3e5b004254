#!/usr/bin/python3
"""Writes the malformed HDF5 datasets the bad-input tests feed to ringtrain.
usage: make_bad_data.py OUT_DIR"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)


def write(name, x, y, split="train", attrs=None):
    with h5py.File(os.path.join(out, name), "w") as f:
        if x is not None:
            f[f"{split}/x"] = x
        if y is not None:
            f[f"{split}/y"] = y
        for k, v in (attrs or {}).items():
            f.attrs[k] = v


N = 512
good_x = rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
good_y = rng.integers(0, 10, size=N).astype(np.int32)
write("good.h5", good_x, good_y, attrs={"num_classes": 10})
with h5py.File(os.path.join(out, "good.h5"), "a") as f:
    f["test/x"] = good_x[:100]
    f["test/y"] = good_y[:100]
write("wrong_shape.h5", good_x[:, :, :20], good_y)
write("wrong_dtype.h5", good_x.astype(np.int16), good_y)
write("wrong_label_dtype.h5", good_x, good_y.astype(np.float32))
bad_y = good_y.copy()
bad_y[100] = 12
write("label_range.h5", good_x, bad_y)
neg_y = good_y.copy()
neg_y[7] = -1
write("label_negative.h5", good_x, neg_y)
write("length_mismatch.h5", good_x, good_y[:-3])
write("empty.h5", np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.int32))
write("missing_group.h5", good_x, good_y, split="training")
write("missing_y.h5", good_x, None)
write("y_2d.h5", good_x, good_y.reshape(-1, 1))
write("classes_attr.h5", good_x, good_y, attrs={"num_classes": 5})
with open(os.path.join(out, "not_hdf5.h5"), "w") as f:
    f.write("this is not an HDF5 file\n")
# a parameter file whose fc1 does not match the model's [1024, 784]
with h5py.File(os.path.join(out, "init_mismatch.h5"), "w") as f:
    f["params/fc1.weight"] = np.zeros((512, 784), np.float32)
with h5py.File(os.path.join(out, "init_extra.h5"), "w") as f:
    f["params/fc1.weight"] = np.zeros((16, 784), np.float32)
    f["params/fc1.bias"] = np.zeros((16,), np.float32)
    f["params/fc2.weight"] = np.zeros((10, 16), np.float32)
    f["params/fc2.bias"] = np.zeros((10,), np.float32)
    f["params/head.weight"] = np.zeros((10, 16), np.float32)
