"""torch equivalents of the conv ops for parity_ops.py: name -> fn(xs, arg, f, f2, scale, case)."""
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401

TORCH = {}
