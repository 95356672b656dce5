"""How each kernel is launched: its grid, and its operands scaled by the batch.

One launcher per kernel name, in a table; a launcher gets the launch's
operands (arena offsets per sample), the device arenas and the batch size.
Importing this module loads numba.cuda and compiles nothing: Numba compiles
each kernel on its first launch, once per process.
"""

from __future__ import annotations

from typing import Any, Callable

from layerc.codegen.cuda import kernels as k
from layerc.codegen.cuda import kernels_rnn, kernels_spatial
from layerc.codegen.cuda.emitter import Launch

Launcher = Callable[[dict[str, int], Any, Any, Any, int], None]
LAUNCHERS: dict[str, Launcher] = {}
MAX_BLOCKS = 4096  # the one-dimensional kernels stride over what exceeds it


def launcher(name: str) -> Callable[[Launcher], Launcher]:
    def register(fn: Launcher) -> Launcher:
        LAUNCHERS[name] = fn
        return fn
    return register


def grid(n: int) -> tuple[int, int]:
    """(blocks, threads) for a one-dimensional kernel over n values."""
    threads = min(k.THREADS, n)
    return min(-(-n // threads), MAX_BLOCKS), threads


def run(launch: Launch, arena: Any, weights: Any, state: Any, batch: int) -> None:
    LAUNCHERS[launch.kernel](dict(launch.operands), arena, weights, state, batch)


@launcher("dense")
def _dense(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    m, n = o["rows"] * batch, o["n"]
    if m == 0:
        return
    blocks = (-(-n // k.TILE), -(-m // k.TILE))
    k.dense[blocks, (k.TILE, k.TILE)](arena, o["x"] * batch, weights, o["w"], o["b"], arena,
                                      o["y"] * batch, m, o["k"], n, o["act"])


@launcher("act")
def _act(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        k.activate[grid(size)](arena, o["x"] * batch, arena, o["y"] * batch, size, o["act"])


@launcher("softmax")
def _softmax(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    rows = o["size"] * batch // o["row"]
    if rows:
        k.softmax[grid(rows)](arena, o["x"] * batch, arena, o["y"] * batch, rows, o["row"],
                              o["act"])


@launcher("copy")
def _copy(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        k.copy[grid(size)](arena, o["x"] * batch, arena, o["y"] * batch, size)


@launcher("binary")
def _binary(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        k.binary[grid(size)](arena, o["a"] * batch, arena, o["b"] * batch, arena,
                             o["y"] * batch, size, o["binop"])


@launcher("divide")
def _divide(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    size = o["size"] * batch
    if size:
        k.divide[grid(size)](arena, o["x"] * batch, arena, o["y"] * batch, size, o["divisor"])


@launcher("concat")
def _concat(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["outer"] * batch * o["inner"]
    if total:
        k.concat[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total, o["inner"],
                              o["stride"], o["start"])


@launcher("transpose_cs")
def _transpose(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = o["channels"] * o["spatial"] * batch
    if total:
        k.transpose_cs[grid(total)](arena, o["x"] * batch, arena, o["y"] * batch, total,
                                    o["channels"], o["spatial"])


@launcher("gather")
def _gather(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    count = o["count"] * batch
    if count:
        mask = o["mask"] * batch if o["mask"] >= 0 else -1
        k.gather[grid(count * o["dim"])](arena, o["x"] * batch, weights, o["w"], arena,
                                         o["y"] * batch, mask, count, o["dim"],
                                         o["vocabulary"])


@launcher("conv")
def _conv(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["oh"] * o["ow"] * o["f"]
    if total:
        kernels_spatial.conv[grid(total)](
            arena, o["x"] * batch, weights, o["w"], o["b"], arena, o["y"] * batch, batch,
            o["h"], o["w_"], o["c"], o["oh"], o["ow"], o["f"], o["kh"], o["kw"], o["sh"],
            o["sw"], o["dh"], o["dw"], o["pt"], o["pl"], o["first"], o["act"])


@launcher("pool")
def _pool(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["oh"] * o["ow"] * o["c"]
    if total:
        kernels_spatial.pool[grid(total)](
            arena, o["x"] * batch, arena, o["y"] * batch, batch, o["h"], o["w_"], o["c"],
            o["oh"], o["ow"], o["kh"], o["kw"], o["sh"], o["sw"], o["pt"], o["pl"],
            o["first"], o["max"])


@launcher("global_pool")
def _global_pool(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["c"]
    if total:
        mask = o["mask"] * batch if o["mask"] >= 0 else -1
        kernels_spatial.global_pool[grid(total)](
            arena, o["x"] * batch, arena, o["y"] * batch, mask, batch, o["spatial"], o["c"],
            o["first"], o["max"])


@launcher("local")
def _local(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    total = batch * o["oh"] * o["ow"] * o["f"]
    if total:
        kernels_spatial.local[grid(total)](
            arena, o["x"] * batch, weights, o["w"], o["b"], arena, o["y"] * batch, batch,
            o["h"], o["w_"], o["c"], o["oh"], o["ow"], o["f"], o["kh"], o["kw"], o["sh"],
            o["sw"], o["first"], o["act"])


RNN_THREADS = 256  # per block (one block per sample)


@launcher("recurrent")
def _recurrent(o: dict[str, int], arena: Any, weights: Any, state: Any, batch: int) -> None:
    if batch == 0:
        return
    u = o["units"]
    scaled = {name: o[name] * batch for name in ("xw", "y", "h0", "c0", "ht", "ct", "work")}
    kernels_rnn.recurrent[batch, min(u, RNN_THREADS)](
        arena, weights, state, batch, scaled["xw"], o["wr"], o["brec"], scaled["y"],
        o["mask"] * batch if o["mask"] >= 0 else -1, o["init"], scaled["h0"], scaled["c0"],
        o["ret_state"], scaled["ht"], scaled["ct"], o["state"] * batch if o["state"] >= 0
        else -1, scaled["work"], o["steps"], u, o["cell"], o["act"], o["rec_act"],
        o["reset_after"], o["seq"], o["backwards"])
