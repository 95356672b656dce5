"""NumPy references the kernel tests of several files compare with."""

import numpy as np


def conv_reference(x, kernel, bias, stride, dilation, pads, relu):
    """A channels-last 2-D convolution in float64: x (batch, h, w, c), kernel
    (kh, kw, c, f), pads (top, bottom, left, right); bias may be None."""
    kh, kw, _, f = kernel.shape
    (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, f))
    for r in range(kh):
        for q in range(kw):
            patch = xp[:, r * dh: r * dh + sh * (oh - 1) + 1: sh,
                       q * dw: q * dw + sw * (ow - 1) + 1: sw]
            out += patch @ kernel[r, q].astype(np.float64)
    if bias is not None:
        out += bias
    return np.maximum(out, 0.0) if relu else out
