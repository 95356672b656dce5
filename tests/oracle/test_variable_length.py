"""Inputs of unknown sizes besides the batch (`Input((None, F))`, images of
any size) against Keras 3: text models (masked Embedding into a
Bidirectional LSTM, Conv1D and global pooling, Masking into a GRU) and a
fully convolutional model, each fed several lengths; the model compiles
once per shape (a bounded cache) and keeps the symbolic graph; what cannot
take an unknown size is refused naming the layer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layerc
from layerc import ConfigError, InputError, ShapeError
from layerc.runtime import variable

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def text_models(k):
    L = k.layers
    return {
        "bilstm": [k.Input((None,), dtype="int32"), L.Embedding(40, 6, mask_zero=True),
                   L.Bidirectional(L.LSTM(4, return_sequences=True)),
                   L.GlobalAveragePooling1D(), L.Dense(2)],
        "text cnn": [k.Input((None,), dtype="int32"), L.Embedding(40, 6),
                     L.Conv1D(5, 3, padding="same", activation="relu"), L.MaxPooling1D(2),
                     L.Conv1D(4, 2), L.GlobalMaxPooling1D(), L.Dense(1)],
        "masked gru": [k.Input((None, 3)), L.Masking(), L.GRU(4, return_sequences=True),
                       L.TimeDistributed(L.Dense(2)), L.LayerNormalization()],
    }


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["bilstm", "text cnn", "masked gru"]),
       lengths=st.lists(st.integers(4, 9), min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1))
def test_variable_length_text_models_match_keras(oracle, name, lengths, seed):
    rng = np.random.default_rng(seed)
    kmodel = oracle.keras.Sequential(text_models(oracle.keras)[name])
    for w in kmodel.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    compiled = layerc.compile(layerc.from_keras(kmodel))
    assert isinstance(compiled, variable.ShapeSpecializedModel)
    for steps in lengths:
        if name == "masked gru":
            x = rng.uniform(-1, 1, (2, steps, 3)).astype(np.float32)
            x[0, steps // 2:] = 0.0
        else:
            x = rng.integers(0, 40, (2, steps))
            x[0, steps // 2:] = 0
        oracle.assert_close(compiled.predict(x), oracle.run_keras(kmodel, [x])[0],
                            f"{name} at {steps} steps", 1e-5, 1e-5)
    assert sorted(s[0][0] for s in compiled.specializations) == sorted(set(lengths))


def test_images_of_any_size(oracle, rng):
    k = oracle.keras
    kmodel = k.Sequential([k.Input((None, None, 3)),
                           k.layers.Conv2D(4, 3, padding="same", activation="relu"),
                           k.layers.MaxPooling2D(), k.layers.Conv2D(3, 3),
                           k.layers.UpSampling2D(interpolation="bilinear"),
                           k.layers.GlobalAveragePooling2D()])
    for w in kmodel.weights:
        w.assign(rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))
    model = layerc.from_keras(kmodel)
    assert model.to_graph().node(model.to_graph().inputs[0]).type.shape == (None, None, None, 3)
    for shape in [(2, 8, 10, 3), (1, 13, 7, 3)]:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        oracle.assert_close(model.predict(x), oracle.run_keras(kmodel, [x])[0], str(shape),
                            1e-5, 1e-5)


def test_the_cache_is_bounded_and_reused(monkeypatch):
    monkeypatch.setattr(variable, "CACHED_SHAPES", 2)
    x = layerc.Input((None, 3))
    model = layerc.Model(x, layerc.layers.Dense(2)(x))
    compiled = layerc.compile(model)
    first = compiled.specialize(((4, 3),))
    assert compiled.specialize(((4, 3),)) is first
    for steps in (5, 6):
        compiled.predict(np.ones((1, steps, 3), np.float32))
    assert compiled.specializations == [((5, 3),), ((6, 3),)]
    np.testing.assert_allclose(compiled.predict(np.ones((2, 4, 3), np.float32)),
                               first.predict(np.ones((2, 4, 3), np.float32)))


def test_refusals():
    x = layerc.Input((None, 4))
    with pytest.raises(ShapeError, match=r"fl \(Flatten\).*needs every non-batch dimension "
                                         r"known, got f32\[\?,\?,4\]"):
        layerc.Sequential([x, layerc.layers.Flatten(name="fl")])
    model = layerc.Model(x, layerc.layers.Dense(2)(x))
    compiled = layerc.compile(model)
    with pytest.raises(InputError, match=r"expected shape \(None, None, 4\)"):
        compiled.predict(np.ones((2, 3, 5), np.float32))
    stateful = layerc.Sequential([layerc.Input((None, 2), batch_size=2),
                                  layerc.layers.GRU(2, stateful=True)])
    with pytest.raises(ConfigError, match="stateful model cannot take"):
        layerc.compile(stateful)


def _text_model():
    x = layerc.Input((None,), dtype="int32")
    h = layerc.layers.Embedding(50, 8, mask_zero=True)(x)
    h = layerc.layers.Bidirectional(layerc.layers.LSTM(4, return_sequences=True))(h)
    h = layerc.layers.Conv1D(3, 3, padding="same")(h)
    return layerc.Model(x, layerc.layers.Dense(2)(layerc.layers.GlobalAveragePooling1D()(h)))


def test_a_graph_with_unknown_sizes_compiles_per_shape():
    model = _text_model()
    by_model, by_graph = layerc.compile(model), layerc.compile(model.to_graph())
    for steps in (3, 11):
        ids = np.random.default_rng(steps).integers(0, 50, (4, steps))
        ids[:, -1] = 0
        np.testing.assert_array_equal(by_graph.predict(ids), by_model.predict(ids))


def test_variable_length_artifacts_keep_the_symbolic_graph(tmp_path):
    import json
    import zipfile

    from layerc.passes import by_name

    model = _text_model()
    passes = [by_name(n) for n in ("drop-dropout", "specialize-padding", "plan-memory")]
    compiled = layerc.compile(model, passes=passes)
    compiled.save(tmp_path / "text.lcz")
    with zipfile.ZipFile(tmp_path / "text.lcz") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format_version"] == 2 and manifest["symbolic"]
    assert manifest["passes"] == ["drop-dropout", "specialize-padding", "plan-memory"]
    assert manifest["inputs"][0]["shape"] == [None, None]
    loaded = layerc.load(tmp_path / "text.lcz")
    assert isinstance(loaded, variable.ShapeSpecializedModel)
    assert loaded.pass_names == manifest["passes"]
    for steps in (2, 9, 30):
        ids = np.random.default_rng(steps).integers(0, 50, (3, steps))
        np.testing.assert_array_equal(loaded.predict(ids), compiled.predict(ids))
    (shapes,) = loaded.specializations[-1:]
    assert shapes == ((30,),)
    assert not any(n.op.value == "dropout" for n in loaded.specialize(shapes).graph.nodes())


def test_a_variable_length_artifact_with_a_bad_pass_list_is_refused(tmp_path):
    import json
    import zipfile

    layerc.compile(_text_model()).save(tmp_path / "a.lcz")
    with zipfile.ZipFile(tmp_path / "a.lcz") as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(parts["manifest.json"])
    manifest["passes"] = ["fold-everything"]
    parts["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "b.lcz", "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    with pytest.raises(layerc.ArtifactError, match="b.lcz: bad pass list"):
        layerc.load(tmp_path / "b.lcz")


def test_the_cli_compiles_a_variable_length_model_and_refuses_to_run_it(tmp_path):
    import subprocess
    import sys

    source = tmp_path / "text.py"
    source.write_text("import layerc\n"
                      "x = layerc.Input((None, 3))\n"
                      "model = layerc.Model(x, layerc.layers.GRU(2)(x))\n")
    run = subprocess.run([sys.executable, "-m", "layerc", "compile", str(source), "-o",
                          str(tmp_path / "t.lcz")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype(np.float32)
    loaded = layerc.load(tmp_path / "t.lcz")
    assert loaded.predict(x).shape == (2, 2)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([sys.executable, "-m", "layerc", "run", str(tmp_path / "t.lcz"),
                          "--input", str(tmp_path / "x.npy")], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode != 0 and "unknown sizes besides the batch" in run.stderr
