"""CPU: convolution (1-D as 2-D of height 1, both data formats): the opcode,
the kernels, the step and the lowering.

Arrays are flat float32 views of the arenas; shapes arrive as ints. Channels
last, (B, H, W, C), is an implicit GEMM over the whole batch (gemm.py: no
patch buffer, the packed kernel's panels, bias and ReLU in registers), for
every stride, dilation and padding, or Winograd's F(2x2, 3x3) (winograd.py)
for the specialize-padding pass's `winograd` variant; a max pooling that
alone reads the GEMM's output runs in the same step (fusion.py,
conv_pool.py). Channels first, (B, C, H, W), runs per
sample on BLAS over im2col patches, or over the sample itself for the 1x1
`gemm` variant of the specialize-padding pass. A convolution of several groups
(depthwise ones too) has a kernel of its own (grouped_conv.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import lowering
from layerc.codegen.codes import ACT, VARIANT, VARIANTS
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu import fusion, winograd
from layerc.codegen.cpu.conv_pool import conv_max_pool
from layerc.codegen.cpu.gemm import gemm, pack, pack_bias
from layerc.codegen.cpu.ops.grouped_conv import lower_grouped
from layerc.codegen.cpu.kernels import JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import opcode, runs
from layerc.ir import Node, OpKind

# pool_h, pool_w: a max pooling taken into this step (fusion.py; 0: none),
# writing its output at `pooled`
CONV = opcode("conv", f"x w b y scratch {lowering.WINDOW_FIELDS} variant act pool_h pool_w "
              "pooled")
_C = CONV.cols


# ----- kernels -----
@njit(**JIT)
def im2col_first(x, col, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl):
    """Patches of one channels-first sample as rows (c, kh, kw) x (oh, ow)."""
    ohw = oh * ow
    for ch in range(c):
        plane = x[ch * h * w: (ch + 1) * h * w]
        for r in range(kh):
            for q in range(kw):
                dst = col[((ch * kh + r) * kw + q) * ohw: ((ch * kh + r) * kw + q + 1) * ohw]
                for i in range(oh):
                    y = i * sh - pt + r * dh
                    line = dst[i * ow: (i + 1) * ow]
                    if y < 0 or y >= h:
                        line[:] = 0.0
                        continue
                    for j in range(ow):
                        z = j * sw - pl + q * dw
                        line[j] = plane[y * w + z] if 0 <= z < w else 0.0


@njit(**JIT)
def conv_first(x, wf, bias, has_bias, y, scratch, batch, h, w, c, oh, ow, f, kh, kw, sh, sw,
               dh, dw, pt, pl, gemm_variant, act):
    """A channels-first 2-D convolution: per sample (F, K) x (K, OH*OW) on
    BLAS, with wf (F, K) and K ordered (c, kh, kw), over the patches of the
    sample (or the sample itself for the 1x1 `gemm_variant`)."""
    k = kh * kw * c
    ohw = oh * ow
    for b in range(batch):
        xb = x[b * c * h * w: (b + 1) * c * h * w]
        out = y[b * f * ohw: (b + 1) * f * ohw].reshape((f, ohw))
        if gemm_variant:
            np.dot(wf, xb.reshape((c, ohw)), out)
        else:
            im2col_first(xb, scratch, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)
            np.dot(wf, scratch[: k * ohw].reshape((k, ohw)), out)
        if has_bias:
            for ch in range(f):
                out[ch] += bias[ch]
    if act != ACT.linear:
        flat = y.reshape((y.size // ow, ow))
        activate(flat, flat, act)


# ----- the step -----
@runs(CONV)
@njit(**JIT)
def run_conv(r, weights, arena, state, batch):
    h, w, c, oh, ow, f = r[_C.h], r[_C.w_], r[_C.c], r[_C.oh], r[_C.ow], r[_C.f]
    kh, kw, act = r[_C.kh], r[_C.kw], r[_C.act]
    x, y, scratch = r[_C.x] * batch, r[_C.y] * batch, r[_C.scratch] * batch
    if r[_C.variant] == VARIANT.winograd:
        winograd.winograd(arena, x, batch, h, w, c, oh, ow, r[_C.pt], r[_C.pl], weights,
                          r[_C.w], r[_C.b], act == ACT.relu, arena, y, f)
    elif r[_C.first] == 0 and r[_C.pool_h] > 0:  # as below, pooled band by band
        arena[scratch: scratch + kw * c] = 0.0
        ph, pw = r[_C.pool_h], r[_C.pool_w]
        conv_max_pool(arena, x, batch, h, w, c, kh, kw, r[_C.sh], r[_C.sw], r[_C.dh], r[_C.dw],
                      r[_C.pt], r[_C.pl], scratch, weights, r[_C.w], r[_C.b], act == ACT.relu,
                      arena, r[_C.pooled] * batch, f, ph, pw, oh // ph, ow // pw)
    elif r[_C.first] == 0:  # an implicit GEMM; kw * c zeros in the scratch stand for the padding
        arena[scratch: scratch + kw * c] = 0.0
        gemm(arena, x, batch, h, w, c, oh, ow, kh, kw, r[_C.sh], r[_C.sw], r[_C.dh], r[_C.dw],
             r[_C.pt], r[_C.pl], scratch, weights, r[_C.w], r[_C.b], act == ACT.relu, arena, y,
             f)
    if r[_C.first] == 0:
        if act != ACT.linear and act != ACT.relu:
            out = arena[y: y + batch * oh * ow * f].reshape((batch * oh * ow, f))
            activate(out, out, act)
        return
    k = kh * kw * c
    b = max(r[_C.b], 0)
    conv_first(arena[x: x + h * w * c * batch], weights[r[_C.w]: r[_C.w] + k * f].reshape((f, k)),
               weights[b: b + f], r[_C.b] >= 0, arena[y: y + oh * ow * f * batch],
               arena[scratch:], batch, h, w, c, oh, ow, f, kh, kw, r[_C.sh], r[_C.sw],
               r[_C.dh], r[_C.dw], r[_C.pt], r[_C.pl], r[_C.variant] == VARIANT.gemm, act)


# ----- the lowering -----
@lowers(OpKind.CONV)
def lower_conv(e: Emitter, node: Node) -> None:
    if node.attrs.groups > 1:
        lower_grouped(e, node)  # a direct kernel of its own (grouped_conv.py)
        return
    g = lowering.window_operands(e, node)
    kh, kw, c, f = g["kh"], g["kw"], g["c"], g["f"]
    k = kh * kw * c
    variant = VARIANTS.index(node.attrs.variant) if node.attrs.variant else VARIANT.im2col
    bias_pack: lowering.Pack | None = None
    if g["first"] == 1:
        # (F, K) with K ordered (c, kh, kw), to match the patch rows of one sample
        kernel = e.weight(node.weights[0], pack=lambda v: np.ascontiguousarray(
            v.reshape(kh, kw, c, f).transpose(3, 2, 0, 1).reshape(f, k)))
        if variant in (VARIANT.direct, VARIANT.winograd):
            variant = VARIANT.im2col  # only channels last has these kernels
        scratch = e.scratch(g["oh"] * g["ow"] * k) if variant == VARIANT.im2col else 0
    elif not fusion.gemm_path(e, node):  # the Winograd variant on its 3x3 window
        kernel = e.weight(node.weights[0], pack=winograd.pack_kernel)
        bias_pack = pack_bias  # padded to whole panels
        scratch = 0  # the kernel's blocks are its own
    else:
        if variant == VARIANT.winograd:
            variant = VARIANT.im2col  # not a 3x3 stride-1 window after all
        # Keras's (kh, kw, c, f) is (K, F): packed into the GEMM's panels
        kernel = e.weight(node.weights[0], pack=lambda v: pack(v.reshape(k, f)))
        bias_pack = pack_bias
        scratch = e.scratch(kw * c)
    pool = fusion.pooled_by(e, node)
    p = lowering.window_operands(e, pool) if pool is not None else {"kh": 0, "kw": 0, "y": -1}
    e.instr(CONV, node, **lowering.weighted_window_operands(e, node, kernel, bias_pack),
            scratch=scratch, variant=variant, pool_h=p["kh"], pool_w=p["kw"], pooled=p["y"])
