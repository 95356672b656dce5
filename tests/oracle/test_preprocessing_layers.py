"""Resizing and CenterCrop against Keras 3 (torch backend): hypothesis over
sizes up and down, interpolations, aspect-ratio crops and pads, fill values
and data formats, through the reference interpreter, the compiled model and
from_keras; the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc.errors import ConfigError

ATOL = 2e-5
SWEEP = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
SIDES = st.integers(1, 9)


def check(oracle, shape, make, seed):
    def build(ns):
        x = ns.Input(shape)
        return ns.Model(x, make(ns)(x))

    model, kmodel = build(layerc), build(oracle.keras)
    x = np.random.default_rng(seed).uniform(-2, 2, (2, *shape)).astype(np.float32)
    out = oracle.check(model, kmodel, [x], atol=ATOL, rtol=1e-5)
    converted = layerc.compile(layerc.from_keras(kmodel)).predict(x)
    oracle.assert_close(converted, out.keras[0], "from_keras", ATOL, 1e-5)


@SWEEP
@given(h=SIDES, w=SIDES, c=st.integers(1, 3), th=SIDES, tw=SIDES,
       interpolation=st.sampled_from(["nearest", "bilinear", "bicubic"]),
       aspect=st.sampled_from(["", "crop", "pad"]), fill=st.sampled_from([0.0, 1.5]),
       data_format=st.sampled_from(["channels_last", "channels_first"]),
       seed=st.integers(0, 2**32 - 1))
def test_resizing_matches_keras(oracle, h, w, c, th, tw, interpolation, aspect, fill,
                                data_format, seed):
    shape = (h, w, c) if data_format == "channels_last" else (c, h, w)
    check(oracle, shape, lambda ns: ns.layers.Resizing(
        th, tw, interpolation=interpolation, crop_to_aspect_ratio=aspect == "crop",
        pad_to_aspect_ratio=aspect == "pad", fill_value=fill, data_format=data_format,
        name="resize"), seed)


@SWEEP
@given(h=SIDES, w=SIDES, c=st.integers(1, 3), th=SIDES, tw=SIDES,
       data_format=st.sampled_from(["channels_last", "channels_first"]),
       seed=st.integers(0, 2**32 - 1))
def test_center_crop_matches_keras(oracle, h, w, c, th, tw, data_format, seed):
    """A crop when the image is at least the target, else Keras's smart resize."""
    shape = (h, w, c) if data_format == "channels_last" else (c, h, w)
    check(oracle, shape, lambda ns: ns.layers.CenterCrop(th, tw, data_format=data_format,
                                                         name="crop"), seed)


@pytest.mark.parametrize("options, words", [
    ({"interpolation": "lanczos3"}, "interpolation='lanczos3' is not supported"),
    ({"interpolation": "area"}, "interpolation='area' is not supported"),
    ({"antialias": True}, "antialias=True is not supported"),
    ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, "cannot both be True"),
    ({"fill_mode": "reflect"}, "fill_mode='reflect' is not supported"),
])
def test_resizing_refusals(options, words):
    with pytest.raises(ConfigError, match=words):
        layerc.layers.Resizing(4, 4, **options)


def test_a_resizing_needs_images():
    with pytest.raises(layerc.ShapeError, match="expects images"):
        layerc.layers.Resizing(4, 4)(layerc.Input((5, 3)))
