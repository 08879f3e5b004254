#!/usr/bin/python3
"""Corrupts a checkpoint the way a bad disk would: flips COUNT bytes at
OFFSET inside the stored data of one dataset, leaving the HDF5 structure
intact, so only the dataset's Fletcher32 checksum can notice.
usage: flip_bytes.py FILE.h5 DATASET OFFSET COUNT"""
import sys

import h5py

path, name, offset, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with h5py.File(path, "r") as f:
    start = f[name].id.get_chunk_info(0).byte_offset + offset
with open(path, "r+b") as f:
    f.seek(start)
    data = f.read(count)
    f.seek(start)
    f.write(bytes(b ^ 0xFF for b in data))
