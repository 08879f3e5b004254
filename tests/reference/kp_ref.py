"""PyTorch reference for ringtrain's keypoint heads (src/models/heads.c), after
mmpose: SimCCLabel + KLDiscretLoss for SimCC, RLELoss (Laplace residual) with
its RealNVP for RLE, and L1 for plain regression.

  kp_ref.py init FILE.h5 --head regression|simcc|rle [--K 5] [--W 16] [--H 12]
                 [--n 6] [--split 2] [--sigma 2] [--m 64] [--seed 0]
      writes attributes (head, K, W, H, split, sigma), random parameters as
      /params/<name> in ringtrain's names and torch's layouts, and inputs
      /inputs/feat (N, W*H), /inputs/kp (N, K, 2) in pixels, and for rle
      /inputs/e (M, 2). tests/test_kp_dump.c adds /out/loss, /out/pred,
      /grad/<name>, /grad_feat and, for rle, /out/logp and /grad_e.
  kp_ref.py compare FILE.h5
      recomputes all of it in float64 and checks it: loss and log-density
      within 1e-5 relative, keypoints within 1e-5 * max(W, H) (SimCC's argmax
      exactly), every gradient within 1e-5 of the tensor's largest magnitude.
  kp_ref.py selftest
      the reference against itself: the flow's log-density against log|det|
      of the autograd Jacobian of its forward map, SimCC's label coding
      against its decoding, and the KL against torch.nn.functional.kl_div.

Losses are means over the N rows (ringtrain scales the summed loss by 1/N;
mmpose's KLDiscretLoss sums over the batch, so ringtrain's SimCC loss is
mmpose's / N).
"""
import argparse
import math
import sys

import h5py
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
HIDDEN, FLOWS, LEAK = 64, 6, 0.01


def mlp(tanh):
    layers = [torch.nn.Linear(2, HIDDEN), torch.nn.LeakyReLU(LEAK), torch.nn.Linear(HIDDEN, HIDDEN),
              torch.nn.LeakyReLU(LEAK), torch.nn.Linear(HIDDEN, 2)]
    return torch.nn.Sequential(*(layers + [torch.nn.Tanh()] if tanh else layers))


class RealNVP(torch.nn.Module):
    """mmpose's RealNVP on 2-D: masks [0,1],[1,0],...; s with tanh, t without"""

    def __init__(self):
        super().__init__()
        self.register_buffer("mask", torch.tensor([[0.0, 1.0], [1.0, 0.0]] * (FLOWS // 2)))
        self.s = torch.nn.ModuleList([mlp(True) for _ in range(FLOWS)])
        self.t = torch.nn.ModuleList([mlp(False) for _ in range(FLOWS)])

    def backward_p(self, x):
        z, logdet = x, x.new_zeros(x.shape[0])
        for i in reversed(range(FLOWS)):
            m = self.mask[i]
            z_ = m * z
            s = self.s[i](z_) * (1 - m)
            t = self.t[i](z_) * (1 - m)
            z = (1 - m) * (z - t) * torch.exp(-s) + z_
            logdet = logdet - s.sum(dim=1)
        return z, logdet

    def forward_p(self, z):
        x = z
        for i in range(FLOWS):
            m = self.mask[i]
            x_ = m * x
            s = self.s[i](x_) * (1 - m)
            t = self.t[i](x_) * (1 - m)
            x = x_ + (1 - m) * (x * torch.exp(s) + t)
        return x

    def log_prob(self, x):
        z, logdet = self.backward_p(x)
        return -0.5 * (z * z).sum(dim=1) - math.log(2 * math.pi) + logdet


class Head(torch.nn.Module):
    def __init__(self, kind, K, W, H, split, sigma):
        super().__init__()
        self.kind, self.K, self.W, self.H, self.split, self.sigma = kind, K, W, H, split, sigma
        F = W * H
        self.wb, self.hb = int(round(W * split)), int(round(H * split))
        if kind == "regression":
            self.fc = torch.nn.Linear(F, 2 * K)
        elif kind == "simcc":
            self.fc_x = torch.nn.Linear(F, K * self.wb)
            self.fc_y = torch.nn.Linear(F, K * self.hb)
        else:
            self.fc = torch.nn.Linear(F, 4 * K)
            self.flow = RealNVP()

    def names(self):
        """ringtrain's parameter names, in order"""
        return [("head." + k, v) for k, v in self.named_parameters()]

    def labels(self, coord, bins):
        """SimCCLabel: a Gaussian around around(coord * split), / (sigma sqrt(2 pi))"""
        mu = torch.from_numpy(np.around(coord.detach().numpy() * self.split))
        j = torch.arange(bins, dtype=torch.float64)
        g = torch.exp(-((j - mu[..., None]) ** 2) / (2 * self.sigma ** 2))
        return g / (self.sigma * math.sqrt(2 * math.pi))

    def loss(self, feat, kp):
        """(mean loss over rows, predicted keypoints in pixels)"""
        N, K = feat.shape[0], self.K
        size = torch.tensor([self.W, self.H], dtype=torch.float64)
        target = kp / size
        if self.kind == "regression":
            out = self.fc(feat).view(N, K, 2)
            return (out - target).abs().mean(dim=(1, 2)).mean(), out * size
        if self.kind == "simcc":
            zx = self.fc_x(feat).view(N, K, self.wb)
            zy = self.fc_y(feat).view(N, K, self.hb)
            pred = torch.stack([zx.argmax(-1) / self.split, zy.argmax(-1) / self.split], dim=-1)
            total = 0
            for z, axis, bins in ((zx, 0, self.wb), (zy, 1, self.hb)):
                lab = self.labels(kp[..., axis], bins)
                kl = torch.nn.functional.kl_div(torch.log_softmax(z, dim=-1), lab, reduction="none")
                total = total + kl.mean(dim=-1).sum()  # mmpose: mean over bins, sum over rows
            return total / K / N, pred.to(torch.float64)
        out = self.fc(feat).view(N, K, 4)
        mu, sigma = out[..., :2], torch.sigmoid(out[..., 2:])
        e = (mu - target) / (sigma + 1e-9)
        log_phi = self.flow.log_prob(e.reshape(-1, 2)).reshape(N, K, 1)
        per = torch.log(sigma) - log_phi + torch.log(2 * sigma) + e.abs()  # RLELoss, residual, Laplace
        return per.sum() / N, mu * size


def head_of(f):
    a = f.attrs
    kind = a["head"].decode() if isinstance(a["head"], bytes) else str(a["head"])
    return Head(kind, int(a["K"]), int(a["W"]), int(a["H"]), float(a["split"]), float(a["sigma"]))


def cmd_init(a):
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    h = Head(a.head, a.K, a.W, a.H, a.split, a.sigma)
    with torch.no_grad():
        for name, p in h.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape) / math.sqrt(p.shape[1]))
            else:
                p.copy_(0.1 * torch.randn(p.shape))
        if a.head == "rle":  # mu within a few tenths of the target, |s| below about 2
            h.fc.weight.mul_(0.3)
    F = a.W * a.H
    kp = np.stack([rng.uniform(0, a.W, (a.n, a.K)), rng.uniform(0, a.H, (a.n, a.K))], axis=-1)
    with h5py.File(a.file, "w") as f:
        f.attrs["head"] = np.bytes_(a.head)  # fixed-length, as ringtrain reads strings
        for k in ("K", "W", "H"):
            f.attrs[k] = np.int64(getattr(a, k))
        f.attrs["split"], f.attrs["sigma"] = np.float64(a.split), np.float64(a.sigma)
        for name, p in h.names():
            f[f"params/{name}"] = p.detach().numpy().astype(np.float32)
        f["inputs/feat"] = rng.standard_normal((a.n, F)).astype(np.float32)
        f["inputs/kp"] = kp.astype(np.float32)
        if a.head == "rle":
            f["inputs/e"] = (1.5 * rng.standard_normal((a.m, 2))).astype(np.float32)
    print(f"wrote {a.file}: {a.head} head, {len(h.names())} parameter tensors, N {a.n}, K {a.K}, {a.W}x{a.H}")


class Checks:
    def __init__(self):
        self.bad = 0

    def line(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        self.bad += not ok

    def close(self, name, c, t, tol):
        """max |c - t| against tol times the tensor's largest magnitude"""
        err = float(np.abs(c - t).max()) if t.size else 0.0
        scale = max(1e-3, float(np.abs(t).max())) if t.size else 1.0
        self.line(err <= tol * scale, f"{name}: max |c - torch| {err:.3g}, tol {tol:g} x {scale:.3g}")


def need(f, name):
    if name not in f:
        print(f"kp_ref.py: {f.filename}: missing dataset {name}", file=sys.stderr)
        sys.exit(2)
    return f[name][()]


def cmd_compare(a):
    chk = Checks()
    with h5py.File(a.file, "r") as f:
        h = head_of(f)
        with torch.no_grad():
            for name, p in h.names():
                p.copy_(torch.from_numpy(need(f, f"params/{name}").astype(np.float64)))
        feat = torch.from_numpy(need(f, "inputs/feat").astype(np.float64)).requires_grad_(True)
        kp = torch.from_numpy(need(f, "inputs/kp").astype(np.float64))
        loss, pred = h.loss(feat, kp)
        loss.backward()
        c_loss = float(need(f, "out/loss")[0])
        rel = abs(c_loss - loss.item()) / max(1e-12, abs(loss.item()))
        chk.line(rel <= 1e-5, f"{h.kind} loss: C {c_loss:.8g}, torch {loss.item():.8g}, rel {rel:.2e} (tol 1e-5)")
        c_pred = need(f, "out/pred").astype(np.float64)
        t_pred = pred.detach().numpy()
        if h.kind == "simcc":  # exact argmax, except where the top two logits nearly tie
            z = [h.fc_x(feat).view(-1, h.wb), h.fc_y(feat).view(-1, h.hb)]
            keep = np.ones(t_pred.shape, bool)
            for axis in (0, 1):
                top = torch.topk(z[axis], 2, dim=-1).values.detach().numpy()
                keep[..., axis] = (top[:, 0] - top[:, 1] > 1e-5).reshape(keep.shape[:-1])
            equal = int((c_pred[keep] == t_pred[keep]).sum())
            chk.line(equal == keep.sum(), f"simcc decoded keypoints: {equal} of {keep.sum()} equal "
                                          f"({keep.size - keep.sum()} near-ties skipped)")
        else:
            err = float(np.abs(c_pred - t_pred).max())
            tol = 1e-5 * max(h.W, h.H)
            chk.line(err <= tol, f"{h.kind} keypoints: max |C - torch| {err:.3g} px (tol {tol:.2g})")
        for name, p in h.names():
            chk.close(f"d loss / d {name}", need(f, f"grad/{name}"), p.grad.numpy(), 1e-5)
        chk.close("d loss / d feat", need(f, "grad_feat"), feat.grad.numpy(), 1e-5)
        if h.kind == "rle":
            e = torch.from_numpy(need(f, "inputs/e").astype(np.float64)).requires_grad_(True)
            logp = h.flow.log_prob(e)
            logp.sum().backward()
            c = need(f, "out/logp").astype(np.float64)
            err = float((np.abs(c - logp.detach().numpy()) / np.maximum(1, np.abs(logp.detach().numpy()))).max())
            chk.line(err <= 1e-5, f"flow log-density at {len(c)} points: max rel {err:.2e} (tol 1e-5)")
            chk.close("d sum log G / d e", need(f, "grad_e"), e.grad.numpy(), 1e-5)
    sys.exit(1 if chk.bad else 0)


def cmd_selftest(a):
    del a
    chk = Checks()
    torch.manual_seed(1)
    flow = RealNVP()
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape) / math.sqrt(p.shape[-1]) if p.ndim == 2 else 0.3 * torch.randn(p.shape))
    worst = 0.0
    for _ in range(6):
        z = torch.randn(2)
        x = flow.forward_p(z[None])[0]
        J = torch.autograd.functional.jacobian(lambda v: flow.forward_p(v[None])[0], z)
        want = -0.5 * float(z @ z) - math.log(2 * math.pi) - math.log(abs(float(torch.det(J))))
        zb, _ = flow.backward_p(x[None])
        worst = max(worst, abs(float(flow.log_prob(x[None])[0]) - want), float((zb[0] - z).abs().max()))
    chk.line(worst <= 1e-8, f"RealNVP: log_prob = log N(z) - log|det dx/dz| (autograd Jacobian) and inversion "
                            f"at 6 points, worst {worst:.1e} (tol 1e-8)")
    h = Head("simcc", 3, 16, 12, 2.0, 2.0)
    coord = torch.tensor([[0.2, 3.74, 15.7], [5.25, 7.5, 11.01]])  # 5.25 * 2 rounds to even
    lab = h.labels(coord, 32)
    dec = lab.argmax(-1) / h.split
    want = torch.from_numpy(np.around(coord.numpy() * 2) / 2)
    chk.line(torch.equal(dec, want), f"SimCC labels decode to around(coord * k) / k: {dec.tolist()}")
    logits = torch.randn(4, 32)
    lab = h.labels(torch.tensor([1.0, 4.2, 9.9, 15.0]), 32)
    lab[0, 20:] = 0  # zeros add nothing
    lp = torch.log_softmax(logits, -1)
    mine = torch.where(lab > 0, lab * (torch.log(lab.clamp_min(1e-300)) - lp), torch.zeros(()))
    ref = torch.nn.functional.kl_div(lp, lab, reduction="none")
    chk.line(torch.allclose(mine, ref, rtol=0, atol=1e-12), "KL elementwise against F.kl_div(reduction='none')")
    sys.exit(1 if chk.bad else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("file")
    i.add_argument("--head", required=True, choices=["regression", "simcc", "rle"])
    for k, d in (("K", 5), ("W", 16), ("H", 12), ("n", 6), ("m", 64), ("seed", 0)):
        i.add_argument(f"--{k}", type=int, default=d)
    i.add_argument("--split", type=float, default=2.0)
    i.add_argument("--sigma", type=float, default=2.0)
    c = sub.add_parser("compare")
    c.add_argument("file")
    sub.add_parser("selftest")
    a = ap.parse_args()
    {"init": cmd_init, "compare": cmd_compare, "selftest": cmd_selftest}[a.cmd](a)


if __name__ == "__main__":
    main()
