"""torch equivalents of the resample ops for parity_ops.py: name -> fn(xs, arg, f, f2, scale, case).

Case conventions (tests/ops_cases_resample.h): upsampling arg = [sh, sw,
align_corners]; pixel_unshuffle arg = [r]; pixel_shuffle arg = [r, r0], with
r0 > 0 meaning the input is first pixel-unshuffled by r0. A second input is
added to the op's output (how an input without gradient is tested).
"""
import torch  # noqa: F401
import torch.nn.functional as F


def _plus_y(out, xs):
    return out + xs[1] if len(xs) > 1 else out


def _nearest(xs, arg, f, f2, scale, case):
    # In float32, as models run: torch's float32 kernel takes source index
    # floorf(dst * (float)(1/s)), one row early at factors like 41 where 1/s
    # rounds down; its float64 kernel does so for some shapes only (e.g. not
    # for (1,2,2,3)). The inputs are float32 values and nearest only copies
    # them, so float32 here loses nothing.
    out = F.interpolate(xs[0].float(), scale_factor=(float(arg[0]), float(arg[1])), mode="nearest")
    return _plus_y(out.double(), xs)


def _bilinear(xs, arg, f, f2, scale, case):
    out = F.interpolate(xs[0], scale_factor=(float(arg[0]), float(arg[1])), mode="bilinear",
                        align_corners=bool(arg[2]))
    return _plus_y(out, xs)


def _pixel_shuffle(xs, arg, f, f2, scale, case):
    x = F.pixel_unshuffle(xs[0], arg[1]) if arg[1] > 0 else xs[0]
    return _plus_y(F.pixel_shuffle(x, arg[0]), xs)


def _pixel_unshuffle(xs, arg, f, f2, scale, case):
    return _plus_y(F.pixel_unshuffle(xs[0], arg[0]), xs)


TORCH = {
    "upsample_nearest": _nearest,
    "upsample_bilinear": _bilinear,
    "pixel_shuffle": _pixel_shuffle,
    "pixel_unshuffle": _pixel_unshuffle,
}
