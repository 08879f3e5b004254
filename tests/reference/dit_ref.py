#!/usr/bin/python3
"""PyTorch reference for ringtrain's DiT rectified-flow model (model.type
rectified_flow, model.net dit): the architecture of facebookresearch/DiT's
models.py (adaLN-Zero blocks, fixed 2-D sin-cos positions, DiT's parameter
names and shapes, so a ringtrain /params group loads with the one-line rule)
plus SD3's QK-norm (RMSNorm over the head dimension) and a flow velocity
output (out_channels = C: no learned sigma). t in [0, 1]: 0 is noise, 1 data.

The C trainer's random draws are reproduced bit for bit: src/rng.c
(splitmix64 seeding, xoshiro256**, Box-Muller in double through libm, which
Python's math module also calls), rt_row_key, and rectflow.c's flow_loss
(t, then x0 per element) with the DiT's label dropout.

Subcommands (each prints "ok   ..." / "FAIL ..." lines and ends with
"N passed, M failed"; exit status 1 on any failure):
  dit_ref.py init CONFIG.json OUT.h5 [--seed S] [--n N]
      random parameters (no zero-initialised path) as /params/<name>, and
      test inputs /inputs/x, /inputs/t, /inputs/y (int32, with a null class),
      /inputs/R
  dit_ref.py compare CONFIG.json OUT.h5
      checks the C side's /out/v (the velocity) and /grad/<name> (the
      gradient of sum(v * R)) against this model (evaluated in float64)
  dit_ref.py train CONFIG.json INIT.h5 DATA.h5 RUN_DIR [--steps 20]
      replays a 1-rank, data.shuffle false run started from INIT.h5 with
      torch.optim.AdamW in float32 and checks every logged step's loss
  dit_ref.py replay CKPT.h5 SAMPLES.h5
      replays the C sampler's Euler steps (with classifier-free guidance)
      from SAMPLES.h5's /noise and checks /samples
  dit_ref.py selftest
      the checks that need no C output: forward, parameter names and count,
      patchify / unpatchify, the patch convolution, the 2-D position table

Importable: rt_row_key, RtRng, RtRngVec, rt_epoch_order, build_dit,
flow_batch, patchify, unpatchify, timestep_embedding, DiT.
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

V_RTOL = 1e-5          # compare: max|v - ref| <= V_RTOL * max|ref|
G_RTOL, G_ATOL = 1e-4, 1e-7  # compare: per gradient tensor, max|diff| <= G_RTOL * max|ref| + G_ATOL
LOSS_RTOL = 1e-5       # train: per step |loss - ref| <= LOSS_RTOL * |ref|
SAMPLE_RTOL = 1e-4     # replay: max|x - samples| <= SAMPLE_RTOL * max(1, max|samples|)

FREQ = 256             # the timestep's frequency embedding
EPS = 1e-6             # LayerNorm and RMSNorm
NOISE_STREAM = 0x6e6f697365   # "noise"
CDROP_STREAM = 0x6364726f70   # "cdrop"

# ---------------------------------------------------------------------------
# src/rng.c, bit for bit
# ---------------------------------------------------------------------------

M64 = (1 << 64) - 1


def _splitmix64(x):
    """One splitmix64 step on the state x: (new state, output)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def _seed_state(seed, stream):
    x = (int(seed) & M64) ^ (((int(stream) & M64) * 0xD1342543DE82EF95 + 0x632BE59BD9B4E019) & M64)
    s = []
    for _ in range(4):
        x, z = _splitmix64(x)
        s.append(z)
    return s


def rt_row_key(seed, stream, row):
    """rt_row_key(seed, stream, row) of src/rng.c (row an int64, taken mod 2^64)."""
    x = (int(seed) & M64) ^ 0x726F776B6579  # "rowkey"
    _, a = _splitmix64(x)
    x = a ^ (((int(stream) & M64) * 0x9E3779B97F4A7C15) & M64)
    _, b = _splitmix64(x)
    x = b ^ (((int(row) & M64) * 0xC2B2AE3D27D4EB4F) & M64)
    _, k = _splitmix64(x)
    return k


_TWO_PI = 6.283185307179586
_P53 = 2.0 ** -53


class RtRng:
    """One rt_rng (xoshiro256**) on Python ints."""

    def __init__(self, seed, stream):
        self.s = _seed_state(seed, stream)

    def u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        """float32: (u64 >> 40) * 2^-24 (exact)."""
        return np.float32((self.u64() >> 40) * 2.0 ** -24)

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            x = self.u64()
            if x < limit:
                return x % n

    def normal(self):
        """float32: Box-Muller in double (libm log/cos/sqrt), rounded once."""
        u1 = (float(self.u64() >> 11) + 1.0) * _P53
        u2 = float(self.u64() >> 11) * _P53
        return np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2))

    def permutation(self, n):
        perm = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm


class RtRngVec:
    """len(seeds) independent rt_rngs stepped together (numpy uint64, which
    wraps mod 2^64 like C). The doubles of normal() go through Python's math
    (glibc libm, as C's log/cos), never numpy's own vectorised log/cos."""

    def __init__(self, seeds, stream):
        st = np.array([_seed_state(k, stream) for k in seeds], dtype=np.uint64).reshape(-1, 4)
        self.s = [st[:, i].copy() for i in range(4)]

    @staticmethod
    def _rotl(x, k):
        return (x << np.uint64(k)) | (x >> np.uint64(64 - k))

    def u64(self):
        s = self.s
        result = self._rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
        t = s[1] << np.uint64(17)
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform(self):
        return ((self.u64() >> np.uint64(40)).astype(np.float64) * 2.0 ** -24).astype(np.float32)

    def normals(self, count):
        """(rows, count) float32: each row's next `count` normals."""
        rows = self.s[0].shape[0]
        u = np.empty((2 * count, rows), dtype=np.uint64)
        for i in range(2 * count):
            u[i] = self.u64()
        u = (u >> np.uint64(11)).astype(np.float64)  # exact: 53 bits
        u1 = ((u[0::2] + 1.0) * _P53).T.ravel().tolist()
        u2 = (u[1::2] * _P53).T.ravel().tolist()
        lg, cs, sq = math.log, math.cos, math.sqrt
        out = [sq(-2.0 * lg(a)) * cs(_TWO_PI * b) for a, b in zip(u1, u2)]
        return np.array(out, dtype=np.float64).astype(np.float32).reshape(rows, count)

    def normal(self):
        return self.normals(1)[:, 0]


def rt_epoch_order(nrows, seed, epoch, shuffle):
    """rt_epoch_order of src/data.c."""
    if not shuffle:
        return list(range(nrows))
    return RtRng(seed, 0x7368756666000000 + int(epoch)).permutation(nrows)


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------

def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.
    omega = 1. / 10000 ** omega
    pos = pos.reshape(-1)
    out = np.einsum('m,d->md', pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_2d_sincos_pos_embed(embed_dim, grid_h_size, grid_w_size):
    """DiT's get_2d_sincos_pos_embed on a grid_h_size x grid_w_size grid
    (rows x columns; DiT's own is the square case): (gh * gw, D) float64,
    tokens row-major; the first half encodes meshgrid's first array (the
    column index), the second half the row index."""
    grid_h = np.arange(grid_h_size, dtype=np.float32)
    grid_w = np.arange(grid_w_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_h_size, grid_w_size])
    assert embed_dim % 2 == 0
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


_FREQS = [math.exp(-math.log(10000.0) * k / (FREQ // 2)) for k in range(FREQ // 2)]


def timestep_embedding(t):
    """(n, 256) float32 [cos, sin] of (1000 t) f_k, f_k = exp(-ln(10000) k / 128),
    in double through libm (t is never differentiated)."""
    tt = np.asarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t, dtype=np.float32).reshape(-1)
    rows = []
    for tv in tt.tolist():
        a = [(1000.0 * tv) * f for f in _FREQS]
        rows.append([math.cos(x) for x in a] + [math.sin(x) for x in a])
    return torch.from_numpy(np.array(rows, dtype=np.float64).reshape(-1, FREQ).astype(np.float32))


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def patchify(x, p):
    """(n, C, H, W) -> (n, T, p*p*C), each token's features in (p, q, c) order
    (the inverse of unpatchify)."""
    n, c, H, W = x.shape
    h, w = H // p, W // p
    x = x.reshape(n, c, h, p, w, p)
    x = torch.einsum('nchpwq->nhwpqc', x)
    return x.reshape(n, h * w, p * p * c)


def unpatchify(x, p, c, H, W):
    """DiT's unpatchify: (n, T, p*p*C) -> (n, C, H, W), with an h x w grid."""
    h, w = H // p, W // p
    assert h * w == x.shape[1]
    x = x.reshape(x.shape[0], h, w, p, p, c)
    x = torch.einsum('nhwpqc->nchpwq', x)
    return x.reshape(x.shape[0], c, h * p, w * p)


class PatchEmbed(nn.Module):
    def __init__(self, C, D, p):
        super().__init__()
        self.proj = nn.Conv2d(C, D, kernel_size=p, stride=p, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (n, T, D), row-major over the grid


class TimestepEmbedder(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(FREQ, D, bias=True), nn.SiLU(), nn.Linear(D, D, bias=True))

    def forward(self, t):
        w = self.mlp[0].weight
        return self.mlp(timestep_embedding(t).to(dtype=w.dtype, device=w.device))


class LabelEmbedder(nn.Module):
    """num_classes + 1 rows: the last is the null class (dropout happens in
    flow_batch, from the rows' keys)."""

    def __init__(self, K, D):
        super().__init__()
        self.embedding_table = nn.Embedding(K + 1, D)

    def forward(self, y):
        return self.embedding_table(y)


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


class Attention(nn.Module):
    def __init__(self, D, heads, qk_norm):
        super().__init__()
        self.heads, self.dh = heads, D // heads
        self.qkv = nn.Linear(D, 3 * D, bias=True)
        if qk_norm:
            self.q_norm = RMSNorm(self.dh)
            self.k_norm = RMSNorm(self.dh)
        else:
            self.q_norm = self.k_norm = None
        self.proj = nn.Linear(D, D, bias=True)

    def forward(self, x):
        n, T, D = x.shape
        qkv = self.qkv(x).reshape(n, T, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (n, heads, T, dh)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.dh), dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(n, T, D)
        return self.proj(o)


class Mlp(nn.Module):
    def __init__(self, D, hidden):
        super().__init__()
        self.fc1 = nn.Linear(D, hidden, bias=True)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, D, bias=True)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    def __init__(self, D, heads, mlp_ratio, qk_norm):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=EPS)
        self.attn = Attention(D, heads, qk_norm)
        self.norm2 = nn.LayerNorm(D, elementwise_affine=False, eps=EPS)
        self.mlp = Mlp(D, int(D * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D, bias=True))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, D, p, C):
        super().__init__()
        self.norm_final = nn.LayerNorm(D, elementwise_affine=False, eps=EPS)
        self.linear = nn.Linear(D, p * p * C, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D, bias=True))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, C, H, W, p, D, depth, heads, mlp_ratio, qk_norm, num_classes):
        super().__init__()
        assert H % p == 0 and W % p == 0 and D % heads == 0 and D % 4 == 0
        self.C, self.H, self.W, self.p, self.D = C, H, W, p, D
        self.num_classes = num_classes  # 0: unconditional
        self.x_embedder = PatchEmbed(C, D, p)
        self.t_embedder = TimestepEmbedder(D)
        if num_classes:
            self.y_embedder = LabelEmbedder(num_classes, D)
        T = (H // p) * (W // p)
        self.pos_embed = nn.Parameter(torch.zeros(1, T, D), requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(D, heads, mlp_ratio, qk_norm) for _ in range(depth)])
        self.final_layer = FinalLayer(D, p, C)
        pe = get_2d_sincos_pos_embed(D, H // p, W // p)
        self.pos_embed.data.copy_(torch.from_numpy(pe).float().unsqueeze(0))

    def forward(self, x, t, y=None):
        """v (n, C, H, W) for x (n, C, H, W), t (n,), y (n,) int64 (None: all null)."""
        h = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t)
        if self.num_classes:
            if y is None:
                y = torch.full((x.shape[0],), self.num_classes, dtype=torch.int64)
            c = c + self.y_embedder(y.to(torch.int64))
        for block in self.blocks:
            h = block(h, c)
        h = self.final_layer(h, c)
        return unpatchify(h, self.p, self.C, self.H, self.W)


def num_classes_of(config):
    """The class count of a class-conditional config (0: unconditional);
    model.num_classes 0 means the data's (data.num_classes when resolved there), else 10."""
    m = config["model"]
    if not m.get("class_cond", False):
        return 0
    k = int(m.get("num_classes", 0) or 0)
    if k <= 0:
        k = int(config.get("data", {}).get("num_classes", 0) or 0) or 10
    return k


def build_dit(config):
    m = config["model"]
    C, H, W = (int(v) for v in m["input"])
    return DiT(C, H, W, int(m["patch"]), int(m["hidden"]), int(m["depth"]), int(m["heads"]),
               float(m["mlp_ratio"]), bool(m.get("qk_norm", False)), num_classes_of(config))


def load_params(model, f):
    """The one-line rule."""
    model.load_state_dict({k: torch.from_numpy(f['params'][k][()]) for k in f['params']})


def trainable(model):
    return [(k, p) for k, p in model.named_parameters() if p.requires_grad]


# ---------------------------------------------------------------------------
# a training batch, as rectflow.c's flow_loss draws it
# ---------------------------------------------------------------------------

def normalise(config, x1_raw):
    """data.c's finish_read: float32(uint8) / 255, then (x - mean) / std, in float32."""
    x = np.asarray(x1_raw)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255)
    else:
        x = x.astype(np.float32)
    mean = np.float32(config.get("data", {}).get("mean", 0.0))
    std = np.float32(config.get("data", {}).get("std", 1.0))
    if mean != np.float32(0) or std != np.float32(1):
        x = (x - mean) / std
    return x.astype(np.float32)


def flow_batch(config, x1_uint8, rows, epoch, labels=None, train=True):
    """The flow inputs of a batch: x1_uint8 (n, ...) the rows' raw pixels
    (uint8, or float data taken as read), rows (n) their indices in the train
    split, epoch the epoch. Returns (xt, t, target, y): xt and target
    (n, C, H, W) float32, t (n) float32, y (n) int64 after label dropout
    (None when labels is None or the model is unconditional)."""
    m = config["model"]
    C, H, W = (int(v) for v in m["input"])
    Din = C * H * W
    rows = [int(r) for r in rows]
    n = len(rows)
    x1 = normalise(config, x1_uint8).reshape(n, Din)
    seed = int(config["train"].get("seed", 0))
    keys = [rt_row_key(seed, int(epoch), r) for r in rows]
    rng = RtRngVec(keys, NOISE_STREAM)
    if m.get("timesteps", "logit_normal") == "logit_normal":
        z = rng.normal()
        mu, sd = float(m.get("logit_mean", 0.0)), float(m.get("logit_std", 1.0))
        t = np.array([1.0 / (1.0 + math.exp(-(mu + sd * float(zi)))) for zi in z.tolist()],
                     dtype=np.float64).astype(np.float32)
    else:
        t = rng.uniform()
    x0 = rng.normals(Din)
    tr = t.reshape(n, 1)
    xt = tr * x1 + (np.float32(1) - tr) * x0
    target = x1 - x0
    y = None
    K = num_classes_of(config)
    if labels is not None and K:
        y = np.asarray(labels).astype(np.int64).reshape(n).copy()
        p = np.float32(m.get("class_dropout", 0.1))
        if train and p > np.float32(0):
            drop = RtRngVec(keys, CDROP_STREAM).uniform() < p
            y[drop] = K
    shape = (n, C, H, W)
    return (xt.astype(np.float32).reshape(shape), t, target.astype(np.float32).reshape(shape), y)


# ---------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, msg):
        print(f"{'ok  ' if ok else 'FAIL'} {msg}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def load_config(path):
    with open(path) as f:
        return json.load(f)


def maxabs(a):
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(np.abs(a))) if a.size else 0.0


# ---------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------

def randomise(model, seed):
    """Every trainable parameter random: normal * 0.05 (biases and the label
    table too), the QK-norm scales 1 + 0.1 * normal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in trainable(model):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith("q_norm.weight") or name.endswith("k_norm.weight"):
                p.copy_(1.0 + 0.1 * r)
            else:
                p.copy_(0.05 * r)


def expected_names(config):
    """The parameter names and shapes the brief's layout prescribes."""
    m = config["model"]
    C, H, W = (int(v) for v in m["input"])
    p, D, depth, heads = int(m["patch"]), int(m["hidden"]), int(m["depth"]), int(m["heads"])
    hid = int(D * float(m["mlp_ratio"]))
    K = num_classes_of(config)
    T = (H // p) * (W // p)
    e = {"x_embedder.proj.weight": (D, C, p, p), "x_embedder.proj.bias": (D,), "pos_embed": (1, T, D),
         "t_embedder.mlp.0.weight": (D, FREQ), "t_embedder.mlp.0.bias": (D,),
         "t_embedder.mlp.2.weight": (D, D), "t_embedder.mlp.2.bias": (D,),
         "final_layer.linear.weight": (p * p * C, D), "final_layer.linear.bias": (p * p * C,),
         "final_layer.adaLN_modulation.1.weight": (2 * D, D), "final_layer.adaLN_modulation.1.bias": (2 * D,)}
    if K:
        e["y_embedder.embedding_table.weight"] = (K + 1, D)
    for i in range(depth):
        b = f"blocks.{i}."
        e.update({b + "attn.qkv.weight": (3 * D, D), b + "attn.qkv.bias": (3 * D,),
                  b + "attn.proj.weight": (D, D), b + "attn.proj.bias": (D,),
                  b + "mlp.fc1.weight": (hid, D), b + "mlp.fc1.bias": (hid,),
                  b + "mlp.fc2.weight": (D, hid), b + "mlp.fc2.bias": (D,),
                  b + "adaLN_modulation.1.weight": (6 * D, D), b + "adaLN_modulation.1.bias": (6 * D,)})
        if m.get("qk_norm", False):
            e[b + "attn.q_norm.weight"] = (D // heads,)
            e[b + "attn.k_norm.weight"] = (D // heads,)
    return e


def structure_checks(rep, config, model):
    exp = expected_names(config)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    rep.check(got == exp, f"parameter names and shapes: {len(got)} tensors "
              f"(missing {sorted(set(exp) - set(got))}, extra {sorted(set(got) - set(exp))}, "
              f"shape mismatches {sorted(k for k in exp if k in got and got[k] != exp[k])})")
    n_train = sum(p.numel() for _, p in trainable(model))
    n_exp = sum(int(np.prod(s)) for k, s in exp.items() if k != "pos_embed")
    rep.check(n_train == n_exp and not model.pos_embed.requires_grad,
              f"trainable parameter count {n_train} (expected {n_exp}); pos_embed frozen")


def cmd_init(args):
    rep = Report()
    config = load_config(args.config)
    torch.manual_seed(args.seed)
    model = build_dit(config)
    randomise(model, args.seed)
    structure_checks(rep, config, model)
    m = config["model"]
    C, H, W = (int(v) for v in m["input"])
    K = num_classes_of(config) or 10
    N = args.n
    rs = np.random.RandomState(args.seed + 1)
    x = rs.standard_normal((N, C, H, W)).astype(np.float32)
    t = rs.uniform(0.02, 0.98, size=N).astype(np.float32)
    y = rs.randint(0, K, size=N).astype(np.int32)
    y[-1] = K  # the null class
    R = rs.standard_normal((N, C, H, W)).astype(np.float32)
    with h5py.File(args.out, "w") as f:
        for k, v in model.state_dict().items():
            f[f"params/{k}"] = v.detach().numpy().astype(np.float32)
        f["inputs/x"], f["inputs/t"], f["inputs/y"], f["inputs/R"] = x, t, y, R
    # the file reloads the one-line way and gives a finite velocity of the right shape
    model2 = build_dit(config)
    with h5py.File(args.out, "r") as f:
        load_params(model2, f)
    with torch.no_grad():
        v = model2(torch.from_numpy(x), torch.from_numpy(t),
                   torch.from_numpy(y).long() if model2.num_classes else None)
    rep.check(tuple(v.shape) == (N, C, H, W) and bool(torch.isfinite(v).all()) and maxabs(v) > 0,
              f"init: {args.out}: {len(model.state_dict())} tensors, forward (N={N}) shape {tuple(v.shape)}, "
              f"max|v| {maxabs(v):.4g}")
    return rep.finish()


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------

def cmd_compare(args):
    rep = Report()
    config = load_config(args.config)
    model = build_dit(config)
    with h5py.File(args.out, "r") as f:
        keys = set(f["params"].keys())
        sd = set(model.state_dict().keys())
        if not rep.check(keys == sd, f"/params key set equals the state_dict's ({len(sd)} keys; "
                         f"missing {sorted(sd - keys)}, extra {sorted(keys - sd)})"):
            return rep.finish()
        try:
            load_params(model, f)
        except Exception as e:  # shapes
            rep.check(False, f"load_state_dict: {e}")
            return rep.finish()
        x = torch.from_numpy(f["inputs/x"][()])
        t = torch.from_numpy(f["inputs/t"][()])
        y = torch.from_numpy(f["inputs/y"][()].astype(np.int64)) if model.num_classes else None
        R = torch.from_numpy(f["inputs/R"][()])
        v_c = f["out/v"][()] if "out/v" in f else None
        grads_c = {k: f["grad"][k][()] for k in f["grad"]} if "grad" in f else {}
    # the reference in float64 (the loaded float32 values, widened)
    m64 = model.double()
    x64, R64 = x.double(), R.double()
    m64.zero_grad()
    v = m64(x64, t, y)
    (v * R64).sum().backward()
    vref = v.detach().numpy()
    gref = {k: p.grad.numpy() for k, p in trainable(m64)}
    # torch's own float32 forward against it: the tolerance is not below float32 noise
    m32 = build_dit(config)
    with h5py.File(args.out, "r") as f:
        load_params(m32, f)
    with torch.no_grad():
        v32 = m32(x, t, y).numpy()
    d32 = maxabs(v32 - vref) / max(maxabs(vref), 1e-30)
    rep.check(d32 <= V_RTOL, f"torch float32 v vs float64: max|diff|/max|ref| {d32:.2e} (tol {V_RTOL:g})")
    if v_c is None:
        rep.check(False, "/out/v: missing")
    elif v_c.shape != vref.shape:
        rep.check(False, f"/out/v: shape {v_c.shape}, expected {vref.shape}")
    else:
        d = maxabs(v_c - vref) / max(maxabs(vref), 1e-30)
        rep.check(d <= V_RTOL, f"v {tuple(vref.shape)}: max|diff|/max|ref| {d:.2e} (tol {V_RTOL:g}), "
                  f"max|ref| {maxabs(vref):.4g}")
    missing = sorted(set(gref) - set(grads_c))
    extra = sorted(set(grads_c) - set(gref))
    rep.check(not missing and not extra, f"/grad key set equals the trainable parameters ({len(gref)}; "
              f"missing {missing}, extra {extra})")
    worst, worst_name, nbad = -1.0, None, 0
    for k in sorted(gref):
        if k not in grads_c:
            continue
        g, r = grads_c[k], gref[k]
        if g.shape != r.shape:
            rep.check(False, f"grad {k}: shape {g.shape}, expected {r.shape}")
            nbad += 1
            continue
        diff, tol = maxabs(g - r), G_RTOL * maxabs(r) + G_ATOL
        ratio = diff / tol
        if ratio > worst:
            worst, worst_name = ratio, k
        if not np.isfinite(diff) or ratio > 1.0:
            nbad += 1
            rep.check(False, f"grad {k} {tuple(r.shape)}: max|diff| {diff:.3e} > {tol:.3e} "
                      f"(max|ref| {maxabs(r):.3e})")
    n_cmp = sum(1 for k in gref if k in grads_c)
    rep.check(nbad == 0 and n_cmp > 0,
              f"gradients: {n_cmp} tensors within max|diff| <= {G_RTOL:g} max|ref| + {G_ATOL:g}; worst "
              f"{worst_name} at {worst:.3f} of its tolerance, {nbad} failing")
    return rep.finish()


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------

def lr_at(config, step, total):
    """rt_lr_at of src/optim.c."""
    o = config["optim"]
    lr0 = float(o["lr"])
    sch = o.get("schedule", {}) or {}
    warm = int(sch.get("warmup_steps", 0) or 0)
    if step < warm:
        return lr0 * (step + 1) / warm
    t = float(step - warm)
    kind = sch.get("type", "constant")
    if kind == "constant":
        return lr0
    if kind == "cosine":
        span = float(total - warm) if total > warm else 1.0
        frac = min(t / span, 1.0)
        lo = float(sch.get("min_lr", 0.0))
        return lo + 0.5 * (lr0 - lo) * (1.0 + math.cos(math.pi * frac))
    if kind == "step":
        return lr0 * float(sch["gamma"]) ** math.floor(t / float(sch["step_size"]))
    if kind == "inverse_time":
        return lr0 / (1.0 + t / float(sch["tau"]))
    raise ValueError(f"optim.schedule.type {kind!r}")


def read_losses(run_dir):
    rows = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "event" in r or "loss" not in r:
                continue
            rows.append(r)
    rows.sort(key=lambda r: r["step"])
    return rows


def cmd_train(args):
    rep = Report()
    config = load_config(args.config)
    o = config["optim"]
    if o.get("type", "adamw") != "adamw":
        rep.check(False, f"optim.type {o.get('type')!r}: only adamw is replayed")
        return rep.finish()
    model = build_dit(config)
    with h5py.File(args.init, "r") as f:
        load_params(model, f)
    model.train()
    params = [p for _, p in trainable(model)]
    betas = tuple(float(b) for b in o.get("betas", [0.9, 0.999]))
    opt = torch.optim.AdamW(params, lr=float(o["lr"]), betas=betas, eps=float(o.get("eps", 1e-8)),
                            weight_decay=float(o.get("weight_decay", 0.0)))
    clip = float(o.get("clip_grad_norm", 0.0) or 0.0)
    B = int(config["train"]["global_batch"])
    shuffle = bool(config.get("data", {}).get("shuffle", False))
    seed = int(config["train"].get("seed", 0))
    with h5py.File(args.data, "r") as f:
        xs, ys = f["train/x"], f["train/y"]
        n_train = xs.shape[0]
        spe = n_train // B
        if spe < 1:
            rep.check(False, f"{args.data}: {n_train} train rows < global batch {B}")
            return rep.finish()
        orders = {}
        batches = []
        for s in range(args.steps):
            e = s // spe
            if e not in orders:
                orders[e] = rt_epoch_order(n_train, seed, e, shuffle)
            rows = [orders[e][(s % spe) * B + i] for i in range(B)]
            srt = sorted(set(rows))
            xr, yr = xs[srt], ys[srt]
            pos = {r: i for i, r in enumerate(srt)}
            idx = [pos[r] for r in rows]
            batches.append((rows, e, xr[idx], yr[idx]))
    C, H, W = (int(v) for v in config["model"]["input"])
    total = int(config["train"].get("steps", 0) or 0) or args.steps
    losses = []
    for s, (rows, e, xr, yr) in enumerate(batches):
        xt, t, target, y = flow_batch(config, xr.reshape(len(rows), C, H, W), rows, e,
                                      labels=yr if model.num_classes else None, train=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(config, s, total)
        opt.zero_grad()
        v = model(torch.from_numpy(xt), torch.from_numpy(t), torch.from_numpy(y) if y is not None else None)
        loss = ((v - torch.from_numpy(target)) ** 2).mean()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(loss.item())
    logged = read_losses(args.run_dir)
    if not rep.check(len(logged) == args.steps,
                     f"{args.run_dir}/metrics.jsonl: {len(logged)} step rows (expected {args.steps})"):
        if not logged:
            return rep.finish()
    worst, worst_step = -1.0, None
    nbad = 0
    for i, r in enumerate(logged[:len(losses)]):
        ref, got = losses[i], float(r["loss"])
        rel = abs(got - ref) / abs(ref) if ref != 0 else abs(got)
        if not math.isfinite(got):
            rel = math.inf
        if rel > worst:
            worst, worst_step = rel, r["step"]
        if rel > LOSS_RTOL:
            nbad += 1
            rep.check(False, f"step {r['step']}: loss {got:.8g} vs torch {ref:.8g}, rel diff {rel:.2e}")
    n = min(len(logged), len(losses))
    rep.check(nbad == 0, f"losses: {n} steps within {LOSS_RTOL:g} relative; worst step {worst_step} at "
              f"{worst:.2e}; first {float(logged[0]['loss']):.6f} vs {losses[0]:.6f}, "
              f"last {float(logged[n - 1]['loss']):.6f} vs {losses[n - 1]:.6f}")
    return rep.finish()


# ---------------------------------------------------------------------------
# replay
# ---------------------------------------------------------------------------

def cmd_replay(args):
    rep = Report()
    with h5py.File(args.ckpt, "r") as f:
        cfg = f.attrs["config"]
        if isinstance(cfg, bytes):
            cfg = cfg.decode()
        config = json.loads(str(cfg))
        model = build_dit(config)
        load_params(model, f)
    model.eval()
    with h5py.File(args.samples, "r") as f:
        x = f["noise"][()].astype(np.float32)
        labels = f["labels"][()].astype(np.int64) if "labels" in f else None
        samples = f["samples"][()]
        K = int(f.attrs["steps"])
        Wcfg = np.float32(f.attrs["cfg"]) if "cfg" in f.attrs else np.float32(1)
    n = x.shape[0]
    Kf = np.float32(K)
    if labels is not None and not model.num_classes:
        rep.check(False, "SAMPLES.h5 has /labels but the checkpoint's model is unconditional")
        return rep.finish()
    yl = torch.from_numpy(labels) if labels is not None else None
    ynull = torch.full((n,), model.num_classes, dtype=torch.int64) if model.num_classes else None
    with torch.no_grad():
        for s in range(K):
            t = torch.from_numpy(np.full(n, np.float32(s) / Kf, dtype=np.float32))
            xx = torch.from_numpy(x)
            if yl is not None and Wcfg != np.float32(1):
                vc = model(xx, t, yl).numpy()
                vn = model(xx, t, ynull).numpy()
                v = vn + Wcfg * (vc - vn)
            else:
                v = model(xx, t, yl if yl is not None else ynull).numpy()
            x = (x + v / Kf).astype(np.float32)
    d = maxabs(x - samples)
    tol = SAMPLE_RTOL * max(1.0, maxabs(samples))
    rep.check(x.shape == samples.shape and d <= tol,
              f"samples {tuple(samples.shape)}, {K} Euler steps, cfg {float(Wcfg):g}"
              f"{', labels' if labels is not None else ''}: max|diff| {d:.3e} (tol {tol:.3e})")
    return rep.finish()


# ---------------------------------------------------------------------------
# selftest
# ---------------------------------------------------------------------------

def small_config():
    return {"model": {"type": "rectified_flow", "net": "dit", "input": [1, 28, 28], "patch": 4, "hidden": 64,
                      "depth": 2, "heads": 4, "mlp_ratio": 4, "qk_norm": True, "class_cond": True,
                      "num_classes": 10, "class_dropout": 0.1, "timesteps": "logit_normal", "logit_mean": 0,
                      "logit_std": 1},
            "data": {"mean": 0.5, "std": 0.5, "shuffle": False},
            "train": {"seed": 0, "global_batch": 8},
            "optim": {"type": "adamw", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
                      "schedule": {"type": "constant", "warmup_steps": 0}}}


def cmd_selftest(args):
    rep = Report()
    config = load_config(args.config) if args.config else small_config()
    model = build_dit(config)
    randomise(model, 0)
    structure_checks(rep, config, model)
    m = config["model"]
    C, H, W = (int(v) for v in m["input"])
    p, D = int(m["patch"]), int(m["hidden"])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, C, H, W, generator=g)
    tok = patchify(x, p)
    rep.check(torch.equal(unpatchify(tok, p, C, H, W), x), f"unpatchify inverts patchify ({tuple(tok.shape)})")
    # a token's features in (p, q, c) order: token (hi, wi), feature (a, b, c) is pixel (c, hi p + a, wi p + b)
    h, w = H // p, W // p
    hi, wi, a, b, c = h - 1, min(1, w - 1), p - 1, 0, C - 1
    rep.check(tok[2, hi * w + wi, (a * p + b) * C + c].item() == x[2, c, hi * p + a, wi * p + b].item(),
              "patchify token layout: row-major tokens, (p, q, c) features")
    # the patch conv = a linear on each patch flattened in (c, p, q) order
    with torch.no_grad():
        emb = model.x_embedder(x)
        pat = x.reshape(3, C, h, p, w, p).permute(0, 2, 4, 1, 3, 5).reshape(3, h * w, C * p * p)
        lin = pat @ model.x_embedder.proj.weight.reshape(D, -1).t() + model.x_embedder.proj.bias
    d = maxabs(emb - lin)
    rep.check(d <= 1e-5 * max(1.0, maxabs(lin)), f"x_embedder conv = per-patch linear, tokens row-major ({d:.1e})")
    pe = model.pos_embed[0].numpy()
    q = D // 4
    hi, wi, k = h - 1, min(2, w - 1), q - 1
    om = 1.0 / 10000 ** (k / q)
    want = np.float32([math.sin(wi * om), math.cos(wi * om), math.sin(hi * om), math.cos(hi * om)])
    rep.check(np.array_equal(pe[hi * w + wi, [k, q + k, 2 * q + k, 3 * q + k]], want),
              "pos_embed: [sin, cos](column), [sin, cos](row) per DiT's meshgrid order")
    t = torch.tensor([0.0, 0.37, 1.0])
    y = torch.tensor([min(3, model.num_classes - 1), 0, model.num_classes]) if model.num_classes else None
    v = model(x, t, y)
    rep.check(tuple(v.shape) == (3, C, H, W) and bool(torch.isfinite(v).all()), f"forward {tuple(v.shape)}")
    (v.sum()).backward()
    nog = [k for k, prm in trainable(model) if prm.grad is None or float(prm.grad.abs().max()) == 0.0]
    if model.num_classes:  # only the used rows of the table get gradient; the table as a whole must
        nog = [k for k in nog if k != "y_embedder.embedding_table.weight"]
    rep.check(not nog, f"every trainable parameter gets a nonzero gradient (none zero: {nog})")
    # timestep embedding vs DiT's formula in float64 torch
    tt = torch.tensor([0.0, 0.25, 0.999], dtype=torch.float32).double()
    fr = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float64) / 128)
    ar = (1000 * tt)[:, None] * fr[None]
    ref = torch.cat([torch.cos(ar), torch.sin(ar)], -1).float()
    rep.check(maxabs(timestep_embedding(tt.float()) - ref) <= 1e-6, "timestep embedding [cos, sin] of 1000 t")
    # a flow batch: xt / target relations, dropout only in training
    x1 = np.random.RandomState(0).randint(0, 256, size=(8, C, H, W)).astype(np.uint8)
    labels = np.arange(8) % max(model.num_classes, 1)
    xt, tb, target, yb = flow_batch(config, x1, list(range(8)), 0, labels=labels)
    x1n = normalise(config, x1)
    x0 = x1n - target
    rep.check(np.all((tb > 0) & (tb < 1)) and np.allclose(xt, tb[:, None, None, None] * x1n +
                                                            (1 - tb[:, None, None, None]) * x0, atol=1e-5),
              f"flow batch: t in (0, 1) {np.round(tb, 4).tolist()}, xt = t x1 + (1 - t) x0")
    if model.num_classes:
        _, _, _, ye = flow_batch(config, x1, list(range(8)), 0, labels=labels, train=False)
        rep.check(np.array_equal(ye, labels), f"no label dropout outside training; train labels {yb.tolist()}")
    return rep.finish()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("init")
    a.add_argument("config")
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--n", type=int, default=4)
    a = sub.add_parser("compare")
    a.add_argument("config")
    a.add_argument("out")
    a = sub.add_parser("train")
    a.add_argument("config")
    a.add_argument("init")
    a.add_argument("data")
    a.add_argument("run_dir")
    a.add_argument("--steps", type=int, default=20)
    a = sub.add_parser("replay")
    a.add_argument("ckpt")
    a.add_argument("samples")
    a = sub.add_parser("selftest")
    a.add_argument("config", nargs="?")
    args = ap.parse_args(argv)
    return {"init": cmd_init, "compare": cmd_compare, "train": cmd_train, "replay": cmd_replay,
            "selftest": cmd_selftest}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
