"""torch equivalents of the conv ops for parity_ops.py: name -> fn(xs, arg, f, f2, scale, case).

arg layouts (tests/ops_cases_conv.h): conv2d {stride h, stride w, pad h, pad w,
dilation h, dilation w}; maxpool2d and avgpool2d {kernel, stride, pad}.
torch's defaults are the semantics ringtrain promises: groups 1, ceil_mode
False, max padding -inf, avg count_include_pad True.
"""
import torch  # noqa: F401
import torch.nn.functional as F


def _conv2d(xs, arg, f, f2, scale, case):
    return F.conv2d(xs[0], xs[1], xs[2] if len(xs) > 2 else None,
                    stride=(arg[0], arg[1]), padding=(arg[2], arg[3]), dilation=(arg[4], arg[5]))


TORCH = {
    "conv2d": _conv2d,
    "maxpool2d": lambda xs, arg, *a: F.max_pool2d(xs[0], arg[0], stride=arg[1], padding=arg[2]),
    "avgpool2d": lambda xs, arg, *a: F.avg_pool2d(xs[0], arg[0], stride=arg[1], padding=arg[2]),
}
