"""A register-blocked GEMM over prepacked weight panels: the engine of Dense
and of channels-last convolution (an implicit GEMM: no im2col buffer).

C (M x N) = A (M x K) @ B (K x N), then bias and ReLU in registers.
- B is packed once, at lowering, into panels of NR = 2 vectors of columns:
  panel p holds B[:, p*NR:(p+1)*NR] row after row (K x NR, zero-padded past
  N), so the micro-kernel reads it with two vector loads per k.
- A's rows are never copied: a row is a list of `taps` runs of `run`
  contiguous floats of `src` (a Dense row: one run of K; a convolution's
  output pixel: one run of C input channels per kernel tap, or a run of
  zeros where the tap falls in the padding). The driver writes the MR rows'
  offsets of a tile into a small table, and the micro-kernel broadcasts
  src[offset + i] of each row against the panel's row.
- The micro-kernels (micro.py, generated source) hold an MR x NR tile in
  vector registers; a GEMM of one or two rows runs several panels per call
  (`wide`), which a single 1 x NR tile, bound by the FMA's latency, is not.
- Tiles are split over layerc's thread team (team.py) in one region,
  panel after panel when the packed weights are larger than L2 can keep,
  else row block after row block (the convolutions: their weights stay in
  cache and each tile's offsets serve every panel).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu import team
from layerc.codegen.cpu.kernels import FAST_JIT, plain
from layerc.codegen.cpu.micro import MR, NR, WIDE, tile, whole, wide

WIDE_1, WIDE_2 = WIDE[1], WIDE[2]  # constants for the kernels
# Weights at most this large (bytes) stay in L2 across row blocks.
L2_WEIGHTS = 256 * 1024
# Chunks of tiles per thread in a team region (team.py): up to this many, so
# that a thread whose core is busy elsewhere leaves its later chunks to the
# others, but one per CHUNK_FLOPS at most (taking a chunk costs a fraction
# of a microsecond: a batch-1 Dense(512) runs in one chunk per thread).
CHUNKS_PER_THREAD = 4
CHUNK_FLOPS = 1_000_000
# A GEMM of fewer FLOPs runs in the calling thread (the batch-1 Dense(10)
# after a 512-wide layer).
SERIAL_FLOPS = 200_000


def panels(n: int) -> int:
    """Panels of a packed kernel with n columns."""
    return -(-n // NR)


# For kernels; lowering calls the Python one (a call from Python into a jitted
# function would load Numba's registries: cache.load_signature).
npanels = njit(**FAST_JIT)(panels)


def pack(kernel: np.ndarray) -> np.ndarray:
    """(K, N) -> panels (ceil(N / NR), K, NR), flat, zero-padded past N."""
    k, n = kernel.shape
    out = np.zeros((panels(n), k, NR), np.float32)
    for p in range(panels(n)):
        cols = kernel[:, p * NR: (p + 1) * NR]
        out[p, :, : cols.shape[1]] = cols
    return out.reshape(-1)


def pack_bias(bias: np.ndarray) -> np.ndarray:
    out = np.zeros(panels(bias.shape[0]) * NR, np.float32)
    out[: bias.shape[0]] = bias
    return out


@njit(**FAST_JIT, inline="always")
def _next(b, i, j, oh, ow):
    """The output pixel after (b, i, j) of a (batch, oh, ow) grid."""
    j += 1
    if j == ow:
        j = 0
        i += 1
        if i == oh:
            i = 0
            b += 1
    return b, i, j


@plain
@njit(**FAST_JIT)
def _inside(offs, b, i, j, rows, x0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl):
    """_offsets when every row's window lies inside the image (every block of
    a 'valid' convolution, most of a 'same' one's): each row's first tap, then
    every other tap at a constant step from it. False, with offs half
    written, when some window is not inside. ~4 ns against ~33 for the general
    table (conv 28x28x1 -> 3x3x32: a row block of six pixels, 18 runs); that
    convolution at batch 64 on one thread: 839 -> 700 us (best of 10)."""
    inside = True
    for m in range(MR):
        y0, z0 = i * sh - pt, j * sw - pl
        inside &= y0 >= 0 and y0 + (kh - 1) * dh < h and z0 >= 0 and z0 + (kw - 1) * dw < w
        offs[m] = x0 + ((b * h + y0) * w + z0) * c
        if m < rows - 1:
            b, i, j = _next(b, i, j, oh, ow)
    if not inside:
        return False
    taps = 1 if dw == 1 else kw
    for r in range(kh):
        for q in range(taps):
            step = (r * dh * w + q * dw) * c
            if step:
                for m in range(MR):
                    offs[(r * taps + q) * MR + m] = offs[m] + step
    return True


@plain
@njit(**FAST_JIT)
def _offsets(offs, b, i, j, rows, x0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, zero):
    """Where each tap's run of each of a tile's rows starts in src: the first
    row is output pixel (b, i, j) of a (batch, oh, ow) grid, the next row the
    next pixel (no division: a tile of a few-channel convolution does little
    more arithmetic than this); rows past `rows` repeat the last.

    When every row's window lies inside the image across (dw = 1), a kernel
    row's kw taps are one contiguous run of kw * c floats, in the packed
    kernel's order too: then the table has kh runs per row (1 when every
    tap is), and the result is True. Rows may lie on two output rows."""
    if _inside(offs, b, i, j, rows, x0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl):
        return dw == 1
    merged = dw == 1
    jj = j
    for _ in range(min(rows, MR) if merged else 0):
        z0 = jj * sw - pl
        if z0 < 0 or z0 + kw > w:
            merged = False
            break
        jj = 0 if jj == ow - 1 else jj + 1
    taps = 1 if merged else kw
    for m in range(MR):
        y0 = i * sh - pt
        z0 = j * sw - pl
        for r in range(kh):
            y = y0 + r * dh
            inside = 0 <= y < h
            line = x0 + (b * h + y) * w * c
            for q in range(taps):
                z = z0 + q * dw
                offs[(r * taps + q) * MR + m] = line + z * c if inside and 0 <= z < w else zero
        if m < rows - 1:
            b, i, j = _next(b, i, j, oh, ow)
    return merged


@plain
@njit(**FAST_JIT)
def _interior(i, j, h, w, ow, kh, kw, sh, sw, dh, dw, pt, pl):
    """Whether the MR pixels from output pixel (i, j) lie in one output row
    and all their windows inside the image: then the next MR pixels' offsets
    are these plus MR * sw * c, with no table to build (a short reduction's
    tile costs little more than its table)."""
    y0, z0 = i * sh - pt, j * sw - pl
    return (j + MR <= ow and y0 >= 0 and y0 + (kh - 1) * dh < h and z0 >= 0
            and z0 + (MR - 1) * sw + (kw - 1) * dw < w)


@njit(**FAST_JIT)
def _bias(weights, b0, n):
    """The bias for `whole` and `tile` as (array, offset): the packed bias,
    or n zeros when there is none (b0 < 0), so the tile always adds one: a
    has_bias known only at run time costs the inlined tile a third of its
    time on a short reduction (conv 28x28x1 -> 3x3x32: 21.7 -> 16.2 us)."""
    if b0 >= 0:
        return weights, b0
    return np.zeros(n, np.float32), 0


@plain
@njit(**FAST_JIT)
def _table(offs, moved, taps, run, b, i, j, rows, x0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw,
           pt, pl, zero):
    """The offset table of the row block from output pixel (b, i, j), and its
    (taps, run): the previous block's table moved along the row when both
    are interior (`moved`: the previous one was, and this block is it moved
    MR pixels), else built (_offsets). A 1x1 kernel at stride 1 with no
    padding over whole image rows (a Dense; a pointwise convolution, not a
    band of one: conv_pool.py) reads consecutive rows of c floats: its table
    is one run per row, written without _offsets (built afresh for every
    tile of a panel-outer Dense, it took 7-10 % of a one-thread Dense
    72 x K @ K x 528, K = 784 and 256)."""
    if kh == 1 and kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0 and ow == w:
        g0 = (b * oh + i) * ow + j
        for m in range(MR):
            offs[m] = x0 + (g0 + min(m, rows - 1)) * c
        return 1, c
    if moved:
        for t in range(taps * MR):
            offs[t] += MR * sw * c
        return taps, run
    if _offsets(offs, b, i, j, rows, x0, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, zero):
        return kh, kw * c
    return kh * kw, c


@plain
@njit(**FAST_JIT)
def _few_rows(src, offs, taps, run, weights, w0, k, out, y0, ldc, rows, lo, hi, f, bias, bb,
              has_bias, relu):
    """Panels lo..hi of a row block of one or two rows (offs: its table):
    WIDE[rows] panels at a time (`wide`), the rest (and a last partial panel)
    one at a time."""
    q = WIDE_1 if rows == 1 else WIDE_2
    p = lo
    while p < hi:
        if p + q <= hi and (p + q) * NR <= f:
            wide(src, offs, taps, run, weights, w0 + p * k * NR, k * NR, out, y0 + p * NR, ldc,
                 rows, bias, bb + p * NR, has_bias, relu)
            p += q
        else:
            tile(src, offs, taps, run, weights, w0 + p * k * NR, out, y0 + p * NR, ldc, rows,
                 min(NR, f - p * NR), bias, bb + p * NR, has_bias, relu)
            p += 1


@plain
@njit(**FAST_JIT)
def _tiles(lo, hi, src, x0, batch, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, zero,
           weights, w0, b0, relu, out, y0, f, offs):
    """Tiles lo..hi of `gemm`, in order, in the calling thread: tile t is
    row block t // panels, panel t % panels (or panel t // blocks, row block
    t % blocks when the panels are walked outermost). The row block's first
    pixel (b, i, j) moves MR pixels at a time, without division, and an
    interior block's offsets are the previous block's moved along the row
    when that one was interior too (_table). `offs`: kh * kw * MR ints of
    scratch for the tables, allocated once per thread by the caller."""
    m = batch * oh * ow
    k = kh * kw * c
    blocks = -(-m // MR)
    npanels = -(-f // NR)
    panel_outer = k * npanels * NR * 4 > L2_WEIGHTS
    bias, bb = _bias(weights, b0, npanels * NR)
    if m <= 2:  # one row block, its tiles the panels lo..hi
        taps, run = _table(offs, False, 0, 0, 0, 0, 0, m, x0, h, w, c, oh, ow, kh, kw, sh, sw,
                           dh, dw, pt, pl, zero)
        _few_rows(src, offs, taps, run, weights, w0, k, out, y0, f, m, lo, hi, f, bias, bb,
                  True, relu)
        return
    if panel_outer:
        p, blk = lo // blocks, lo % blocks
    else:
        blk, p = lo // npanels, lo % npanels
    g0 = blk * MR
    b = g0 // (oh * ow)
    i = (g0 - b * oh * ow) // ow
    j = g0 - (b * oh + i) * ow
    fresh = True
    taps, run = 0, 0
    linear = False  # whether offs holds an interior row block (_interior)
    moved = False  # whether the row block is the previous one moved MR pixels along its row
    for _ in range(lo, hi):
        rows = min(MR, m - g0)
        if fresh:
            inner = rows == MR and _interior(i, j, h, w, ow, kh, kw, sh, sw, dh, dw, pt, pl)
            taps, run = _table(offs, inner and linear and moved, taps, run, b, i, j, rows, x0,
                               h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, zero)
            linear = inner
        at = y0 + g0 * f + p * NR
        wp = w0 + p * k * NR
        if rows == MR and (p + 1) * NR <= f:
            whole(src, offs, taps, run, weights, wp, out, at, f, bias, bb + p * NR, True, relu)
        else:
            tile(src, offs, taps, run, weights, wp, out, at, f, rows, min(NR, f - p * NR), bias,
                 bb + p * NR, True, relu)
        # the next tile
        step = True  # whether the row block advances
        if not panel_outer:
            p += 1
            step = p == npanels
            if step:
                p = 0
        fresh = step or panel_outer
        if step:
            blk += 1
            g0 += MR
            j += MR
            moved = j < ow
            while j >= ow:
                j -= ow
                i += 1
                if i == oh:
                    i = 0
                    b += 1
            if panel_outer and blk == blocks:  # the next panel, from the first row block
                blk, g0, b, i, j = 0, 0, 0, 0, 0
                p += 1
                moved = False


@njit(**FAST_JIT)
def chunks_for(units, flops):
    """Chunks of a region of `units` work units and `flops` FLOPs on the
    calling thread's team: 1 (run alone) when the work is too small."""
    threads = team.size()
    if threads <= 1 or flops < SERIAL_FLOPS:
        return 1
    per = max(1, min(CHUNKS_PER_THREAD, flops // (threads * CHUNK_FLOPS)))
    return max(1, min(units, per * threads))


@plain
@njit(**FAST_JIT)
def _split(tiles, chunks, src, x0, batch, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl,
           zero, weights, w0, b0, relu, out, y0, f):
    """The tiles in `chunks` chunks, a team region (team.py)."""
    role = team.open_region(chunks)
    offs = np.empty(kh * kw * MR, np.int64)
    ci = team.grab(role, chunks, -1)
    while ci >= 0:
        _tiles(ci * tiles // chunks, (ci + 1) * tiles // chunks, src, x0, batch, h, w, c, oh,
               ow, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0, b0, relu, out, y0, f, offs)
        ci = team.grab(role, chunks, ci)
    team.close(role, chunks)


@plain
@njit(**FAST_JIT)
def gemm(src, x0, batch, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, zero, weights,
         w0, b0, relu, out, y0, f):
    """out[y0:] (batch*oh*ow, f) = patches of src (channels last, from x0) @
    the kernel packed at weights[w0:] (`pack`), plus the bias packed at
    weights[b0:] (`pack_bias`; b0 < 0: none), through a ReLU if `relu`.
    `zero`: where kw * c zeros lie in src, read for taps in the padding. A
    Dense is the 1x1 case: h = w = oh = ow = 1, c = K. The tiles are split
    over layerc's thread team in one region (`chunks_for`: contiguous runs of
    tiles, taken as threads come free), unless there is too little work."""
    m = batch * oh * ow
    tiles = -(-m // MR) * -(-f // NR)
    _split(tiles, chunks_for(tiles, 2 * m * kh * kw * c * f), src, x0, batch, h, w, c, oh, ow,
           kh, kw, sh, sw, dh, dw, pt, pl, zero, weights, w0, b0, relu, out, y0, f)


@plain
@njit(**FAST_JIT)
def dense_rows(src, x0, rows, k, weights, w0, out, y0, ldc, n, offs):
    """out[y0 + i*ldc:][:n] = src[x0 + i*k:][:k] @ the kernel packed at
    weights[w0:], for i < rows, in the calling thread (the per-step product
    of a recurrent layer, inside its own team region). offs: MR ints."""
    for g0 in range(0, rows, MR):
        r = min(MR, rows - g0)
        for m in range(MR):
            offs[m] = x0 + (g0 + min(m, r - 1)) * k
        if r <= 2:
            _few_rows(src, offs, 1, k, weights, w0, k, out, y0 + g0 * ldc, ldc, r, 0, npanels(n),
                      n, weights, 0, False, False)
            continue
        for p in range(npanels(n)):
            wp, at = w0 + p * k * NR, y0 + g0 * ldc + p * NR
            if r == MR and (p + 1) * NR <= n:
                whole(src, offs, 1, k, weights, wp, out, at, ldc, weights, 0, False, False)
            else:
                tile(src, offs, 1, k, weights, wp, out, at, ldc, r, min(NR, n - p * NR),
                     weights, 0, False, False)
