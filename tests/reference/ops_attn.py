"""torch equivalents of the transformer ops for parity_ops.py: name -> fn(xs, arg, f, f2, scale, case).

Each function reads the case's arguments the way tests/ops_cases_attn.h's
builders do and uses torch's own ops (softmax, permute, embedding, einsum for DiT's unpatchify).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F


def unpatchify(x, p, c, h, w):
    """DiT's FinalLayer output (n, T, p*p*c) to images (n, c, h, w)."""
    n = x.shape[0]
    x = x.reshape(n, h // p, w // p, p, p, c)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(n, c, h, w)


def patchify(x, p):
    """The inverse of unpatchify: images (n, c, h, w) to (n, T, p*p*c)."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // p, p, w // p, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(n, (h // p) * (w // p), p * p * c)


def rmsnorm(x, w, eps):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


def attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v: torch 1.13's math path of scaled_dot_product_attention."""
    p = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return p @ v


def _embedding(xs, arg, f, f2, scale, case):
    idx = torch.from_numpy(case["labels"][()].astype(np.int64))
    return F.embedding(idx, xs[0])


TORCH = {
    "bmm": lambda xs, *a: xs[0] @ xs[1],
    "softmax": lambda xs, *a: torch.softmax(xs[0], dim=-1),
    "attention": lambda xs, *a: attention(xs[0], xs[1], xs[2]),
    "permute": lambda xs, arg, *a: xs[0].permute(*arg[: xs[0].dim()]),
    "patchify": lambda xs, arg, *a: patchify(xs[0], arg[0]),
    "unpatchify": lambda xs, arg, *a: unpatchify(xs[0], *arg[:4]),
    "rmsnorm": lambda xs, arg, f, *a: rmsnorm(xs[0], xs[1] if arg[0] else None, f),
    "modulate": lambda xs, *a: xs[0] * (1 + xs[2].unsqueeze(1)) + xs[1].unsqueeze(1),
    "gate_add": lambda xs, *a: xs[0] + xs[1].unsqueeze(1) * xs[2],
    "embedding": _embedding,
}
