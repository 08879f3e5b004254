#!/usr/bin/python3
"""Do samples of a 2-D generative model match the data (two moons)?

  mean       ||mean(samples) - mean(test)|| <= 0.05
  covariance ||cov(samples) - cov(test)||_F <= 0.1 ||cov(test)||_F
  MMD^2      (RBF kernels at bandwidths 0.1, 0.2, 0.5, median of the data's
             pairwise distances) between the samples and the test rows must
             stay below a threshold computed here from a shuffled-data
             baseline: the MMD^2 between disjoint random halves of the
             training rows, as many as there are samples, over 10 shuffles;
             threshold = 5 x the largest of those (a trained model is not
             the data; a Gaussian with the right moments lands at ~50x).
  control    a Gaussian with the data's mean and covariance must fail the
             MMD check, which shows the check can fail.
usage: moons_check.py MOONS.h5 SAMPLES.h5   (last line "N passed, M failed")
"""
import sys

import h5py
import numpy as np

N = 2000
rng = np.random.default_rng(0)
with h5py.File(sys.argv[1]) as f:
    train, test = f["train/x"][()].astype(np.float64), f["test/x"][()].astype(np.float64)
with h5py.File(sys.argv[2]) as f:
    samples = f["samples"][()].astype(np.float64)
samples, test = samples[:N], test[:N]

passed = failed = 0


def check(ok, msg):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + msg)
    passed += ok
    failed += not ok


sub = train[rng.choice(len(train), 1000, replace=False)]
d2 = ((sub[:, None] - sub[None]) ** 2).sum(-1)
bandwidths = [0.1, 0.2, 0.5, float(np.sqrt(np.median(d2[d2 > 0])))]


def mmd2(a, b):  # unbiased estimate, sum over bandwidths
    total = 0.0
    # the squared distances once, for every bandwidth
    def dist2(x, y):
        return np.maximum((x * x).sum(1)[:, None] + (y * y).sum(1)[None] - 2 * x @ y.T, 0.0)
    daa, dbb, dab = dist2(a, a), dist2(b, b), dist2(a, b)
    for h in bandwidths:
        kaa, kbb, kab = (np.exp(d * (-1 / (2 * h * h))) for d in (daa, dbb, dab))
        n, m = len(a), len(b)
        total += ((kaa.sum() - np.trace(kaa)) / (n * (n - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
                  - 2 * kab.mean())
    return total


finite = bool(np.isfinite(samples).all()) and samples.shape == (N, 2)
check(finite, f"samples shape {samples.shape}, all finite")
if not finite:
    print(f"{passed} passed, {failed} failed")
    sys.exit(1)
dm = float(np.linalg.norm(samples.mean(0) - test.mean(0)))
check(dm <= 0.05, f"mean {samples.mean(0).round(3)} vs data {test.mean(0).round(3)}: distance {dm:.3f} (tol 0.05)")
cs, ct = np.cov(samples.T), np.cov(test.T)
dc = float(np.linalg.norm(cs - ct) / np.linalg.norm(ct))
check(dc <= 0.1, f"covariance relative Frobenius distance {dc:.3f} (tol 0.1)")

base = []
for _ in range(10):
    perm = rng.permutation(len(train))
    base.append(mmd2(train[perm[:N]], train[perm[N:2 * N]]))
threshold = 5 * max(max(base), 1e-6)
m = mmd2(samples, test)
check(m <= threshold, f"MMD^2 samples vs data {m:.2e} <= threshold {threshold:.2e} (5 x max of 10 shuffled-data baselines, max {max(base):.2e})")
gauss = rng.multivariate_normal(test.mean(0), ct, N)
mg = mmd2(gauss, test)
check(mg > threshold, f"negative control: a Gaussian with the data's mean and covariance has MMD^2 {mg:.2e} > threshold")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
