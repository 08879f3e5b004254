#!/usr/bin/python3
"""Loads a ringtrain classifier checkpoint (any sequential config: MLP, CNN)
into PyTorch with DESIGN.md's rule
    {k: torch.from_numpy(f['params'][k][()]) for k in f['params']}
and nothing more, into the equivalent torch.nn modules (Linear, Conv2d,
LayerNorm, MaxPool2d, ...) built from the checkpoint's own config, evaluates
it on the test split, and compares the accuracy with `ringtrain eval` on the
same file (must agree within 1e-4), and the mean test cross-entropy with
its test_loss (relative 1e-4). With GROUP ("ema"), the rule reads
f[GROUP] instead and ringtrain evaluates with --weights GROUP.
usage: interop.py BIN CKPT.h5 DATA.h5 [GROUP]"""
import json
import subprocess
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


class Sequential(nn.Module):
    """ringtrain's sequential model: modules with parameters are attributes
    named as the config names them, so state_dict keys match exactly."""

    def __init__(self, model):
        super().__init__()
        self.input = model["input"]
        shape = list(self.input) if len(self.input) != 2 else [1] + list(self.input)
        self.steps = []
        for i, l in enumerate(model["layers"]):
            t, name = l["type"], l.get("name", str(i))
            if t == "linear":
                mod = nn.Linear(int(np.prod(shape)), l["out"], bias=l.get("bias", True))
                self.add_module(name, mod)
                shape = [l["out"]]
            elif t == "conv2d":
                mod = nn.Conv2d(shape[0], l["out"], pair(l["kernel"]), stride=pair(l.get("stride", 1)),
                                padding=pair(l.get("padding", 0)), dilation=pair(l.get("dilation", 1)),
                                bias=l.get("bias", True))
                self.add_module(name, mod)
                with torch.no_grad():
                    shape = list(mod(torch.zeros(1, *shape)).shape[1:])
            elif t == "layernorm":
                mod = nn.LayerNorm(shape[-1], eps=l.get("eps", 1e-5), elementwise_affine=l.get("affine", True))
                self.add_module(name, mod)
            else:
                mod = {
                    "relu": lambda: nn.ReLU(), "gelu": lambda: nn.GELU(approximate=l.get("approximate", "none")),
                    "tanh": lambda: nn.Tanh(), "sigmoid": lambda: nn.Sigmoid(), "softplus": lambda: nn.Softplus(), "silu": lambda: nn.SiLU(),
                    "flatten": lambda: nn.Flatten(), "dropout": lambda: nn.Dropout(l.get("p", 0.5)),
                    "maxpool2d": lambda: nn.MaxPool2d(l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0)),
                    "avgpool2d": lambda: nn.AvgPool2d(l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0)),
                    "upsample": lambda: nn.Upsample(
                        scale_factor=pair(l.get("scale", 2)), mode=l.get("mode", "nearest"),
                        **({"align_corners": l.get("align_corners", False)} if l.get("mode") == "bilinear" else {})),
                    "pixel_shuffle": lambda: nn.PixelShuffle(l.get("factor", 2)),
                    "pixel_unshuffle": lambda: nn.PixelUnshuffle(l.get("factor", 2)),
                }[t]()
                self.add_module(f"step{i}", mod)  # a child, so eval() reaches its dropout
                with torch.no_grad():
                    shape = list(mod(torch.zeros(1, *shape)).shape[1:])
            self.steps.append(mod)

    def forward(self, x):
        x = x.reshape(x.shape[0], *(self.input if len(self.input) != 2 else [1] + list(self.input)))
        for mod in self.steps:
            x = mod(x)
        return x


binary, ckpt, data = sys.argv[1:4]
group = sys.argv[4] if len(sys.argv) > 4 else "params"
with h5py.File(ckpt) as f:
    state = {k: torch.from_numpy(f[group][k][()]) for k in f[group]}
    config = json.loads(f.attrs["config"])
model = Sequential(config["model"])
model.load_state_dict(state)
model.eval()
mean, std = np.float32(config["data"]["mean"]), np.float32(config["data"]["std"])
d = int(np.prod(config["model"]["input"]))
with h5py.File(data) as f:
    x = (f["test/x"][()].reshape(-1, d).astype(np.float32) / np.float32(255) - mean) / std
    y = f["test/y"][()]
with torch.no_grad():
    logits = model(torch.from_numpy(x))
    acc = float((logits.argmax(1).numpy() == y).mean())
    loss = float(torch.nn.functional.cross_entropy(logits.double(), torch.from_numpy(y).long()))
out = subprocess.run([binary, "eval", ckpt, "--data", data, "--weights", group], capture_output=True, text=True,
                     check=True)
line = json.loads(out.stdout.strip().splitlines()[-1])
ref, ref_loss = line["test_acc"], line["test_loss"]
rel = abs(loss - ref_loss) / abs(ref_loss)
kinds = sorted({l["type"] for l in config["model"]["layers"]})
print(f"pytorch ({', '.join(kinds)}) on /{group}: accuracy {acc:.6f}, ringtrain eval {ref:.6f}, diff {abs(acc - ref):.1e} "
      f"(tol 1e-4); loss {loss:.6f} vs {ref_loss:.6f}, rel {rel:.1e} (tol 1e-4)")
sys.exit(0 if abs(acc - ref) <= 1e-4 and rel <= 1e-4 and line.get("weights", group) == group else 1)
