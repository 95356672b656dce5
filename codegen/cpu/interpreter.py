"""The plan interpreter: one cached njit function that runs a whole model.

A model's program is data (an int64 plan and two float32 arenas), so after
this function and the kernels are compiled once per machine, compiling any
model costs no Numba compilation at all, whatever its depth, and a predict
crosses from Python into native code once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerc.codegen.cpu import kernels, kernels_rnn, kernels_spatial
from layerc.codegen.cpu.opcodes import (ACT, BINARY, CONCAT, CONV, COPY, DENSE, GATHER,
                                        GLOBAL_POOL, LOCAL, POOL, RECURRENT, SCALE,
                                        TRANSPOSE_CS)


@njit(**kernels.JIT)
def run_plan(plan: np.ndarray, weights: np.ndarray, arena: np.ndarray, state: np.ndarray,
             batch: int) -> None:
    for i in range(plan.shape[0]):
        r = plan[i]
        op = r[0]
        if op == DENSE:
            rows, k, n = r[5] * batch, r[6], r[7]
            x = arena[r[1] * batch: r[1] * batch + rows * k].reshape((rows, k))
            w = weights[r[2]: r[2] + k * n].reshape((n, k))
            bias = weights[max(r[3], 0): max(r[3], 0) + n]
            y = arena[r[4] * batch: r[4] * batch + rows * n].reshape((rows, n))
            kernels.dense(x, w, bias, r[3] >= 0, y, r[8])
        elif op == ACT:
            size, row = r[3] * batch, r[4]
            x = arena[r[1] * batch: r[1] * batch + size].reshape((size // row, row))
            y = arena[r[2] * batch: r[2] * batch + size].reshape((size // row, row))
            kernels.activate(x, y, r[5])
        elif op == COPY:
            size = r[3] * batch
            arena[r[2] * batch: r[2] * batch + size] = arena[r[1] * batch: r[1] * batch + size]
        elif op == BINARY:
            size = r[4] * batch
            kernels.binary(arena[r[1] * batch: r[1] * batch + size],
                           arena[r[2] * batch: r[2] * batch + size],
                           arena[r[3] * batch: r[3] * batch + size], r[5])
        elif op == SCALE:
            size, factor = r[3] * batch, weights[r[4]]
            x = arena[r[1] * batch: r[1] * batch + size]
            y = arena[r[2] * batch: r[2] * batch + size]
            for j in range(size):
                y[j] = x[j] * factor
        elif op == CONCAT:
            outer, inner, stride = r[3] * batch, r[4], r[5]
            kernels.concat_part(arena[r[1] * batch: r[1] * batch + outer * inner],
                                arena[r[2] * batch: r[2] * batch + outer * stride],
                                outer, inner, stride, r[6])
        elif op == TRANSPOSE_CS:
            size = r[3] * r[4] * batch
            kernels.transpose_cs(arena[r[1] * batch: r[1] * batch + size],
                                 arena[r[2] * batch: r[2] * batch + size], batch, r[3], r[4])
        elif op == CONV or op == LOCAL:
            h, w, c, oh, ow, f, kh, kw = r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13]
            k = kh * kw * c
            x = arena[r[1] * batch: (r[1] + h * w * c) * batch]
            y = arena[r[4] * batch: (r[4] + oh * ow * f) * batch]
            scratch = arena[r[5] * batch:]
            if op == CONV:
                kernels_spatial.conv(x, weights[r[2]: r[2] + k * f],
                                     weights[max(r[3], 0): max(r[3], 0) + f], r[3] >= 0, y,
                                     scratch, batch, h, w, c, oh, ow, f, kh, kw, r[14], r[15],
                                     r[16], r[17], r[18], r[19], r[20] == 1, r[21], r[22])
            else:
                positions = oh * ow
                kernels_spatial.local(x, weights[r[2]: r[2] + positions * k * f],
                                      weights[max(r[3], 0): max(r[3], 0) + positions * f],
                                      r[3] >= 0, y, scratch, batch, h, w, c, oh, ow, f, kh, kw,
                                      r[14], r[15], r[16] == 1, r[17])
        elif op == GATHER:
            count, dim = r[4] * batch, r[5]
            table = weights[r[2]: r[2] + r[6] * dim]
            indices = arena[r[1] * batch: r[1] * batch + count]
            kernels.gather(indices, table, arena[r[3] * batch: r[3] * batch + count * dim], dim)
            if r[7] >= 0:
                kernels.nonzero(indices, arena[r[7] * batch: r[7] * batch + count])
        elif op == RECURRENT:
            features, units, gates = r[16], r[17], kernels_rnn.GATE_COUNT[r[18]]
            g = gates * units
            bias_size = 0 if r[4] < 0 else (2 * g if r[18] == kernels_rnn.GRU and r[21] == 1
                                             else g)
            kernels_rnn.run(arena, weights, state, batch, r[1] * batch,
                            weights[r[2]: r[2] + features * g], weights[r[3]: r[3] + units * g],
                            weights[max(r[4], 0): max(r[4], 0) + bias_size], r[5] * batch,
                            r[6] * batch, r[7] * batch if r[7] >= 0 else -1, r[8], r[9] * batch,
                            r[10] * batch, r[11] == 1, r[12] * batch, r[13] * batch,
                            r[14] * batch if r[14] >= 0 else -1, r[15], features, units, r[18],
                            r[19], r[20], r[21] == 1, r[22] == 1, r[23] == 1)
        elif op == POOL:
            h, w, c, oh, ow = r[3], r[4], r[5], r[6], r[7]
            kernels_spatial.pool(arena[r[1] * batch: (r[1] + h * w * c) * batch],
                                 arena[r[2] * batch: (r[2] + oh * ow * c) * batch], batch,
                                 h, w, c, oh, ow, r[8], r[9], r[10], r[11], r[12], r[13],
                                 r[14] == 1, r[15] == 1)
        elif op == GLOBAL_POOL:
            spatial, c = r[3], r[4]
            mask = arena[r[7] * batch: (r[7] + spatial) * batch] if r[7] >= 0 else arena[:0]
            kernels_spatial.global_pool(arena[r[1] * batch: (r[1] + spatial * c) * batch],
                                        arena[r[2] * batch: (r[2] + c) * batch], batch,
                                        spatial, c, r[5] == 1, r[6] == 1, mask)


@njit(**kernels.JIT)
def run_model(plan: np.ndarray, weights: np.ndarray, arena: np.ndarray, state: np.ndarray,
              batch: int, in_offsets: np.ndarray, inputs: tuple, out_offsets: np.ndarray,
              outputs: tuple) -> None:
    """Copies the inputs into the arena, runs the plan, copies the outputs out:
    one crossing into native code per predict. `state` holds the states of
    stateful layers between calls. Inputs and outputs are flat
    (tuples of 1-D arrays, so one compiled version serves every shape)."""
    for i in range(len(inputs)):
        x = inputs[i]
        start = in_offsets[i] * batch
        arena[start: start + x.size] = x
    run_plan(plan, weights, arena, state, batch)
    for i in range(len(outputs)):
        y = outputs[i]
        start = out_offsets[i] * batch
        y[:] = arena[start: start + y.size]
