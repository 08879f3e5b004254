#!/usr/bin/python3
"""A PyTorch NICE with ringtrain's architecture and parameter names, as the
reference for the nice model.

  nice_ref.py parity BIN CKPT.h5 DATA.h5
      Loads the checkpoint with DESIGN.md's one-line rule, dequantises the
      first 2000 test rows with fixed noise into a float32 file, and compares
      `ringtrain eval --data` on that file (mean NLL in nats, log-determinant)
      with torch on the same weights and inputs: relative difference <= 1e-5.
      Also checks torch's own inverse on ringtrain's weights (x -> z -> x),
      and `ringtrain sample --out FILE.h5` (/samples against torch's inverse
      of its /noise). model.logit_alpha is followed throughout.

  nice_ref.py train CONFIG.json STEPS DATA.h5 INIT_OUT.h5
      Initialises the model (torch defaults), writes the initial weights to
      INIT_OUT.h5 (/params, for ringtrain's init.from), trains STEPS steps
      with the config's optimizer, schedule, clipping and batch in data order
      (shuffle off) with its own dequantisation noise, and prints one JSON
      line with the test NLL and bits/dim.

  nice_ref.py datainit DATA.h5 B ZERO_CKPT CKPT...
      model.scale_init "data", checked on checkpoints of runs that took one
      step at lr 1e-30 (so their parameters are the initial ones) over a
      float32 DATA.h5 read in file order: every coupling's last layer is
      zero, every other coupling weight equals ZERO_CKPT's (the same seed,
      scale_init "zero"), the scale is the same bits in every CKPT (runs at
      different world sizes), and equals a float64 Newton solve of the
      maximum-likelihood log-scale on the first B training rows (logistic:
      mean z tanh(z/2) = 1; normal: mean z^2 = 1; z = x e^s) within 1e-5.

The last line of parity and datainit is "N passed, M failed"; exit 1 on any mismatch.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))


class Coupling(torch.nn.Module):
    def __init__(self, half, hidden, layers):
        super().__init__()
        mods = [torch.nn.Linear(half, hidden), torch.nn.ReLU()]
        for _ in range(layers - 1):
            mods += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
        mods.append(torch.nn.Linear(hidden, half))
        self.net = torch.nn.Sequential(*mods)


class NICE(torch.nn.Module):
    """forward and inverse map the flow's input v; nll and to_pixels work on
    pixels x in [0, 1], with v = logit(a + (1 - 2a) x) when alpha = a > 0."""

    def __init__(self, d, couplings, hidden, layers, prior, alpha=0.0):
        super().__init__()
        self.couplings = torch.nn.ModuleList([Coupling(d // 2, hidden, layers) for _ in range(couplings)])
        self.scale = torch.nn.Parameter(torch.zeros(d))
        self.prior = prior
        self.alpha = alpha

    def to_flow(self, x):  # (v, log |dv/dx| per row)
        if self.alpha == 0:
            return x, torch.zeros(x.shape[0], dtype=x.dtype)
        a = self.alpha
        y = a + (1 - 2 * a) * x
        v = torch.log(y) - torch.log1p(-y)
        return v, (math.log1p(-2 * a) - torch.log(y) - torch.log1p(-y)).sum(1)

    def to_pixels(self, z):
        v = self.inverse(z)
        return v if self.alpha == 0 else (torch.sigmoid(v) - self.alpha) / (1 - 2 * self.alpha)

    def forward(self, x):
        h0, h1 = x[:, 0::2], x[:, 1::2]
        for i, c in enumerate(self.couplings):
            if i % 2 == 0:
                h1 = h1 + c.net(h0)
            else:
                h0 = h0 + c.net(h1)
        z = torch.empty_like(x)
        z[:, 0::2], z[:, 1::2] = h0, h1
        return z * torch.exp(self.scale)

    def inverse(self, z):
        x = z * torch.exp(-self.scale)
        h0, h1 = x[:, 0::2], x[:, 1::2]
        for i in reversed(range(len(self.couplings))):
            if i % 2 == 0:
                h1 = h1 - self.couplings[i].net(h0)
            else:
                h0 = h0 - self.couplings[i].net(h1)
        out = torch.empty_like(z)
        out[:, 0::2], out[:, 1::2] = h0, h1
        return out

    def nll(self, x):  # per row, nats
        v, pre = self.to_flow(x)
        z = self.forward(v)
        if self.prior == "normal":
            lp = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
        else:
            lp = -(torch.nn.functional.softplus(z) + torch.nn.functional.softplus(-z))
        return -(lp.sum(1) + self.scale.sum() + pre)


def build(config):
    m = config["model"]
    d = int(np.prod(m["input"]))
    return NICE(d, m.get("couplings", 4), m.get("hidden", 1000), m.get("hidden_layers", 5),
                m.get("prior", "logistic"), m.get("logit_alpha", 0.0)), d


def bpd(nll, d):
    return (nll / d + math.log(256)) / math.log(2)


class Checks:
    """check(ok, msg) prints one ok/FAIL line; done() the summary and the exit code."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, msg):
        print(("ok   " if ok else "FAIL ") + msg)
        self.passed += bool(ok)
        self.failed += not ok

    def done(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def parity(binary, ckpt, data):
    check = Checks()

    with h5py.File(ckpt) as f:
        state = {k: torch.from_numpy(f['params'][k][()]) for k in f['params']}
        config = json.loads(f.attrs["config"])
    model, d = build(config)
    model.load_state_dict(state)
    model = model.double()
    rng = np.random.default_rng(1)
    with h5py.File(data) as f:
        k = f["test/x"][:2000].reshape(-1, d).astype(np.float64)
        y = f["test/y"][:2000]
    x = ((k + rng.random(k.shape)) / 256.0).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "deq.h5")
        with h5py.File(path, "w") as f:
            f["test/x"] = x
            f["test/y"] = y.astype(np.int32)
        out = subprocess.run([binary, "eval", ckpt, "--data", path], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr)
            check(False, "ringtrain eval on the dequantised file failed")
            return check.done()
        ours = json.loads(out.stdout.strip().splitlines()[-1])
        samples = os.path.join(tmp, "samples.h5")
        out = subprocess.run([binary, "sample", ckpt, "--n", "16", "--temperature", "0.7", "--out", samples],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr)
            check(False, "ringtrain sample failed")
            return check.done()
        with h5py.File(samples) as f:
            noise = torch.from_numpy(f["noise"][()].reshape(16, d).astype(np.float64))
            drawn = f["samples"][()].reshape(16, d).astype(np.float64)
    with torch.no_grad():
        xt = torch.from_numpy(x.astype(np.float64))
        nll = float(model.nll(xt).mean())
        logdet = float(model.scale.sum())
        v = model.to_flow(xt)[0]
        back = model.inverse(model(v))
        inv_err = float((back - v).abs().max())
        want = model.to_pixels(noise).numpy()
    samp_err = float(np.abs(drawn - want).max() / max(1.0, np.abs(want).max()))
    rel = abs(ours["test_nll"] - nll) / abs(nll)
    check(rel <= 1e-5, f"nice NLL ringtrain {ours['test_nll']:.6f} vs torch {nll:.6f} nats (rel {rel:.1e}, tol 1e-5)")
    rel = abs(ours["logdet"] - logdet) / max(1.0, abs(logdet))
    check(rel <= 1e-5, f"nice log-det ringtrain {ours['logdet']:.6f} vs torch {logdet:.6f} (rel {rel:.1e})")
    check(abs(ours["test_bpd"] - bpd(nll, d)) <= 1e-4,
          f"nice bits/dim ringtrain {ours['test_bpd']:.6f} vs torch {bpd(nll, d):.6f}")
    check(inv_err <= 1e-5, f"torch inverse on ringtrain's weights x->z->x max err {inv_err:.1e} (tol 1e-5)")
    check(samp_err <= 1e-4, f"ringtrain sample at T 0.7 vs torch's inverse of its /noise: max rel err "
          f"{samp_err:.1e} (tol 1e-4), samples in [{want.min():.3f}, {want.max():.3f}]")
    return check.done()


def ml_log_scale(h, prior):  # per column of h (n, D), float64 Newton from the rms guess
    if prior == "normal":
        return -0.5 * np.log((h * h).mean(0))
    s = -np.log(np.sqrt((h * h).mean(0)))
    for _ in range(200):
        z = h * np.exp(s)
        t = np.tanh(z / 2)
        f = (z * t).mean(0) - 1.0
        df = (z * t + z * z * (1 - t * t) / 2).mean(0)
        s = s - np.clip(f / df, -1.0, 1.0)
    z = h * np.exp(s)
    return s, np.abs((z * np.tanh(z / 2)).mean(0) - 1.0).max()


def datainit(data, B, zero_ckpt, ckpts):
    check = Checks()

    def params(path):
        with h5py.File(path) as f:
            return {k: f["params"][k][()] for k in f["params"]}, json.loads(f.attrs["config"])

    zero, _ = params(zero_ckpt)
    with h5py.File(data) as f:
        x = f["train/x"][:B].reshape(B, -1).astype(np.float64)
    first = {}
    for path in ckpts:
        p, cfg = params(path)
        name = os.path.basename(os.path.dirname(os.path.dirname(path)))
        last = "net.%d." % (2 * cfg["model"]["hidden_layers"])
        lasts = [k for k in p if k.startswith("couplings.") and last in k]
        big = max(float(np.abs(p[k]).max()) for k in lasts)
        check(len(lasts) == 2 * cfg["model"]["couplings"] and big <= 1e-20,
              f"{name}: {len(lasts)} last-layer tensors zero (max |w| {big:.1e})")
        same = all(np.array_equal(p[k], zero[k]) for k in p if k.startswith("couplings.") and k not in lasts)
        check(same, f"{name}: the other coupling weights are the seed's")
        prior = cfg["model"].get("prior", "logistic")
        alpha = cfg["model"].get("logit_alpha", 0.0)
        h = x
        if alpha:
            y = alpha + (1 - 2 * alpha) * x.astype(np.float32).astype(np.float64)
            h = (np.log(y) - np.log1p(-y)).astype(np.float32).astype(np.float64)
        want = ml_log_scale(h, prior)
        resid = 0.0
        if prior != "normal":
            want, resid = want
        err = float(np.abs(p["scale"] - want).max() / max(1.0, np.abs(want).max()))
        check(err <= 1e-5 and resid <= 1e-9,
              f"{name}: {prior}{' logit' if alpha else ''} scale vs the float64 ML fit on {B} rows: max rel err {err:.1e} (tol 1e-5), "
              f"s in [{want.min():.3f}, {want.max():.3f}]")
        if prior == "logistic":
            if (prior, alpha) not in first:
                first[(prior, alpha)] = (name, p["scale"])
            else:
                ref = first[(prior, alpha)]
                check(np.array_equal(p["scale"], ref[1]), f"{name}: the same scale bits as {ref[0]}")
    return check.done()


def lr_at(o, step, total):  # ringtrain's rt_lr_at: linear warmup, then the schedule
    lr0, sch = o.get("lr", 1e-3), o.get("schedule", {})
    warm = sch.get("warmup_steps", 0)
    if step < warm:
        return lr0 * (step + 1) / warm
    t = step - warm
    if sch.get("type", "constant") == "cosine":
        frac = min(1.0, t / (total - warm if total > warm else 1))
        lo = sch.get("min_lr", 0.0)
        return lo + 0.5 * (lr0 - lo) * (1 + math.cos(math.pi * frac))
    assert sch.get("type", "constant") == "constant", "nice_ref: only constant and cosine schedules"
    return lr0


def train(config_path, steps, data, init_out):
    config = json.load(open(config_path))
    torch.manual_seed(config.get("train", {}).get("seed", 0))
    model, d = build(config)
    with h5py.File(init_out, "w") as f:
        for k, v in model.state_dict().items():
            f[f"params/{k}"] = v.numpy()
    o = config["optim"]
    betas = tuple(o.get("betas", [0.9, 0.999]))
    opt = torch.optim.AdamW(model.parameters(), lr=o.get("lr", 1e-3), betas=betas, eps=o.get("eps", 1e-8),
                            weight_decay=o.get("weight_decay", 0.01))
    B = config["train"]["global_batch"]
    clip = o.get("clip_grad_norm", 0)
    with h5py.File(data) as f:
        xtr = f["train/x"][()].reshape(-1, d).astype(np.float32)
        xte = f["test/x"][()].reshape(-1, d).astype(np.float32)
    per_epoch = xtr.shape[0] // B  # as ringtrain: whole batches, rows in file order
    gen = torch.Generator().manual_seed(123)
    for s in range(steps):
        lo = (s % per_epoch) * B
        x = (torch.from_numpy(xtr[lo:lo + B]) + torch.rand(B, d, generator=gen)) / 256.0
        for g in opt.param_groups:
            g["lr"] = lr_at(o, s, steps)
        opt.zero_grad()
        loss = model.nll(x).mean()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    with torch.no_grad():
        total = 0.0
        for i in range(0, xte.shape[0], 1000):
            x = (torch.from_numpy(xte[i:i + 1000]) + torch.rand(min(1000, xte.shape[0] - i), d, generator=gen)) / 256.0
            total += float(model.nll(x).double().sum())
        nll = total / xte.shape[0]
    print(json.dumps({"event": "nice_ref", "steps": steps, "test_nll": nll, "test_bpd": bpd(nll, d)}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "parity":
        sys.exit(parity(*sys.argv[2:5]))
    if len(sys.argv) >= 6 and sys.argv[1] == "datainit":
        sys.exit(datainit(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]))
    if len(sys.argv) == 6 and sys.argv[1] == "train":
        sys.exit(train(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
