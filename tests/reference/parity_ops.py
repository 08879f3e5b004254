#!/usr/bin/python3
"""PyTorch parity for every op of rt_op_table, forward and backward.

`test_ops --dump FILE.h5` writes each gradcheck case: its inputs, a random
cotangent R, ringtrain's forward output and its input gradients of
L = sum(out * R) (L = out for scalar outputs). This script rebuilds each case
in torch (float64), runs autograd and compares both:
    |ours - torch| <= atol + rtol * |torch|   (atol 1e-5, rtol 1e-4)
float32 kernels against a float64 reference on O(1) data of these sizes stay
below 1e-5 absolute; a wrong index, sign or layout is off by O(1).

Each op group registers its torch equivalents in TORCH (name -> fn(xs, arg,
f, f2, scale, case) returning the output); the base ops are below, the seed
model ops in ops_conv.py, ops_resample.py and ops_misc.py beside this file.
Run: tests/reference/parity_ops.py BUILD_DIR. The last line is
"N passed, M failed"; exit 1 on any mismatch or any op without a torch entry.
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ops_attn  # noqa: E402
import ops_conv  # noqa: E402
import ops_kp  # noqa: E402
import ops_misc  # noqa: E402
import ops_resample  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4


def _softmax_ce(xs, arg, f, f2, scale, case):
    labels = torch.from_numpy(case["labels"][()].astype(np.int64))
    return scale * F.cross_entropy(xs[0], labels, reduction="sum")


TORCH = {
    "matmul": lambda xs, *a: xs[0].reshape(-1, xs[1].shape[0]) @ xs[1],
    "linear": lambda xs, *a: F.linear(xs[0].reshape(xs[0].shape[0], -1), xs[1],
                                      xs[2] if len(xs) > 2 else None),
    "add": lambda xs, *a: xs[0] + xs[1],
    "mul": lambda xs, *a: xs[0] * (xs[1] if len(xs) > 1 else xs[0]),
    "bias_add": lambda xs, *a: xs[0] + xs[1],
    "relu": lambda xs, *a: F.relu(xs[0]),
    "gelu": lambda xs, *a: F.gelu(xs[0]),
    "gelu_tanh": lambda xs, *a: F.gelu(xs[0], approximate="tanh"),
    "tanh": lambda xs, *a: torch.tanh(xs[0]),
    "sigmoid": lambda xs, *a: torch.sigmoid(xs[0]),
    "silu": lambda xs, *a: F.silu(xs[0]),
    "sum": lambda xs, *a: xs[0].sum(),
    "mean": lambda xs, *a: xs[0].mean(),
    "softmax_ce": _softmax_ce,
    "mse": lambda xs, arg, f, f2, scale, case: scale * ((xs[0] - xs[1]) ** 2).sum(),
}
for mod in (ops_conv, ops_resample, ops_misc, ops_attn, ops_kp):
    dup = set(TORCH) & set(mod.TORCH)
    assert not dup, f"{mod.__name__} redefines {dup}"
    TORCH.update(mod.TORCH)

# reshape is a view checked through the op after it
def attr_str(case, key):
    """ringtrain stores fixed-length strings, which h5py returns as bytes."""
    v = case.attrs[key]
    return v.decode() if isinstance(v, bytes) else str(v)


COMPOSITE = {"reshape": lambda case: "matmul" if attr_str(case, "case").startswith("a(") else "linear"}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/obj"
    passed = failed = 0
    seen_ops = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ops.h5")
        subprocess.run([os.path.join(build, "tests", "test_ops"), "--dump", path], check=True)
        with h5py.File(path, "r") as h:
            for key in sorted(h):
                case = h[key]
                op, name = attr_str(case, "op"), attr_str(case, "case")
                seen_ops.add(op)
                fn_name = COMPOSITE[op](case) if op in COMPOSITE else op
                if fn_name not in TORCH:
                    print(f"FAIL {op} {name}: no torch equivalent registered")
                    failed += 1
                    continue
                arg = json.loads(case.attrs["arg"])
                f, f2, scale = json.loads(case.attrs["f_f2_scale"])
                nin = int(case.attrs["nin"])
                xs = []
                for i in range(nin):
                    t = torch.from_numpy(np.asarray(case[f"in{i}"][()], dtype=np.float64))
                    t.requires_grad_(bool(case.attrs[f"in{i}"]))
                    xs.append(t)
                out = TORCH[fn_name](xs, arg, f, f2, scale, case)
                ours = torch.from_numpy(np.asarray(case["out"][()], dtype=np.float64))
                R = torch.from_numpy(np.asarray(case["R"][()], dtype=np.float64))
                checks = [("forward", ours, out.detach())]
                loss = out if out.dim() == 0 else (out * R).sum()
                want = [x for x in xs if x.requires_grad]
                if want:
                    grads = torch.autograd.grad(loss, want, allow_unused=True)
                    gi = 0
                    for i in range(nin):
                        if not xs[i].requires_grad:
                            continue
                        g = grads[gi] if grads[gi] is not None else torch.zeros_like(xs[i])
                        gi += 1
                        checks.append((f"d/in{i}", torch.from_numpy(np.asarray(case[f"grad{i}"][()], dtype=np.float64)), g))
                for what, got, ref in checks:
                    if tuple(got.shape) != tuple(ref.shape):
                        ok, err = False, float("nan")
                        detail = f"shape {tuple(got.shape)} vs torch {tuple(ref.shape)}"
                    else:
                        diff = (got - ref).abs()
                        tol = ATOL + RTOL * ref.abs()
                        ok = bool((diff <= tol).all())
                        err = float(diff.max()) if diff.numel() else 0.0
                        detail = f"maxerr={err:.3g}"
                    print(f"{'ok  ' if ok else 'FAIL'} {op} {name} {what} vs torch {detail}")
                    passed += ok
                    failed += not ok
    # every op of the table must have been compared
    import re
    hdr = open(os.path.join(os.path.dirname(__file__), "..", "..", "include", "ringtrain", "autograd.h")).read()
    table = re.findall(r"^\s+RT_OP_([A-Z0-9_]+),", hdr, re.M)
    missing = [t.lower() for t in table if t.lower() not in seen_ops]
    ok = not missing
    print(f"{'ok  ' if ok else 'FAIL'} coverage {len(table) - len(missing)}/{len(table)} ops compared with torch"
          + (f" (missing: {', '.join(missing)})" if missing else ""))
    passed += ok
    failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
