"""The GEMM's micro-kernels (gemm.py), as generated source: each holds a tile
of the output in named vector locals, so that Numba keeps it in registers
(NUMBA_NOTES.md).

- `whole`: an MR x NR tile (MR = 8 with AVX-512: 16 accumulators of 16
  floats; 6 with AVX2: 12 of 8, the most that leaves room for the two panel
  vectors and a broadcast), inlined into its caller.
- `tile`: any tile, an edge's too (fewer rows: the smallest kernel with
  enough rows, its spare rows repeating the last; fewer columns: a partial
  store), one compiled function every caller shares (each inlined copy
  costs seconds of the library's build).
- `wide`: one or two rows across WIDE[rows] whole panels at once.

A tile's rows are `taps` runs of `run` contiguous floats of `src` each,
starting where the caller's offset table says (gemm.py); the micro-kernel
broadcasts src[offset + i] of each row against the panel's row i. Bias and
ReLU are applied in registers before the one store.
"""

from __future__ import annotations

from layerc.codegen.cpu import simd
from layerc.codegen.cpu.cache import SOURCE_HASH, generated_module
from layerc.codegen.cpu.kernels import plain

W = simd.WIDTH
NR = 2 * W  # columns per panel
MR = 8 if simd.AVX512 else 6  # rows per tile
ROWS = tuple(sorted({1, 2, 4, MR}))  # the row counts with a kernel of their own
# Steps of the reduction per trip of the micro-kernel's loop: four gave a
# one-thread Dense 72x784 @ 784x528 0-11 % over one (paired interleaved
# rounds, the most when the host was busy).
UNROLL = 4
# Panels per call of the kernel for one or two rows (`wide`): a 1 x NR tile
# alone is two chains of dependent FMAs, bound by the FMA's latency (a
# batch-1 LSTM(128) step, a 128 x 512 product: ~9 us); four panels side by
# side give eight chains (three give a two-row tile twelve).
WIDE = {1: 4, 2: 3}


def _step_source(rows: int, steps: int, pad: str) -> list[str]:
    """`steps` steps of the reduction, indented by `pad`: for each, the
    panel's row k + u and each tile row's float i + u, multiplied and added
    into the tile."""
    lines = []
    for u in range(steps):
        lines += [f"{pad}b0 = vload(bp, k + {u * NR})", f"{pad}b1 = vload(bp, k + {u * NR + W})"]
        for i in range(rows):
            lines += [f"{pad}a = vbcast(src, o{i} + i + {u})",
                      f"{pad}c{i}_0 = vfma(a, b0, c{i}_0)", f"{pad}c{i}_1 = vfma(a, b1, c{i}_1)"]
    return lines


def _rest_source(rows: int) -> list[str]:
    """The last run % UNROLL steps of a run, one after another under nested
    ifs: as a loop, LLVM unrolls it and peels a step that spills the
    broadcasts to the stack."""
    lines = []
    for depth in range(UNROLL - 1):
        pad = "    " * (depth + 2)
        lines += [f"{pad}if i < run:"] + _step_source(rows, 1, pad + "    ")
        lines += [f"{pad}    k += {NR}", f"{pad}    i += 1"]
    return lines


def _tile_source(rows: int) -> str:
    """One micro-kernel: a rows x NR tile of C from panel `pb` of bp."""
    m = range(rows)
    acc = [f"c{i}_{v}" for i in m for v in (0, 1)]
    lines = ["@njit(**FAST_JIT, inline=\"always\")",
             f"def tile{rows}(src, offs, taps, run, bp, pb, out, ob, ldc, rows, ncols, bias, bo,",
             "           has_bias, relu):"]
    lines += [f"    {a} = vzero()" for a in acc]
    lines += ["    k = pb", "    for t in range(taps):"]
    lines += [f"        o{i} = offs[t * {MR} + {i}]" for i in m]
    lines += ["        i = 0", f"        while i + {UNROLL} <= run:"]
    lines += _step_source(rows, UNROLL, " " * 12)
    lines += [f"            k += {UNROLL * NR}", f"            i += {UNROLL}"]
    lines += _rest_source(rows)
    lines += ["    if has_bias:",
              "        d0 = vload(bias, bo)", f"        d1 = vload(bias, bo + {W})"]
    lines += [f"        c{i}_{v} = vadd(c{i}_{v}, d{v})" for i in m for v in (0, 1)]
    lines += ["    if relu:"] + [f"        {a} = vrelu({a})" for a in acc]
    lines += [f"    if ncols == {NR}:"]
    for i in m:
        lines += [f"        if rows > {i}:",
                  f"            vstore(out, ob + {i} * ldc, c{i}_0)",
                  f"            vstore(out, ob + {i} * ldc + {W}, c{i}_1)"]
    lines += ["    else:"]
    for i in m:
        lines += [f"        if rows > {i}:",
                  f"            store_part(out, ob + {i} * ldc, c{i}_0, c{i}_1, ncols)"]
    return "\n".join(lines) + "\n"


def _wide_source(rows: int, panels: int) -> str:
    """A rows x (panels * NR) tile: `panels` whole panels side by side, panel
    q at pb + q * kstride, its bias at bo + q * NR."""
    m, qs = range(rows), range(panels)
    acc = [f"c{i}_{q}_{v}" for i in m for q in qs for v in (0, 1)]
    lines = ["@njit(**FAST_JIT, inline=\"always\")",
             f"def wide{rows}(src, offs, taps, run, bp, pb, kstride, out, ob, ldc, bias, bo, "
             "has_bias, relu):"]
    lines += [f"    {a} = vzero()" for a in acc]
    lines += ["    k = pb", "    for t in range(taps):"]
    lines += [f"        o{i} = offs[t * {MR} + {i}]" for i in m]
    lines += ["        for i in range(run):"]
    lines += [f"            a{i} = vbcast(src, o{i} + i)" for i in m]
    for q in qs:
        for v in (0, 1):
            lines += [f"            b = vload(bp, k + {q} * kstride + {v * W})"]
            lines += [f"            c{i}_{q}_{v} = vfma(a{i}, b, c{i}_{q}_{v})" for i in m]
    lines += [f"            k += {NR}", "    if has_bias:"]
    for q in qs:
        for v in (0, 1):
            lines += [f"        b = vload(bias, bo + {q * NR + v * W})"]
            lines += [f"        c{i}_{q}_{v} = vadd(c{i}_{q}_{v}, b)" for i in m]
    lines += ["    if relu:"] + [f"        {a} = vrelu({a})" for a in acc]
    lines += [f"    vstore(out, ob + {i} * ldc + {q * NR + v * W}, c{i}_{q}_{v})"
              for i in m for q in qs for v in (0, 1)]
    return "\n".join(lines) + "\n"


def _module_source() -> str:
    head = [f'"""GEMM micro-kernels generated by {__name__} for kernel library {SOURCE_HASH}',
            f'(vectors of {W} floats, tiles of up to {MR} x {NR}): do not edit."""', "",
            "from numba import njit", "",
            "from layerc.codegen.cpu.kernels import FAST_JIT",
            "from layerc.codegen.cpu.simd import vadd, vbcast, vfma, vget, vload, vrelu, "
            "vstore, vzero", "", "",
            "@njit(**FAST_JIT)",
            "def store_part(out, at, v0, v1, ncols):",
            f"    for j in range(min(ncols, {W})):",
            "        out[at + j] = vget(v0, j)",
            f"    for j in range({W}, ncols):",
            f"        out[at + j] = vget(v1, j - {W})", ""]
    tiles = ([_tile_source(r) for r in ROWS] + [_wide_source(r, q) for r, q in WIDE.items()]
             + [_dispatch_source()])
    return "\n".join(head) + "\n" + "\n\n".join(tiles)


def _dispatch_source() -> str:
    """`whole`: a whole MR x NR tile, inlined into its caller (its sizes
    constants there); `tile`: any tile (an edge's: fewer rows or columns), a
    compiled function of its own that every caller shares (each inlined
    copy costs seconds of the library's build)."""
    lines = ["@njit(**FAST_JIT, inline=\"always\")",
             "def whole(src, offs, taps, run, bp, pb, out, ob, ldc, bias, bo, has_bias, relu):",
             f"    tile{MR}(src, offs, taps, run, bp, pb, out, ob, ldc, {MR}, {NR}, bias, bo, "
             "has_bias, relu)", "", "",
             "@njit(**FAST_JIT)",
             "def tile(src, offs, taps, run, bp, pb, out, ob, ldc, rows, ncols, bias, bo, "
             "has_bias, relu):"]
    for n, r in enumerate(ROWS):
        lines += [f"    {'if' if n == 0 else 'elif'} rows <= {r}:",
                  f"        tile{r}(src, offs, taps, run, bp, pb, out, ob, ldc, rows, ncols, "
                  "bias, bo, has_bias, relu)"]
    lines += ["", "", "@njit(**FAST_JIT)",
              "def wide(src, offs, taps, run, bp, pb, kstride, out, ob, ldc, rows, bias, bo, "
              "has_bias, relu):",
              "    \"\"\"WIDE[rows] whole panels of one or two rows.\"\"\""]
    for n, r in enumerate(WIDE):
        lines += [f"    {'if' if n == 0 else 'elif'} rows == {r}:",
                  f"        wide{r}(src, offs, taps, run, bp, pb, kstride, out, ob, ldc, bias, "
                  "bo, has_bias, relu)"]
    return "\n".join(lines) + "\n"


_TILES = generated_module("layerc.codegen.cpu.gemm_tiles", _module_source())
whole, tile, wide = _TILES.whole, plain(_TILES.tile), plain(_TILES.wide)
