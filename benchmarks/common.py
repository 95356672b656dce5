"""Shared helpers of the layerc benchmark harness: the BLAS environment,
thread and kernel reporting, peers, timing, correctness checks and the table.

A benchmark *case* (see bench_mlp.py) describes one model: how to build it in
layerc, how to build the equivalent Keras model (the harness copies the layerc
weights into it), optionally an equivalent plain-PyTorch module, and how to make
inputs. run.py turns every case into a set of *peers* (callables taking one
NumPy array and returning one NumPy array) and times them side by side.

Only the standard library is imported at module level, so run.py can re-exec
itself (see `reexec_without_blas_env`) before NumPy loads OpenBLAS.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# --------------------------------------------------------------------------------------------
# BLAS environment

#: Variables that steer OpenBLAS's kernel choice. The project's machines set
#: OPENBLAS_CORETYPE=Haswell, which runs AVX2 kernels on AVX-512 cores and roughly
#: halves OpenBLAS throughput (see shared/NUMBA_NOTES.md). ONNX Runtime (MLAS) and
#: PyTorch (its own BLAS) do not read them; layerc's np.dot inside numba and NumPy do.
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: Set in the re-executed child; holds "NAME=value" pairs (";"-separated) that were removed.
REEXEC_MARKER = "LAYERC_BENCH_UNSET_BLAS_ENV"


def reexec_without_blas_env(keep_env: bool) -> None:
    """Re-executes this Python process once without BLAS_ENV_VARS, unless
    `keep_env`, unless none of them is set, or unless this is already the child.
    Must run before NumPy (or anything that loads OpenBLAS) is imported to be
    worth anything; the exec replaces the process, so nothing printed here
    before it would survive."""
    if keep_env or REEXEC_MARKER in os.environ:
        return
    found = {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ}
    if not found:
        return
    env = {k: v for k, v in os.environ.items() if k not in found}
    env[REEXEC_MARKER] = ";".join(f"{k}={v}" for k, v in found.items())
    sys.stdout.flush()
    sys.stderr.flush()
    # sys.orig_argv keeps interpreter options (-X, -O, ...) as well as the script and its args.
    argv = [sys.executable, *sys.orig_argv[1:]]
    os.execve(sys.executable, argv, env)


def blas_env_report(keep_env: bool) -> list[str]:
    """Lines that say what this process did with BLAS_ENV_VARS."""
    removed = os.environ.get(REEXEC_MARKER)
    lines = []
    if removed:
        lines.append(f"BLAS env: this benchmark re-executed its own process with {removed} "
                     f"unset (tests and CI keep them; pass --keep-env to keep them here too)")
    else:
        present = {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ}
        if present:
            why = "--keep-env given" if keep_env else "not unset"
            desc = ", ".join(f"{k}={v}" for k, v in present.items())
            lines.append(f"BLAS env: kept {desc} ({why}); OpenBLAS may run slower kernels")
        else:
            lines.append("BLAS env: none of " + ", ".join(BLAS_ENV_VARS)
                         + " is set; OpenBLAS picks its kernel itself")
    return lines


# --------------------------------------------------------------------------------------------
# Machine, thread pools and BLAS kernels


def machine_report() -> list[str]:
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return [f"machine: {cpu}; os.cpu_count()={os.cpu_count()}, usable by this process="
            f"{affinity}; Python {platform.python_version()}, NumPy {np.__version__}"]


THREADPOOLCTL_MISSING = ("threadpoolctl is not installed, so the BLAS kernel and thread counts "
                         "of the BLAS/OpenMP pools cannot be reported or limited "
                         "(pip install threadpoolctl, pinned in the bench extra)")


def have_threadpoolctl() -> bool:
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def thread_setting(threads: int | None) -> Iterator[None]:
    """None: every library's default. N: BLAS and OpenMP pools limited to N
    (threadpoolctl) and torch.set_num_threads(N), restored on exit; ONNX Runtime
    sessions take it as intra_op_num_threads (see ort_peer), layerc models as
    compile(threads=N) (its own thread team; Numba's pool is not used)."""
    if threads is None:
        yield
        return
    import torch
    from threadpoolctl import ThreadpoolController

    old = torch.get_num_threads()
    with ThreadpoolController().limit(limits=threads):
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(old)


def thread_report(ort_session: Any = None) -> list[str]:
    """Thread counts of every pool the peers use. Call after each peer ran once,
    so the BLAS libraries that load lazily (scipy's, used by numba) are loaded."""
    lines = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        lines.append("BLAS kernels: " + THREADPOOLCTL_MISSING)
    else:
        for info in threadpool_info():
            lib = os.path.basename(info.get("filepath", "?"))
            extra = []
            if info.get("internal_api"):
                extra.append(f"api={info['internal_api']}")
            if info.get("architecture"):
                extra.append(f"kernel={info['architecture']}")
            if info.get("threading_layer"):
                extra.append(f"threading={info['threading_layer']}")
            if info.get("version"):
                extra.append(f"version={info['version']}")
            lines.append(f"thread pool {info.get('user_api')}: {lib} "
                         f"num_threads={info.get('num_threads')} " + " ".join(extra))
    from layerc.codegen.cpu import team

    lines.append(f"layerc: its own thread team, {int(team.STATE[team.HELPERS])} helper "
                 f"thread(s) started (a model's threads: compile(threads=N)); np.dot in "
                 f"njit code runs on scipy's BLAS (listed above), at one thread in a run")
    if "torch" in sys.modules:
        import torch

        lines.append(f"torch: intra-op threads={torch.get_num_threads()}, "
                     f"inter-op threads={torch.get_num_interop_threads()}")
    if ort_session is not None:
        opts = ort_session.get_session_options()
        intra = opts.intra_op_num_threads
        lines.append("onnxruntime: intra_op_num_threads="
                     + (f"{intra}" if intra else "0 (default: one per physical core)")
                     + f", providers={ort_session.get_providers()}")
    return lines


# --------------------------------------------------------------------------------------------
# Cases and peers


@dataclass
class Case:
    """One benchmarked model.

    layerc_model: the layerc model (built, weights set).
    build_keras: returns a fresh, *built* Keras model of the same architecture;
        the harness copies layerc's weights into it layer by layer.
    make_input: (batch, numpy Generator) -> input array.
    build_torch: optional; (layerc model) -> an equivalent torch.nn.Module that
        already holds the same weights. None leaves the PyTorch peer out.
    batches: the batch sizes to benchmark.
    notes: lines saying which peers the case leaves out and why (recorded in
        the output and results.md).
    onnx_skip: None, or why ONNX Runtime is left out of this case (recorded in
        the output and results.md); no export is attempted then.
    stateful: the model keeps state between calls (a stateful RNN fed one step
        per call). Each peer then needs a `reset`; the agreement check resets
        every peer, feeds it `check_steps` step inputs in turn, compares all
        outputs and resets it again. Timing does not reset: states advance on
        every call, which costs the same.
    """

    name: str
    layerc_model: Any
    build_keras: Callable[[], Any]
    make_input: Callable[[int, Any], Any]
    build_torch: Callable[[Any], Any] | None = None
    batches: Sequence[int] = (1, 64)
    notes: Sequence[str] = ()
    onnx_skip: str | None = None
    stateful: bool = False
    check_steps: int = 5
    passes: Any = None  # layerc.compile's passes (None: the default pipeline)


@dataclass
class Peer:
    name: str
    fn: Callable[[Any], Any]  # numpy array in, numpy array out
    note: str = ""
    reset: Callable[[], None] | None = None  # stateful peers: back to the initial state


def copy_weights_to_keras(layerc_model: Any, keras_model: Any) -> None:
    """keras_layer.set_weights(layerc_layer.get_weights()) for every layer:
    by name when the case names its layers (a functional model, whose layer
    lists need not share an order), else in order. Layouts are identical by
    design (shared/DESIGN.md)."""
    ours = list(layerc_model.layers)
    theirs = list(keras_model.layers)
    named = {layer.name: layer for layer in theirs}
    if all(a.name in named for a in ours if a.get_weights()):
        pairs = [(a, named[a.name]) for a in ours if a.get_weights()]
    elif len(ours) != len(theirs):
        raise SystemExit(f"FAIL: layerc model has {len(ours)} layers, the Keras one "
                         f"{len(theirs)}: the case's Keras builder does not match")
    else:
        pairs = list(zip(ours, theirs))
    for a, b in pairs:
        if type(a).__name__ != type(b).__name__:
            raise SystemExit(f"FAIL: layer {a.name} is a {type(a).__name__} in layerc but "
                             f"{b.name} is a {type(b).__name__} in Keras")
        b.set_weights(a.get_weights())


def from_keras_model(build_keras: Callable[[], Any], seed: int = 0) -> Any:
    """The layerc model of a case that is defined in Keras: build_keras() after
    keras.utils.set_random_seed(seed) (random weights, the same on every run),
    converted with layerc.from_keras. The harness then copies these weights into
    a fresh build_keras() model for the Keras and ONNX Runtime peers, and the
    case's build_torch reads them from the layerc model: every peer holds the
    same weights."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # as run.py; Keras's default needs TF
    import keras
    import layerc

    keras.utils.set_random_seed(seed)
    return layerc.from_keras(build_keras())


def compile_accepts_threads() -> bool:
    """Whether layerc.compile takes a `threads` keyword (layerc.compile(model,
    threads=N), which makes layerc size its own pools). Its **options catch-all
    does not count: it refuses names it does not know."""
    import inspect

    import layerc

    return "threads" in inspect.signature(layerc.compile).parameters


def compile_layerc(model: Any, threads: int | None,
                   passes: Any = None) -> tuple[Any, str]:
    """layerc.compile(model), or layerc.compile(model, threads=N) for a thread
    count N when layerc.compile accepts `threads`; returns the compiled model
    and the call, as words for the results. `None` (the `default` rows) never
    passes `threads`: layerc then picks its own count (LAYERC_NUM_THREADS, else
    the cores the process may use, once that lands)."""
    import layerc

    options = {} if passes is None else {"passes": passes}
    said = "" if passes is None else ", passes=<the default pipeline without fold-batchnorm>"
    if threads is not None and compile_accepts_threads():
        return (layerc.compile(model, threads=threads, **options),
                f"layerc.compile(model, threads={threads}{said})")
    return layerc.compile(model, **options), f"layerc.compile(model{said})"


def layerc_peer(compiled: Any, how: str = "layerc.compile(model)") -> Peer:
    return Peer("layerc", compiled.predict, f"CompiledModel.predict(x), compiled once with "
                f"{how}", reset=compiled.reset_states)


def export_onnx(keras_model: Any, workdir: str, name: str) -> str:
    """keras_model.export(path, format="onnx"); returns the path. On the torch
    backend with a free batch axis Keras uses torch's TorchScript exporter
    (needs the `onnx` package)."""
    import warnings

    path = os.path.join(workdir, f"{name}.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript tracer chatter from the exporter
        keras_model.export(path, format="onnx", verbose=False)
    return path


def ort_peer(path: str, threads: int | None = None) -> tuple[Peer, Any]:
    """An ONNX Runtime session on `path` with the default CPU provider and
    default options, except intra_op_num_threads=`threads` when given."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    if len(session.get_inputs()) != 1:
        raise SystemExit(f"FAIL: the ONNX export {path} has {len(session.get_inputs())} "
                         f"inputs; the harness expects one")
    input_name = session.get_inputs()[0].name

    def run(x: Any) -> Any:
        return session.run(None, {input_name: x})[0]

    return Peer("onnxruntime", run, f"ONNX Runtime {ort.__version__}: keras model.export("
                f"format='onnx'), InferenceSession with CPUExecutionProvider and default "
                f"SessionOptions (intra_op_num_threads set only in the 1-thread rows)"), session


#: ONNX Runtime's input type strings and the NumPy dtypes that feed them.
ORT_INPUT_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64",
                    "tensor(int32)": "int32", "tensor(int64)": "int64"}


def check_onnx_input(case: str, session: Any, x: Any) -> None:
    """Fails loudly unless the exported model takes x's dtype. A Keras Input
    with the default dtype exports as tensor(float); integer inputs (token ids)
    need Input(dtype="int32") in the case's build_keras so that every peer gets
    the same array and ONNX Runtime converts nothing."""
    onnx_type = session.get_inputs()[0].type
    want = ORT_INPUT_DTYPES.get(onnx_type, onnx_type)
    if str(x.dtype) != want:
        raise SystemExit(f"FAIL: {case}: the ONNX export takes {onnx_type} but the case's "
                         f"inputs are {x.dtype}; give build_keras's keras.Input the inputs' "
                         f"dtype")


def keras_peers(keras_model: Any) -> list[Peer]:
    """Keras's two ways of running inference: model.predict (what the docs
    show) and calling the model (what a latency-minded user does)."""
    import keras
    import torch

    def predict(x: Any) -> Any:
        return keras_model.predict(x, verbose=0)

    def call(x: Any) -> Any:
        with torch.no_grad():
            return keras.ops.convert_to_numpy(keras_model(x, training=False))

    def reset() -> None:  # both peers share the model, hence its states
        for layer in keras_model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_state()

    return [
        Peer("keras.predict", predict, "model.predict(x, verbose=0)", reset),
        Peer("keras call", call, "with torch.no_grad(): convert_to_numpy(model(x, "
             "training=False)), NumPy in and out", reset),
    ]


def torch_peer(module: Any) -> Peer:
    import torch

    module.eval()

    def run(x: Any) -> Any:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()

    return Peer("torch eager", run, f"torch {torch.__version__} nn.Module in eval mode, "
                "with torch.no_grad(): module(torch.from_numpy(x)).numpy()",
                getattr(module, "reset_states", None))


def check_agreement(case: str, batch: int, x: Any, peers: Sequence[Peer],
                    reference: str = "layerc", tol: float = 1e-4) -> list[str]:
    """Runs every peer on x and fails loudly unless each agrees with the
    reference peer to max abs diff <= tol. Returns one line per peer."""
    import numpy as np

    outs = {p.name: np.asarray(p.fn(x)) for p in peers}
    ref = outs[reference]
    lines, bad = [], []
    for name, out in outs.items():
        if name == reference:
            continue
        if out.shape != ref.shape:
            bad.append(f"{name}: output shape {out.shape} != {reference}'s {ref.shape}")
            continue
        diff = float(np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64))))
        lines.append(f"  {case} batch {batch}: max |{reference} - {name}| = {diff:.3g}")
        if not diff <= tol:  # also catches NaN
            bad.append(f"{name}: max abs diff {diff:.3g} > {tol:g}")
    if bad:
        raise SystemExit(f"FAIL: outputs of {case} at batch {batch} disagree with "
                         f"{reference}:\n  " + "\n  ".join(bad))
    return lines


def check_agreement_stateful(case: str, batch: int, steps: Sequence[Any],
                             peers: Sequence[Peer], reference: str = "layerc",
                             tol: float = 1e-4) -> list[str]:
    """For stateful peers: each peer in turn is reset, fed every step input of
    `steps` (one call each) and reset again; the stacked outputs must agree with
    the reference peer's to max abs diff <= tol. Peers that share state (Keras's
    two) are run one after the other, so they never advance each other's states."""
    import numpy as np

    missing = [p.name for p in peers if p.reset is None]
    if missing:
        raise SystemExit(f"FAIL: {case} is stateful but peers {missing} cannot reset")
    def replay(outs: Any) -> Callable[[Any], Any]:
        return lambda _x: outs

    runs = []
    for p in peers:
        p.reset()
        outs = [np.asarray(p.fn(x)) for x in steps]
        p.reset()
        runs.append(Peer(p.name, replay(np.stack(outs))))
    lines = check_agreement(case, batch, None, runs, reference, tol)
    return [f"{line} over {len(steps)} steps from reset states" for line in lines]


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Timing:
    median_us: float
    p10_us: float
    p90_us: float
    samples: int  # timed blocks
    number: int  # calls per block
    by_round: tuple[float | None, ...] = ()  # each round's median block; None: left out

    @property
    def spread(self) -> float:
        """(p90 - p10) / median: how noisy the samples were."""
        return (self.p90_us - self.p10_us) / self.median_us


def _percentile(sorted_samples: list[float], q: float) -> float:
    return sorted_samples[min(len(sorted_samples) - 1, int(round(q * (len(sorted_samples) - 1))))]


def settle(timeout_s: float, window_s: float = 0.01, poll_s: float = 0.002,
           idle_share: float = 0.1) -> float:
    """Waits until the process's other threads have used less than
    `idle_share` of a core over the last `window_s` (a thread pool that
    spins after its last call: ONNX Runtime's intra-op pool spins 45-70 ms
    after a burst of calls, up to 156 ms in a full run, measured on the
    2-core AMD EPYC VM, 2026-11-30; the window spans a few
    scheduler slices, so a spinning thread that another process holds off its
    core for a slice still counts), at most `timeout_s`; returns the seconds
    waited. Linux (/proc/self/task/*/schedstat); elsewhere it returns at once."""
    if timeout_s <= 0 or not os.path.isdir("/proc/self/task"):
        return 0.0
    me = str(threading.get_native_id())

    def others_ns() -> int:
        total = 0
        for tid in os.listdir("/proc/self/task"):
            if tid == me:
                continue
            try:
                with open(f"/proc/self/task/{tid}/schedstat", encoding="ascii") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):  # a thread that ended
                continue
        return total

    start = time.perf_counter()
    samples = [(start, others_ns())]
    while samples[-1][0] - start < timeout_s:
        time.sleep(poll_s)
        samples.append((time.perf_counter(), others_ns()))
        now, used = samples[-1]
        old = [(t, ns) for t, ns in samples if t <= now - window_s]
        if old and used - old[-1][1] < idle_share * (now - old[-1][0]) * 1e9:
            break
    return time.perf_counter() - start


SETTLED: dict[str, float] = {}  # peer -> the longest `settle` after its slices, in seconds


def _note_settle(name: str, waited: float) -> None:
    peer = name.split("|")[0]
    SETTLED[peer] = max(SETTLED.get(peer, 0.0), waited)


def time_peers(fns: dict[str, Callable[[], Any]], rounds: int = 20, slice_s: float = 0.05,
               warmup_s: float = 0.3, block_us: float = 50.0, rewarm_s: float = 0.002,
               no_rewarm_s: float = 0.01, max_peer_s: float | None = None,
               before: Callable[[str], None] | None = None,
               settle_s: float = 0.25) -> dict[str, Timing]:
    """Median time of one call of each fn, in microseconds, peers interleaved.

    1. Warm-up: each fn runs back to back for at least `warmup_s` (and 3 calls);
       that also estimates its per-call time.
    2. `rounds` rounds; in each, every fn (in an order rotated per round) is
       re-warmed for `rewarm_s` (at least one untimed call, so its thread pool is
       awake after the previous peer's; none for a fn whose call takes longer
       than `no_rewarm_s`, where a pool's wake-up is lost in the call and the
       re-warm would double the cost of slow peers), then timed for about
       `slice_s` in blocks of `number` back-to-back calls, `number` chosen so a
       block lasts at least `block_us` (timer overhead stays far below 1 %).
       With `max_peer_s`, a fn whose slices would take longer than that over all
       rounds (one whose single call outlasts the slice: Keras on the big models)
       takes part only in every k-th round, k chosen to keep it near
       `max_peer_s` but never below 4 slices: still interleaved across the run,
       with fewer samples (the console prints how many).
    The result is the median (and p10, p90) over all blocks of a fn's per-call
    time, and the median of each round's blocks (`by_round`, for ratios paired
    by round). Interleaving spreads slow phases of a shared machine over all peers
    alike; the median of many short blocks ignores short stalls (a descheduled
    vCPU can stall a multi-threaded BLAS call for milliseconds). time.perf_counter,
    garbage collector off while timing. `before(name)`, when given, runs before
    each fn's warm-up and before each of its slices, outside the timed blocks
    (the busy-core rows use it to switch the spinning process on and off).
    After each warm-up and each slice, `settle(settle_s)` waits until the
    threads the fn left spinning stop (ONNX Runtime's pool spins 45-156 ms
    after its last call), so the next fn starts on idle cores, as it would
    in a process of its own.
    """
    per_call = {}
    for name, fn in fns.items():
        if before is not None:
            before(name)
        calls, start = 0, time.perf_counter()
        while calls < 3 or time.perf_counter() - start < warmup_s:
            fn()
            calls += 1
        per_call[name] = (time.perf_counter() - start) / calls
        _note_settle(name, settle(settle_s))
    number = {n: max(1, int(block_us * 1e-6 / max(t, 1e-9)) + 1) for n, t in per_call.items()}
    blocks = {n: max(1, int(slice_s / (t * number[n]))) for n, t in per_call.items()}
    rewarm = {n: 0 if t > no_rewarm_s else max(1, int(rewarm_s / max(t, 1e-9)))
              for n, t in per_call.items()}
    stride = {n: 1 for n in fns}
    if max_peer_s:
        for n, t in per_call.items():
            slice_cost = (rewarm[n] + blocks[n] * number[n]) * t
            stride[n] = max(1, min(rounds // 4, math.ceil(rounds * slice_cost / max_peer_s)))
    samples: dict[str, list[float]] = {n: [] for n in fns}
    by_round: dict[str, list[Any]] = {n: [] for n in fns}
    names = list(fns)
    clock = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                if r % stride[name]:
                    by_round[name].append(None)
                    continue
                if before is not None:
                    before(name)
                fn, k, out = fns[name], number[name], samples[name]
                for _ in range(rewarm[name]):
                    fn()
                for _ in range(blocks[name]):
                    t0 = clock()
                    for _ in range(k):
                        fn()
                    out.append((clock() - t0) / k * 1e6)
                by_round[name].append(statistics.median(out[-blocks[name]:]))
                _note_settle(name, settle(settle_s))
    finally:
        if gc_was_enabled:
            gc.enable()
    result = {}
    for name, s in samples.items():
        s.sort()
        result[name] = Timing(statistics.median(s), _percentile(s, 0.1), _percentile(s, 0.9),
                              len(s), number[name], tuple(by_round[name]))
    return result


# --------------------------------------------------------------------------------------------
# Busy core


class BusyCore:
    """Another process that keeps one core busy while switched on: a child
    Python running `while True: pass`, paused with SIGSTOP while off and resumed
    with SIGCONT while on (no start-up cost per switch, no CPU while off).
    Started by `with BusyCore() as busy:`, killed on exit. POSIX only. Where
    the OS allows it, the child is pinned to the last core this process may use
    (the benchmark's own threads are not pinned: they share that core with it,
    as they would with any other busy process).

    `utilisation()` says what share of a core the child got while on, from its
    CPU time in /proc (None where there is no /proc): a check that the core
    really was busy."""

    SPIN = "while True:\n    pass\n"

    def __init__(self) -> None:
        self._proc: Any = None
        self._on_since: float | None = None
        self._on_wall = 0.0
        self._cpu0: float | None = None
        self._cpu1: float | None = None
        self.core: int | None = None  # the core the child is pinned to

    def __enter__(self) -> BusyCore:
        import signal
        import subprocess

        self._proc = subprocess.Popen([sys.executable, "-c", self.SPIN],
                                      stdin=subprocess.DEVNULL)
        os.kill(self._proc.pid, signal.SIGSTOP)
        if hasattr(os, "sched_setaffinity"):
            self.core = max(os.sched_getaffinity(0))
            os.sched_setaffinity(self._proc.pid, {self.core})
        self._cpu0 = self._cpu_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.set(False)
        self._cpu1 = self._cpu_seconds()
        self._proc.kill()
        self._proc.wait()

    def set(self, on: bool) -> None:
        """Switches the spinning on or off (no-op when already so)."""
        import signal

        if on and self._on_since is None:
            os.kill(self._proc.pid, signal.SIGCONT)
            self._on_since = time.perf_counter()
        elif not on and self._on_since is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)
            self._on_wall += time.perf_counter() - self._on_since
            self._on_since = None

    def _cpu_seconds(self) -> float | None:
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def utilisation(self) -> float | None:
        """CPU seconds of the child / wall seconds it was on (after exit)."""
        if self._cpu0 is None or self._cpu1 is None or self._on_wall <= 0:
            return None
        return (self._cpu1 - self._cpu0) / self._on_wall


# --------------------------------------------------------------------------------------------
# Table


@dataclass
class Row:
    case: str
    batch: int
    threads: str  # "default" or a count
    times: dict[str, Timing]  # peer name -> timing; "layerc" among them


def _fmt_us(us: float) -> str:
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def best_peer(row: Row, reference: str = "layerc") -> str:
    """The fastest peer of a row other than the reference (any peer counts:
    ONNX Runtime, torch eager with its native RNNs, and Keras if it ever is)."""
    return min((p for p in row.times if p != reference), key=lambda p: row.times[p].median_us)


def markdown_table(rows: Sequence[Row], peer_order: Sequence[str],
                   reference: str = "layerc") -> str:
    """model | batch | threads | <peer> us ... | layerc/<peer> ... | best peer |
    layerc/best peer; '-' where a peer did not run."""
    others = [p for p in peer_order if p != reference]
    head = (["model", "batch", "threads"] + [f"{p} (us)" for p in peer_order]
            + [f"{reference}/{p}" for p in others] + ["best peer", f"{reference}/best peer"])
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---:", "---"] + ["---:"] * (len(head) - 5)
                            + ["---", "---:"]) + "|"]
    for row in rows:
        cells = [row.case, str(row.batch), row.threads]
        for p in peer_order:
            cells.append(_fmt_us(row.times[p].median_us) if p in row.times else "-")
        ref = row.times[reference].median_us
        for p in others:
            cells.append(f"{ref / row.times[p].median_us:.2f}" if p in row.times else "-")
        best = best_peer(row, reference)
        cells += [best, f"**{ref / row.times[best].median_us:.2f}**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class BusyRow:
    """One model and batch timed with a core kept busy and without: layerc and
    one peer, each `quiet` and `busy`, and layerc on one thread, quiet."""

    case: str
    batch: int
    peer: str  # onnxruntime, or torch eager where ONNX Runtime is left out
    times: dict[str, Timing]  # "<name>|quiet", "<name>|busy" for layerc and the peer,
    #                           and ALONE + "|quiet"

    ALONE = "layerc 1 thread"

    def slowdown(self, name: str) -> float:
        """The median over rounds of `round_slowdowns`."""
        return statistics.median(self.round_slowdowns(name))

    def _per_round(self, name: str) -> list[float | None]:
        quiet, busy = self.times[f"{name}|quiet"].by_round, self.times[f"{name}|busy"].by_round
        return [None if q is None or b is None else b / q for q, b in zip(quiet, busy)]

    def round_slowdowns(self, name: str) -> list[float]:
        """busy / quiet within each round (the two slices are interleaved in
        it, so a slow phase of the host weighs on both)."""
        return [r for r in self._per_round(name) if r is not None]

    def quartiles(self, name: str) -> tuple[float, float]:
        """The first and third quartile of `round_slowdowns`."""
        cuts = statistics.quantiles(self.round_slowdowns(name), n=4, method="inclusive")
        return cuts[0], cuts[2]

    def rounds_slowed_less(self, ours: str) -> tuple[int, int]:
        """In how many rounds `ours` slowed no more than the peer, of how many."""
        pairs = [(a, b) for a, b in zip(self._per_round(ours), self._per_round(self.peer))
                 if a is not None and b is not None]
        return sum(a <= b for a, b in pairs), len(pairs)

    def busy_over_alone(self, ours: str) -> float:
        """`ours` busy against layerc on one thread, quiet: above 1, the busy
        run lost more on the shared core than the second thread gains."""
        return self.times[f"{ours}|busy"].median_us / self.times[f"{self.ALONE}|quiet"].median_us


def busy_table(rows: Sequence[BusyRow], reference: str = "layerc") -> str:
    """model | batch | layerc quiet | busy | busy/quiet [quartiles] | busy / one
    thread | peer | peer quiet | busy | busy/quiet [quartiles] | rounds layerc
    slowed less."""
    head = ["model", "batch", f"{reference} quiet (us)", f"{reference} busy (us)",
            f"{reference} busy/quiet [quartiles]", f"{reference} busy / 1 thread quiet",
            "peer", "peer quiet (us)", "peer busy (us)", "peer busy/quiet [quartiles]",
            f"rounds {reference} slowed less"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---:", "---:", "---:", "---:", "---:", "---", "---:",
                             "---:", "---:", "---:"]) + "|"]
    for row in rows:
        t = row.times
        less, of = row.rounds_slowed_less(reference)
        cells = [row.case, str(row.batch), _fmt_us(t[f"{reference}|quiet"].median_us),
                 _fmt_us(t[f"{reference}|busy"].median_us), _slowdown_cell(row, reference),
                 f"{row.busy_over_alone(reference):.2f}", row.peer,
                 _fmt_us(t[f"{row.peer}|quiet"].median_us),
                 _fmt_us(t[f"{row.peer}|busy"].median_us), _slowdown_cell(row, row.peer),
                 f"{less}/{of}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _slowdown_cell(row: BusyRow, name: str) -> str:
    low, high = row.quartiles(name)
    return f"**{row.slowdown(name):.2f}** [{low:.2f}-{high:.2f}]"


@dataclass
class Sweep:
    """Per-call times of layerc and one peer over batch sizes, for one model."""

    case: str
    peer: str
    points: dict[int, dict[str, Timing]]  # batch -> peer name -> timing
    note: str = ""  # e.g. where the time budget ended the sweep


def sweep_table(sweeps: Sequence[Sweep], reference: str = "layerc") -> str:
    """model | batch | layerc us/sample | peer | peer us/sample | layerc/peer."""
    head = ["model", "batch", f"{reference} (us/sample)", "peer", "peer (us/sample)",
            f"{reference}/peer"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---:", "---:", "---", "---:", "---:"]) + "|"]
    for sweep in sweeps:
        for batch, times in sweep.points.items():
            ours, theirs = times[reference].median_us, times[sweep.peer].median_us
            lines.append(f"| {sweep.case} | {batch} | {_fmt_us(ours / batch)} | {sweep.peer} | "
                         f"{_fmt_us(theirs / batch)} | {ours / theirs:.2f} |")
    return "\n".join(lines)
