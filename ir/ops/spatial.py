"""Window arithmetic shared by convolution, pooling and locally-connected ops.

Every spatial op here works on 1, 2 or 3 spatial axes, in either data format.
'same' padding is TensorFlow's (and Keras's): the output has ceil(n / s)
positions and the odd pad goes at the end; 'causal' pads d * (k - 1) at the
start whatever the stride.
"""

from __future__ import annotations

from typing import Any

from layerc.ir.errors import ShapeError
from layerc.ir.ops import checks
from layerc.ir.registry import Window
from layerc.ir.types import TensorType

PADDINGS = ("valid", "same", "causal")
FORMATS = ("channels_last", "channels_first")


def effective(k: int, d: int) -> int:
    """The span of a dilated window."""
    return (k - 1) * d + 1


def pads_for(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of one spatial axis."""
    if padding == "valid":
        return (0, 0)
    if padding == "causal":
        return (d * (k - 1), 0)
    out = -(-size // s)
    total = max((out - 1) * s + effective(k, d) - size, 0)
    return (total // 2, total - total // 2)


def out_size(size: int, k: int, s: int, d: int, pads: tuple[int, int]) -> int:
    return (size + pads[0] + pads[1] - effective(k, d)) // s + 1


def channel_axis(attrs: Any, rank: int) -> int:
    """The channel axis of a data-formatted op's tensor of `rank` (batch axis
    included): 1 for channels first, the last for channels last."""
    return 1 if attrs.data_format == "channels_first" else rank - 1


def split(t: TensorType, data_format: str, rank: int,
          variable: bool = False) -> tuple[tuple[int, ...], int]:
    """(spatial sizes, channels) of a batch of `rank`-D feature maps; with
    `variable`, spatial sizes may be None (a variable-length input: the
    model is specialized per concrete shape at predict time)."""
    checks.one_of("data_format", data_format, FORMATS)
    if not 1 <= rank <= 3:
        raise ShapeError(f"expected 1, 2 or 3 spatial axes, got {rank}")
    if t.rank != rank + 2:
        raise ShapeError(f"expected input rank {rank + 2} (batch, {rank} spatial axes and "
                         f"channels), got {t}")
    channel = t.shape[-1] if data_format == "channels_last" else t.shape[1]
    if (any(d is None for d in t.sample_shape) and not variable) or channel is None:
        raise ShapeError(f"needs every non-batch dimension known, got {t}")
    if data_format == "channels_last":
        return tuple(t.shape[1:-1]), t.shape[-1]  # type: ignore[arg-type, return-value]
    return tuple(t.shape[2:]), t.shape[1]  # type: ignore[arg-type, return-value]


def join(spatial: tuple[int, ...], channels: int, data_format: str) -> TensorType:
    if data_format == "channels_last":
        return TensorType((None, *spatial, channels))
    return TensorType((None, channels, *spatial))


def window_output(x: TensorType, data_format: str, kernel: tuple[int, ...],
                  strides: tuple[int, ...], dilation: tuple[int, ...], padding: str,
                  what: str, variable: bool = False,
                  explicit: tuple[tuple[int, int], ...] | None = None
                  ) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], int]:
    """Output sizes, pads and input channels of a window op, or a ShapeError.
    With `variable`, an unknown spatial size gives an unknown output size
    (and placeholder pads; the specialized graph has the real ones). With
    padding 'explicit' (a convolution that fold-padding gave the zeros of a
    ZeroPadding before it), the pads are `explicit`."""
    check_window(kernel, strides, dilation, padding, what)
    spatial, channels = split(x, data_format, len(kernel), variable)
    if padding == "explicit":
        if explicit is None or len(explicit) != len(kernel) or any(
                len(p) != 2 or min(p) < 0 for p in explicit):
            raise ShapeError(f"padding 'explicit' needs (before, after) pads >= 0 for each of "
                             f"the {len(kernel)} spatial axes, got {explicit}")
        pads = tuple((int(lo), int(hi)) for lo, hi in explicit)
    else:
        pads = tuple((0, 0) if n is None else pads_for(n, k, s, d, padding)
                     for n, k, s, d in zip(spatial, kernel, strides, dilation))
    sizes: list = []
    for n, k, s, d, p in zip(spatial, kernel, strides, dilation, pads):
        if n is None:
            sizes.append(None)
            continue
        if n + p[0] + p[1] < effective(k, d):
            span = f"{k}" if d == 1 else f"{k} dilated by {d} (span {effective(k, d)})"
            raise ShapeError(f"the {what} {span} is larger than the input's spatial size "
                             f"{n} ({x}, padding={padding!r})")
        sizes.append(out_size(n, k, s, d, p))
    return tuple(sizes), pads, channels


def check_window(kernel: tuple[int, ...], strides: tuple[int, ...],
                 dilation: tuple[int, ...], padding: str, what: str = "kernel") -> None:
    """A window that a Keras layer can have: 1 to 3 axes, each with a size,
    a stride and a dilation of at least 1; a known padding."""
    if not 1 <= len(kernel) <= 3:
        raise ShapeError(f"a window has 1, 2 or 3 spatial axes, got the {what} {kernel}")
    checks.per_axis("strides", strides, len(kernel))
    checks.per_axis("dilation", dilation, len(kernel))
    checks.positive(f"the {what} size", *kernel)
    checks.positive("strides", *strides)
    checks.positive("dilation", *dilation)
    checks.one_of("padding", padding, (*PADDINGS, "explicit"))


def window_pads(x: TensorType, data_format: str, window: Window
                ) -> tuple[tuple[int, int], ...]:
    """The (before, after) pads per spatial axis of a window op over input x:
    what specialize-padding writes into `pads`, and what code generation uses
    when that pass did not run."""
    _, pads, _ = window_output(x, data_format, window.kernel, window.strides, window.dilation,
                               window.padding, "window", explicit=window.pads)
    return pads
