"""CUDA: the core ops (dense, activation, copies, channel transposes, masking): their
kernels, launchers, and the lowerings of Dense and Activation (which add or
pick the row kernel for softmax; the others are shared: codegen/lowering.py)."""

from __future__ import annotations

import math
from typing import Any

from layerc.codegen import lowering
from layerc.codegen.codes import ACT, ROW_WISE_CODES
from layerc.codegen.cuda.emitter import Emitter
from layerc.codegen.cuda.kernels import (TILE, ZERO, act_scalar, cuda, float32, softmax_terms,
                                         sparsemax_tau)
from layerc.codegen.cuda.emitter import kernel
from layerc.codegen.cuda.launch import grid, launcher
from layerc.codegen.cuda.lower import lowers
from layerc.ir import Node, OpKind

DENSE = kernel("dense", "x w b y rows k n act")  # b: -1 when there is no bias
ACTIVATE = kernel("act", "x y size row act")
SOFTMAX = kernel("softmax", "x y size row act")  # softmax, log_softmax, sparsemax over rows
COPY = kernel("copy", "x y size")
TRANSPOSE_CS = kernel("transpose_cs", "x y channels spatial")  # (C, S) -> (S, C) per sample
MASKING = kernel("masking", "x y m steps features value")


# ----- kernels -----
@cuda.jit
def dense(x, xo, w, wo, bo, y, yo, m, k, n, act):
    """y[m, n] = act(x[m, k] @ w[k, n] + b), TILE x TILE outputs per block,
    the operands staged through shared memory a tile at a time."""
    xs = cuda.shared.array((TILE, TILE), float32)  # one shared array per line:
    ws = cuda.shared.array((TILE, TILE), float32)  # the simulator aliases two on one
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row = cuda.blockIdx.y * TILE + ty
    col = cuda.blockIdx.x * TILE + tx
    acc = ZERO
    for t in range((k + TILE - 1) // TILE):
        kx = t * TILE + tx
        xs[ty, tx] = x[xo + row * k + kx] if row < m and kx < k else ZERO
        kw = t * TILE + ty
        ws[ty, tx] = w[wo + kw * n + col] if kw < k and col < n else ZERO
        cuda.syncthreads()
        for i in range(TILE):
            acc += xs[ty, i] * ws[i, tx]
        cuda.syncthreads()
    if row < m and col < n:
        if bo >= 0:
            acc += w[bo + col]
        y[yo + row * n + col] = act_scalar(acc, act)


@cuda.jit
def activate(x, xo, y, yo, size, act):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = act_scalar(x[xo + i], act)


@cuda.jit
def softmax(x, xo, y, yo, rows, n, act):
    """softmax, log_softmax or sparsemax of each row of n values, a thread
    per row (x and y may be the same: a row's values are all read before any
    write)."""
    r = cuda.grid(1)
    if r >= rows:
        return
    base = xo + r * n
    if act == ACT.sparsemax:
        tau = sparsemax_tau(x, base, n)
        for i in range(n):
            v = x[base + i] - tau
            y[yo + r * n + i] = v if v > ZERO or math.isnan(v) else ZERO
        return
    top, total = softmax_terms(x, base, n)
    shift = top + math.log(total)
    for i in range(n):
        v = x[base + i]
        y[yo + r * n + i] = v - shift if act == ACT.log_softmax else math.exp(v - top) / total


@cuda.jit
def copy(x, xo, y, yo, size):
    for i in range(cuda.grid(1), size, cuda.gridsize(1)):
        y[yo + i] = x[xo + i]


@cuda.jit
def transpose_cs(x, xo, y, yo, total, channels, spatial):
    """Per sample, (C, S) -> (S, C); a thread per output value."""
    size = channels * spatial
    for i in range(cuda.grid(1), total, cuda.gridsize(1)):
        n = i // size
        r = i - n * size
        s = r // channels
        c = r - s * channels
        y[yo + i] = x[xo + n * size + c * spatial + s]


@cuda.jit
def masking(x, xo, y, yo, a, mo, rows, n, w, vo):
    """A thread per step: kept (mask 1, at a[mo + step]) where any feature
    differs from the mask value w[vo], else zeroed (mask 0)."""
    r = cuda.grid(1)
    if r >= rows:
        return
    keep = False
    for j in range(n):
        if x[xo + r * n + j] != w[vo]:
            keep = True
    a[mo + r] = float32(1.0) if keep else ZERO
    for j in range(n):
        y[yo + r * n + j] = x[xo + r * n + j] if keep else ZERO


# ----- launchers -----
@launcher(DENSE)
def _dense(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    m, n = o["rows"] * batch, o["n"]
    if m == 0:
        return
    blocks = (-(-n // TILE), -(-m // TILE))
    dense[blocks, (TILE, TILE)](arena, o["x"] * batch, weights, o["w"], o["b"], arena,
                                o["y"] * batch, m, o["k"], n, o["act"])


@launcher(ACTIVATE)
def _activate(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        activate[grid(size)](arena, o["x"] * batch, arena, o["y"] * batch, size, o["act"])


@launcher(SOFTMAX)
def _softmax(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    rows = o["size"] * batch // o["row"]
    if rows:
        softmax[grid(rows)](arena, o["x"] * batch, arena, o["y"] * batch, rows, o["row"],
                            o["act"])


@launcher(COPY)
def _copy(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        copy[grid(size)](arena, o["x"] * batch, arena, o["y"] * batch, size)


@launcher(TRANSPOSE_CS)
def _transpose(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["channels"] * o["spatial"] * batch
    if total:
        transpose_cs[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total,
                                  o["channels"], o["spatial"])


@launcher(MASKING)
def _masking(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    rows = o["steps"] * batch
    if rows:
        masking[grid(rows)](arena, o["x"] * batch, arena, o["y"] * batch, arena, o["m"] * batch,
                            rows, o["features"], weights, o["value"])


# ----- lowerings -----
def fused(act: int) -> int:
    """The activation a kernel applies as its epilogue: softmax and
    log_softmax need whole rows, so the kernel leaves them to `row_epilogue`."""
    return ACT.linear if act in ROW_WISE_CODES else act


def row_epilogue(e: Emitter, node: Node, y: int, size: int, row: int, act: int) -> None:
    """The row kernel after a kernel whose activation could not be fused."""
    if act in ROW_WISE_CODES:
        e.launch(SOFTMAX, node, x=y, y=y, size=size, row=row, act=act)


@lowers(OpKind.DENSE)
def lower_dense(e: Emitter, node: Node) -> None:
    """A tiled GEMM y = act(x @ w + b); w is (k, n), Keras's own layout, so it
    needs no packing."""
    kernel = e.weight(node.weights[0])
    operands = lowering.dense_operands(e, node)
    act = operands.pop("act")
    e.launch(DENSE, node, **operands, w=kernel, act=fused(act))
    row_epilogue(e, node, operands["y"], operands["rows"] * operands["n"], operands["n"], act)


@lowers(OpKind.ACTIVATION)
def lower_activation(e: Emitter, node: Node) -> None:
    """Softmax and log_softmax take the row kernel (a thread per row)."""
    operands = lowering.row_operands(e, node)
    e.launch(SOFTMAX if operands["act"] in ROW_WISE_CODES else ACTIVATE, node, **operands)
