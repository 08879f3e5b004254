"""torch equivalents of the misc ops for parity_ops.py: name -> fn(xs, arg, f, f2, scale, case).

Each function reads the case's arguments the way tests/ops_cases_misc.h's
builders do (see the comments there) and uses torch's own ops.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F


def _layernorm(xs, arg, f, f2, scale, case):
    # arg[0], arg[1]: weight, bias present, following x in that order
    rest = iter(xs[1:])
    w = next(rest) if arg[0] else None
    b = next(rest) if arg[1] else None
    x = xs[0]
    return F.layer_norm(x, (x.shape[-1],), w, b, eps=f)


def _dropout(xs, arg, f, f2, scale, case):
    """x * mask / (1 - p), with the mask read off ringtrain's output (out != 0:
    the inputs are normal draws, nonzero with probability 1). Raises
    AssertionError when the kept fraction is outside 5 binomial standard
    deviations of 1 - p, or when an identity dropout changed anything."""
    x, p = xs[0], f
    out = torch.from_numpy(np.asarray(case["out"][()], dtype=np.float64))
    train = bool(arg[0])
    if not train or p == 0.0:
        # arg[2]: the builder put rt_affine(x, 1, 0) in front, an exact identity
        assert torch.equal(out, x.detach()), "identity dropout changed its input"
        return 1.0 * x + 0.0
    assert bool((x != 0).all()), "dropout case input has an exact zero: mask ambiguous"
    mask = (out != 0).to(torch.float64)
    n = mask.numel()
    kept = float(mask.sum()) / n
    sd = math.sqrt(p * (1.0 - p) / n)
    assert abs(kept - (1.0 - p)) <= 5.0 * sd, (
        f"dropout p={p}: kept {kept:.4f} of {n}, want {1 - p:.4f} +- {5 * sd:.4f} (5 sigma)")
    return x * mask / (1.0 - p)


def _slice(xs, arg, f, f2, scale, case):
    x, axis = xs[0], arg[0]
    if arg[7]:  # split into sizes arg[1..3], joined again as (2, 0, 1)
        p = torch.split(x, arg[1:4], dim=axis)
        return torch.cat([p[2], p[0], p[1]], dim=axis)
    index = (slice(None),) * axis + (slice(arg[1], arg[1] + arg[2]),)
    return x[index]


def _softplus(xs, arg, f, f2, scale, case):
    x = xs[0] * f + f2 if arg[0] else xs[0]  # arg[0]: rt_affine(f, f2) in front
    return F.softplus(x)  # beta 1, threshold 20


TORCH = {
    "layernorm": _layernorm,
    "dropout": _dropout,
    "concat": lambda xs, arg, *a: torch.cat(xs, dim=arg[0]),
    "slice": _slice,
    "exp": lambda xs, *a: torch.exp(xs[0]),
    "log": lambda xs, arg, *a: torch.log(torch.exp(xs[0]) if arg[0] else xs[0]),
    "softplus": _softplus,
    "affine": lambda xs, arg, f, f2, *a: f * xs[0] + f2,
    "scale": lambda xs, *a: xs[0] * xs[1],
    "sum_axis": lambda xs, arg, *a: xs[0].sum(dim=arg[0]),
}
