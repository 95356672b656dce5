"""Option parsing shared by the convolution, pooling and locally-connected layers."""

from __future__ import annotations

from typing import Any

from layerc.errors import ConfigError

_DIM_ORDERING = {"th": "channels_first", "tf": "channels_last", "default": None}


def int_tuple(label: str, option: str, value: Any, rank: int,
              minimum: int = 1) -> tuple[int, ...]:
    """An int or a tuple of `rank` ints >= minimum (positive by default), as
    Keras's normalize_tuple."""
    values = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) \
        else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != rank or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum
                                  for v in values):
        kind = "positive int" if minimum == 1 else f"int >= {minimum}"
        raise ConfigError(f"{label}: {option} must be a {kind} or a tuple of {rank} "
                          f"{kind}s, got {value!r}")
    return values


def padding(label: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = value.lower() if isinstance(value, str) else value
    if text not in allowed:
        raise ConfigError(f"{label}: padding must be one of {allowed}, got {value!r}")
    return text


def keras1_aliases(kwargs: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """Maps Keras 1 option names (border_mode, subsample, dim_ordering, init, ...)
    onto Keras 3 ones; giving both spellings of one option is an error."""
    out = dict(kwargs)
    for old, new in renames.items():
        if old not in out:
            continue
        value = out.pop(old)
        if old == "dim_ordering":
            if value not in _DIM_ORDERING:
                raise ConfigError(f"dim_ordering must be 'th', 'tf' or 'default', got {value!r}")
            value = _DIM_ORDERING[value]
        if new in out:
            raise ConfigError(f"give {old!r} or {new!r}, not both")
        out[new] = value
    return out


KERAS1_RENAMES = {
    "border_mode": "padding", "dim_ordering": "data_format", "init": "kernel_initializer",
    "bias": "use_bias", "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint", "nb_filter": "filters",
}
