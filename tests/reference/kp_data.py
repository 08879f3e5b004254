"""Checks a fashion-keypoints file (ringtrain prep fashion-keypoints) against an
independent recomputation from the Fashion-MNIST images it was built from.

For each checked row of each split: the source garment (same split, same row
of FASHION.h5) is resized to round(28 * scale) with bilinear sampling at pixel
centres, pasted at (x0, y0) as /place records, and the five keypoints are
recomputed from that clean canvas with numpy (the intensity-weighted centre;
then, among pixels >= 0.5, or half the maximum for a fainter garment, the mean
x of the top-most and bottom-most rows and the mean y of the left-most and
right-most columns). They must match /kp within 1e-3 px. The stored, noisy
canvas must be that clean canvas plus light noise: mean |x/255 - clean| below
0.04 and no pixel off by more than 0.25. /y must be the source labels.

usage: kp_data.py KP.h5 FASHION.h5 [--rows N]
"""
import argparse
import sys

import h5py
import numpy as np


def resize(g, n):
    """g (28, 28) in [0, 1] -> (n, n), bilinear at pixel centres, edges clamped"""
    src = np.clip((np.arange(n) + 0.5) * 28.0 / n - 0.5, 0, 27)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, 27)
    f = src - lo
    rows = g[lo, :] * (1 - f)[:, None] + g[hi, :] * f[:, None]      # (n, 28)
    return rows[:, lo] * (1 - f)[None, :] + rows[:, hi] * f[None, :]  # (n, n)


def keypoints(c):
    size = c.shape[0]
    ys, xs = np.mgrid[0:size, 0:size]
    w = c.sum()
    centre = ((c * xs).sum() / w, (c * ys).sum() / w)
    thr = 0.5 if c.max() >= 0.5 else 0.5 * c.max()
    on = c >= np.float32(thr)
    r = np.nonzero(on.any(axis=1))[0]
    k = np.nonzero(on.any(axis=0))[0]
    top, bottom, left, right = r[0], r[-1], k[0], k[-1]
    return np.array([centre,
                     (xs[top][on[top]].mean(), top), (xs[bottom][on[bottom]].mean(), bottom),
                     (left, ys[:, left][on[:, left]].mean()), (right, ys[:, right][on[:, right]].mean())])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kp")
    ap.add_argument("fashion")
    ap.add_argument("--rows", type=int, default=400)
    a = ap.parse_args()
    bad = 0
    with h5py.File(a.kp, "r") as f, h5py.File(a.fashion, "r") as src:
        names = f.attrs["keypoints"]
        names = names.decode() if isinstance(names, bytes) else str(names)
        if names != "centre,top,bottom,left,right":
            print(f"FAIL attribute keypoints is {names!r}")
            bad += 1
        size = int(f.attrs["size"])
        for split in ("train", "test"):
            x, kp, place, y = (f[f"{split}/{k}"] for k in ("x", "kp", "place", "y"))
            n = x.shape[0]
            shapes_ok = (x.shape == (n, 1, size, size) and x.dtype == np.uint8 and kp.shape == (n, 5, 2)
                         and kp.dtype == np.float32 and y.dtype == np.int32 and n == src[f"{split}/x"].shape[0])
            if not shapes_ok:
                print(f"FAIL {split}: layout x {x.shape} {x.dtype}, kp {kp.shape} {kp.dtype}, y {y.dtype}")
                bad += 1
                continue
            if not np.array_equal(y[()], src[f"{split}/y"][()]):
                print(f"FAIL {split}/y differs from the source labels")
                bad += 1
            rows = np.linspace(0, n - 1, a.rows).astype(int)
            worst_kp = worst_px = mean_px = 0.0
            for r in rows:
                scale, x0, y0 = place[r]
                m = int(np.floor(28.0 * float(scale) + 0.5))
                clean = np.zeros((size, size))
                clean[int(y0):int(y0) + m, int(x0):int(x0) + m] = resize(src[f"{split}/x"][r] / 255.0, m)
                clean = clean.astype(np.float32)
                worst_kp = max(worst_kp, float(np.abs(keypoints(clean) - kp[r]).max()))
                d = np.abs(x[r, 0] / 255.0 - clean)
                worst_px, mean_px = max(worst_px, float(d.max())), max(mean_px, float(d.mean()))
                if not (0.7 <= scale <= 1.3 and 0 <= x0 <= size - m and 0 <= y0 <= size - m):
                    print(f"FAIL {split} row {r}: placement {place[r]} outside the canvas or the scale range")
                    bad += 1
            ok = worst_kp <= 1e-3 and mean_px < 0.04 and worst_px <= 0.25
            bad += not ok
            print(f"{'ok' if ok else 'FAIL'} {split}: {len(rows)} rows, keypoints within {worst_kp:.2e} px "
                  f"(tol 1e-3); canvas vs clean paste: worst row mean |d| {mean_px:.4f} (< 0.04), "
                  f"worst pixel {worst_px:.3f} (<= 0.25)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
