"""CPU: a depthwise convolution and the 1x1 convolution that alone reads it
(a SeparableConv's two halves, or a MobileNet block's depthwise and
projection layers; fusion.py decides when) in one step: the output rows are
cut into bands; a thread runs a band's depthwise rows (grouped_conv.py's
kernel) into a buffer of its own, then the pointwise GEMM (gemm.py, the
band's pixels as rows: a Dense) from that buffer into the output. The
depthwise output never leaves the cache.

It pays little on this 2-core AMD EPYC (one thread, best of 20 alternating
runs): SeparableConv2D 32x32x64 -> 128 'same' at batch 16 5.63 -> 5.37 ms,
16x16x128 -> 256 at batch 64 17.8 -> 17.0 ms, 56x56x32 -> 64 at batch 8
3.21 -> 3.18 ms: the pointwise GEMM is most of the time, and the unfused
intermediate streams well.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import lowering
from layerc.codegen import windows
from layerc.codegen.codes import ACT
from layerc.codegen.cpu.conv_pool import BAND_FLOATS
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu.gemm import (CHUNKS_PER_THREAD, MR, NR, SERIAL_FLOPS, _tiles, pack,
                                     pack_bias)
from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, JIT
from layerc.codegen.cpu.ops.grouped_conv import depthwise_rows
from layerc.codegen.cpu.opcodes import need, opcode, runs, touches, weights, window
from layerc.ir import Node

# x, w, b and the WINDOW_FIELDS: the depthwise convolution's (f = c), act its
# activation; pw, pb, pf, pact: the pointwise kernel (packed), bias (packed;
# -1: none), filters and activation (linear or ReLU); y: the pointwise output
SEPARABLE = opcode("separable_conv", f"x w b y {windows.WINDOW_FIELDS} act pw pb pf pact")
_S = SEPARABLE.cols


@touches(SEPARABLE)
def _separable_touches(r):
    need(r.pf >= 1, f"{r.pf} pointwise filters")
    return (window(r, f=r.pf) + weights(r, "w") + weights(r, "b") + weights(r, "pw")
            + weights(r, "pb"))


@njit(**FAST_JIT)
def _bands(lo, hi, band, rows, x, weights, w0, b0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw,
           pt, pl, act, pw, pb, pf, relu, out, y0, buf, offs):
    """Bands lo..hi of `band` output rows each (the last fewer)."""
    for u in range(lo, hi):
        r0 = u * band
        r1 = min(rows, r0 + band)
        depthwise_rows(x, buf, weights, w0, b0, r0, r1, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw,
                       pt, pl, act, r0)
        pixels = (r1 - r0) * ow
        _tiles(0, -(-pixels // MR) * -(-pf // NR), buf, 0, pixels, 1, 1, c, 1, 1, 1, 1, 1, 1,
               1, 1, 0, 0, 0, weights, pw, pb, relu, out, y0 + r0 * ow * pf, pf, offs)


@njit(**FAST_JIT)
def _split(bands, chunks, band, rows, x, weights, w0, b0, h, w, c, oh, ow, kh, kw, sh, sw, dh,
           dw, pt, pl, act, pw, pb, pf, relu, out, y0):
    role = team.open_region(chunks)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        _bands(ci * bands // chunks, (ci + 1) * bands // chunks, band, rows, x, weights, w0, b0,
               h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, act, pw, pb, pf, relu, out, y0,
               np.empty(band * ow * c, np.float32), np.empty(MR, np.int64))
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@runs(SEPARABLE)
@njit(**JIT)
def run_separable_conv(r, weights, arena, state, batch):
    """A band holds as many output rows as BAND_FLOATS allow; with fewer than
    CHUNKS_PER_THREAD bands per thread, fewer rows, down to one."""
    h, w, c, oh, ow, pf = r[_S.h], r[_S.w_], r[_S.c], r[_S.oh], r[_S.ow], r[_S.pf]
    x = arena[r[_S.x] * batch: (r[_S.x] + h * w * c) * batch]
    rows = batch * oh
    threads = team.size()
    want = CHUNKS_PER_THREAD * threads if threads > 1 else 1
    band = max(1, min(rows, BAND_FLOATS // (ow * c)))
    if -(-rows // band) < want:
        band = -(-rows // min(rows, want))
    bands = -(-rows // band)
    chunks = min(bands, want) if 2 * rows * ow * c * pf >= SERIAL_FLOPS else 1
    window = (h, w, c, oh, ow, r[_S.kh], r[_S.kw], r[_S.sh], r[_S.sw], r[_S.dh], r[_S.dw],
              r[_S.pt], r[_S.pl], r[_S.act], r[_S.pw], r[_S.pb], pf, r[_S.pact] == ACT.relu,
              arena, r[_S.y] * batch)
    if chunks > 1:
        _split(bands, chunks, band, rows, x, weights, r[_S.w], r[_S.b], *window)
    elif team.lead():
        _bands(0, bands, band, rows, x, weights, r[_S.w], r[_S.b], *window,
               np.empty(band * ow * c, np.float32), np.empty(MR, np.int64))


def lower_separable(e: Emitter, node: Node, pointwise: Node) -> None:
    """`node` the depthwise convolution, its kernel as Keras stores it (kh,
    kw, 1, c); `pointwise` the 1x1 convolution, its kernel (1, 1, c, f)
    packed into the GEMM's panels."""
    operands = windows.weighted_window_operands(e, node, e.weight(node.weights[0]))
    operands["y"] = e.offset(pointwise.port())
    kernel = e.weight(pointwise.weights[0],
                      pack=lambda v: pack(np.ascontiguousarray(v.reshape(v.shape[-2:]))))
    e.instr(SEPARABLE, node, **operands, pw=kernel,
            pb=lowering.bias(e, pointwise, pack_bias),
            pf=windows.window_operands(e, pointwise)["f"],
            pact=lowering.act(pointwise.attrs.activation))
