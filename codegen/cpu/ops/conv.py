"""CPU: convolution (1-D as 2-D of height 1, 3-D as 2-D per output depth
slice, both data formats): the opcode, the kernels, the step and the lowering.

Arrays are flat float32 views of the arenas; shapes arrive as ints. Channels
last, (B, H, W, C), is an implicit GEMM over the whole batch (gemm.py: no
patch buffer, the packed kernel's panels, bias and ReLU in registers), for
every stride, dilation and padding (a 3-D one over its depth taps laid side by
side per output slice: depth_taps), or Winograd's F(2x2, 3x3) (winograd.py)
for the specialize-padding pass's `winograd` variant; a max pooling that
alone reads the GEMM's output runs in the same step (fusion.py,
conv_pool.py), as does a 2x2 one after Winograd (in its output transform).
Channels first, (B, C, H, W), runs per sample on BLAS over im2col patches, or
over the sample itself for the 1x1 `gemm` variant of the specialize-padding
pass. A convolution of several groups (depthwise ones too) has a kernel of its
own (grouped_conv.py), and a 1x1 convolution that alone reads a depthwise one
runs in its step (fusion.py, separable.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen import lowering
from layerc.codegen import windows
from layerc.codegen.codes import ACT, VARIANT, VARIANTS
from layerc.codegen.cpu.emitter import Emitter
from layerc.codegen.cpu import fusion, team, winograd
from layerc.codegen.cpu.conv_pool import conv_max_pool
from layerc.codegen.cpu.gemm import gemm, pack, pack_bias
from layerc.codegen.cpu.ops.grouped_conv import lower_grouped
from layerc.codegen.cpu.ops.separable import lower_separable
from layerc.codegen.cpu.kernels import JIT, activate
from layerc.codegen.cpu.lower import lowers
from layerc.codegen.cpu.opcodes import arena, need, opcode, runs, scratch, touches, weights, window
from layerc.ir import Node, OpKind

# pool_h, pool_w: a max pooling taken into this step (fusion.py; 0: none),
# writing its output at `pooled`
CONV = opcode("conv", f"x w b y scratch {windows.WINDOW_FIELDS} {windows.DEPTH_FIELDS} "
              "variant act pool_h pool_w pooled")
_C = CONV.cols


@touches(CONV)
def _conv_touches(r):
    """The packed kernel's layout is the variant's: it must start a stored
    weight. With a fused max pooling only the pooled output is written. The
    Winograd kernel and a channels-first GEMM use no scratch."""
    if r.pool_h > 0:
        need(r.pool_w >= 1 and r.first == 0, "a pooling without width, or channels first")
        regions = window(r, None) + arena(
            r, "pooled", r.od * (r.oh // r.pool_h) * (r.ow // r.pool_w) * r.f)
    else:
        regions = window(r)
    direct = r.variant == VARIANT.winograd or (r.first == 1 and r.variant != VARIANT.im2col)
    return regions + weights(r, "w") + weights(r, "b") + ([] if direct else scratch(r))


# ----- kernels -----
@njit(**JIT)
def im2col_first(x, col, d, h, w, c, od, oh, ow, kd, kh, kw, sd, sh, sw, dd, dh, dw, pf, pt,
                 pl):
    """Patches of one channels-first sample as rows (c, kd, kh, kw) x (od, oh,
    ow) (a 2-D convolution is the depth-1 case)."""
    ohw = oh * ow
    cells = od * ohw
    for ch in range(c):
        for rd in range(kd):
            for r in range(kh):
                for q in range(kw):
                    row = ((ch * kd + rd) * kh + r) * kw + q
                    dst = col[row * cells: (row + 1) * cells]
                    for k in range(od):
                        z = k * sd - pf + rd * dd
                        if z < 0 or z >= d:
                            dst[k * ohw: (k + 1) * ohw] = 0.0
                            continue
                        plane = x[(ch * d + z) * h * w: (ch * d + z + 1) * h * w]
                        _patch_rows(plane, dst[k * ohw: (k + 1) * ohw], h, w, oh, ow, r, q, sh,
                                    sw, dh, dw, pt, pl)


@njit(**JIT)
def _patch_rows(plane, dst, h, w, oh, ow, r, q, sh, sw, dh, dw, pt, pl):
    """dst (oh x ow) = what kernel tap (r, q) sees of one channel plane."""
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
def conv_first(x, wf, bias, has_bias, y, scratch, batch, d, h, w, c, od, oh, ow, f, kd, kh, kw,
               sd, sh, sw, dd, dh, dw, pf, pt, pl, gemm_variant, act):
    """A channels-first 2-D or 3-D convolution: per sample (F, K) x (K,
    OD*OH*OW) on BLAS, with wf (F, K) and K ordered (c, kd, kh, kw), over the
    patches of the sample (or the sample itself for the 1x1 `gemm_variant`)."""
    k = kd * kh * kw * c
    ohw = od * oh * ow
    size = c * d * h * w
    for b in range(batch):
        xb = x[b * size: (b + 1) * size]
        out = y[b * f * ohw: (b + 1) * f * ohw].reshape((f, ohw))
        if gemm_variant:
            np.dot(wf, xb.reshape((c, ohw)), out)
        else:
            im2col_first(xb, scratch, d, h, w, c, od, oh, ow, kd, kh, kw, sd, sh, sw, dd, dh,
                         dw, pf, pt, pl)
            np.dot(wf, scratch[: k * ohw].reshape((k, ohw)), out)
        if has_bias:
            for ch in range(f):
                out[ch] += bias[ch]
    if act != ACT.linear:
        flat = y.reshape((y.size // ow, ow))
        activate(flat, flat, act)


@njit(**JIT)
def depth_taps(src, x0, batch, d, plane, c, od, kd, sd, dd, pf, dst, at):
    """dst[at:] (batch * od, plane, kd * c) = for each output depth, its kd
    depth taps' slices of the channels-last input (batch, d, plane, c) side
    by side per pixel (zeros in the depth padding): a 3-D convolution's
    output slice is then a 2-D one over these kd * c channels."""
    run = kd * c
    for b in range(batch):
        for k in range(od):
            base = at + (b * od + k) * plane * run
            for rd in range(kd):
                z = k * sd - pf + rd * dd
                inside = 0 <= z < d
                first = x0 + (b * d + z) * plane * c
                for p in range(plane):
                    out = dst[base + p * run + rd * c: base + p * run + (rd + 1) * c]
                    if inside:
                        out[:] = src[first + p * c: first + (p + 1) * c]
                    else:
                        out[:] = 0.0


# ----- the step -----
@runs(CONV)
@njit(**JIT)
def run_conv(r, weights, arena, state, batch):
    """The GEMM, Winograd and conv + pool kernels run in team regions; what
    the step writes outside them, the team's owner writes (team.py)."""
    lead = team.lead()
    h, w, c, oh, ow, f = r[_C.h], r[_C.w_], r[_C.c], r[_C.oh], r[_C.ow], r[_C.f]
    d, od, kd = r[_C.d_], r[_C.od], r[_C.kd]
    kh, kw, act = r[_C.kh], r[_C.kw], r[_C.act]
    x, y, scratch = r[_C.x] * batch, r[_C.y] * batch, r[_C.scratch] * batch
    if r[_C.variant] == VARIANT.winograd:  # a fused pooling's windows are 2x2 (fusion.py)
        pool = r[_C.pool_h] > 0
        winograd.winograd(arena, x, batch, h, w, c, oh, ow, r[_C.pt], r[_C.pl], weights,
                          r[_C.w], r[_C.b], act == ACT.relu, arena,
                          r[_C.pooled] * batch if pool else y, f, pool)
    elif r[_C.first] == 0 and r[_C.pool_h] > 0:  # as below, pooled band by band
        if lead:
            arena[scratch: scratch + kw * c] = 0.0
        ph, pw = r[_C.pool_h], r[_C.pool_w]
        conv_max_pool(arena, x, batch, h, w, c, kh, kw, r[_C.sh], r[_C.sw], r[_C.dh], r[_C.dw],
                      r[_C.pt], r[_C.pl], scratch, weights, r[_C.w], r[_C.b], act == ACT.relu,
                      arena, r[_C.pooled] * batch, f, ph, pw, oh // ph, ow // pw)
    elif r[_C.first] == 0:  # an implicit GEMM; kw * c zeros in the scratch stand for the padding
        src, planes, cc = x, batch, c
        if d > 1 or kd > 1:  # 3-D: each output depth slice a 2-D convolution (depth_taps)
            planes, cc = batch * od, kd * c
            src = scratch + kw * cc
            if lead:
                depth_taps(arena, x, batch, d, h * w, c, od, kd, r[_C.sd], r[_C.dd], r[_C.pf],
                           arena, src)
        if lead:
            arena[scratch: scratch + kw * cc] = 0.0
        gemm(arena, src, planes, h, w, cc, oh, ow, kh, kw, r[_C.sh], r[_C.sw], r[_C.dh],
             r[_C.dw], r[_C.pt], r[_C.pl], scratch, weights, r[_C.w], r[_C.b], act == ACT.relu,
             arena, y, f)
    if r[_C.first] == 0 or not lead:
        if act != ACT.linear and act != ACT.relu and lead:
            out = arena[y: y + batch * od * oh * ow * f].reshape((batch * od * oh * ow, f))
            activate(out, out, act)
        return
    k = kd * kh * kw * c
    b = max(r[_C.b], 0)
    conv_first(arena[x: x + d * h * w * c * batch],
               weights[r[_C.w]: r[_C.w] + k * f].reshape((f, k)), weights[b: b + f],
               r[_C.b] >= 0, arena[y: y + od * oh * ow * f * batch], arena[scratch:], batch, d,
               h, w, c, od, oh, ow, f, kd, kh, kw, r[_C.sd], r[_C.sh], r[_C.sw], r[_C.dd],
               r[_C.dh], r[_C.dw], r[_C.pf], r[_C.pt], r[_C.pl], r[_C.variant] == VARIANT.gemm,
               act)


# ----- the lowering -----
@lowers(OpKind.CONV)
def lower_conv(e: Emitter, node: Node) -> None:
    if node.attrs.groups > 1:
        pointwise = fusion.pointwise_after(e, node)
        if pointwise is not None:  # one step with the 1x1 convolution after it
            lower_separable(e, node, pointwise)
        else:
            lower_grouped(e, node)  # a direct kernel of its own (grouped_conv.py)
        return
    if fusion.fused_pointwise(e, node):
        return  # its depthwise convolution's step computes it (separable.py)
    g = windows.window_operands(e, node, depth=True)
    kd, kh, kw, c, f = g["kd"], g["kh"], g["kw"], g["c"], g["f"]
    k = kd * kh * kw * c
    variant = VARIANTS.index(node.attrs.variant) if node.attrs.variant else VARIANT.im2col
    bias_pack: lowering.Pack | None = None
    if g["first"] == 1:
        # (F, K) with K ordered (c, kd, kh, kw), to match the patch rows of one sample
        kernel = e.weight(node.weights[0], pack=lambda v: np.ascontiguousarray(
            v.reshape(kd, kh, kw, c, f).transpose(4, 3, 0, 1, 2).reshape(f, k)))
        if variant in (VARIANT.direct, VARIANT.winograd):
            variant = VARIANT.im2col  # only channels last has these kernels
        scratch = e.scratch(g["od"] * g["oh"] * g["ow"] * k) if variant == VARIANT.im2col \
            else 0
    elif not fusion.gemm_path(e, node):  # the Winograd variant on its 3x3 window
        kernel = e.weight(node.weights[0], pack=winograd.pack_kernel)
        bias_pack = pack_bias  # padded to whole panels
        scratch = 0  # the kernel's blocks are its own
    else:
        if variant == VARIANT.winograd:
            variant = VARIANT.im2col  # not a 3x3 stride-1 window after all
        # Keras's (kd, kh, kw, c, f) as the GEMM's (K, F), K ordered (kh, kw, kd, c) as
        # depth_taps lays a 3-D input out (2-D: kd = 1), packed into the GEMM's panels
        kernel = e.weight(node.weights[0], pack=lambda v: pack(np.ascontiguousarray(
            v.reshape(kd, kh, kw, c, f).transpose(1, 2, 0, 3, 4)).reshape(k, f)))
        bias_pack = pack_bias
        three = g["d_"] > 1 or kd > 1
        scratch = e.scratch(kw * kd * c + (g["od"] * g["h"] * g["w_"] * kd * c if three else 0))
    pool = fusion.pooled_by(e, node)
    p = windows.window_operands(e, pool) if pool is not None else {"kh": 0, "kw": 0, "y": -1}
    e.instr(CONV, node, **windows.weighted_window_operands(e, node, kernel, bias_pack,
                                                            depth=True),
            scratch=scratch, variant=variant, pool_h=p["kh"], pool_w=p["kw"], pooled=p["y"])
