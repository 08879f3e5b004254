"""torch equivalents of the coordinate heads' ops for parity_ops.py:
name -> fn(xs, arg, f, f2, scale, case), reading each case as
tests/ops_cases_kp.h's builders do."""
import torch
import torch.nn.functional as F


def _kl_target(b):
    t = b * b
    mask = torch.ones(t.numel(), dtype=t.dtype)
    mask[2::3] = 0
    return (t.reshape(-1) * mask).reshape(t.shape).detach()


TORCH = {
    "abs": lambda xs, *a: xs[0].abs(),
    "leaky_relu": lambda xs, arg, f, *a: F.leaky_relu(xs[0], negative_slope=f),
    "div": lambda xs, *a: xs[0] / (xs[1] * xs[1] + 1),
    "log_softmax": lambda xs, *a: F.log_softmax(xs[0], dim=-1),
    "kl_div": lambda xs, arg, f, f2, scale, case: scale * F.kl_div(xs[0], _kl_target(xs[1]), reduction="sum"),
}
