"""Round trips and on-disk layouts of the Keras file formats (no TensorFlow).

Covers KERAS_FORMATS.md §8 items 7, 8, 10, 13, 14, 15 and the numpykeras side of 2-6: files
written by numpykeras read back bit-identically, with Keras's layout (class-based keys,
``vars`` groups, ``layer_names``/``weight_names`` order, optimizer variables and dtypes).
"""

import json
import zipfile

import h5py
import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers as L
from numpykeras.layers.layer import clear_session
from numpykeras.saving import h5_utils

from tolerances import FILE_ROUND_TRIP_ATOL


def make_model(seed=0, names=None):
    """Conv2D -> BN -> MaxPool -> Flatten -> Dropout -> Dense (small shapes)."""
    names = names or {}
    nk.utils.set_random_seed(seed)
    return nk.models.Sequential(
        [
            L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 3), name=names.get("conv")),
            L.BatchNormalization(name=names.get("bn")),
            L.MaxPooling2D(name=names.get("pool")),
            L.Flatten(name=names.get("flat")),
            L.Dropout(0.25, name=names.get("drop")),
            L.Dense(5, activation="softmax", name=names.get("dense")),
        ]
    )


def randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.uniform(0.1, 1.0, size=v.shape).astype(v.dtype))


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_allclose(x, y, atol=FILE_ROUND_TRIP_ATOL, rtol=0)
        assert np.array_equal(x, y)


def data(n=6, seed=3):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 3), dtype=np.float32), rng.integers(0, 5, n)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5", "w.hdf5", "m.keras", "m.h5"])
def test_weights_round_trip_bit_identical(tmp_path, name):
    model = make_model()
    randomize(model)
    path = tmp_path / name
    if name.startswith("m."):
        model.save(path)
    else:
        model.save_weights(path)
    other = make_model(seed=5)
    other.load_weights(path)
    assert_same_weights(model, other)
    x, _ = data()
    assert np.array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_load_model_round_trip(tmp_path, name):
    model = make_model()
    randomize(model)
    model.save(tmp_path / name)
    loaded = nk.models.load_model(tmp_path / name, compile=False)
    assert type(loaded) is type(model)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert_same_weights(model, loaded)
    x, _ = data()
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def _compiled(seed=0):
    model = make_model(seed)
    model.compile(
        optimizer=nk.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_fit_save_load_fit_equals_fit_twice(tmp_path, name):
    x, y = data(12)
    # Dropout draws from the global generator: reseed before the second epoch on both sides.
    reference = _compiled()
    reference.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    nk.utils.set_random_seed(42)
    reference.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)

    model = _compiled()
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    bn = model.layers[1]
    assert not np.array_equal(bn.weights[2].numpy(), 0)  # moving mean moved (BN round trip)
    model.save(tmp_path / name)
    loaded = nk.models.load_model(tmp_path / name)
    assert loaded.compiled
    assert int(loaded.optimizer.iterations.value) == 3
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        assert np.array_equal(a.numpy(), b.numpy()), a.path
    nk.utils.set_random_seed(42)
    loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert_same_weights(reference, loaded)


def test_weights_h5_restores_optimizer_when_built(tmp_path):
    x, y = data(8)
    model = _compiled()
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    other = _compiled(seed=4)
    other.optimizer.build(other.trainable_variables)
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.optimizer.variables, other.optimizer.variables):
        assert a.dtype == b.dtype
        assert np.array_equal(a.numpy(), b.numpy())


def test_weights_h5_unbuilt_optimizer_warns_like_keras(tmp_path):
    x, y = data(8)
    model = _compiled()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    n_saved = len(model.optimizer.variables)
    other = _compiled(seed=4)
    with pytest.warns(
        UserWarning,
        match=f"because it has 2 variables whereas the saved optimizer has {n_saved} variables",
    ):
        other.load_weights(tmp_path / "w.weights.h5")
    assert_same_weights(model, other)


def test_load_model_compile_false(tmp_path):
    model = _compiled()
    model.save(tmp_path / "m.keras")
    loaded = nk.models.load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled and loaded.optimizer is None


# --------------------------------------------------------------------------- Keras 3 layout


def test_weights_h5_layout_matches_keras(tmp_path):
    model = make_model(names={"conv": "first", "dense": "head"})
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["vars"].attrs["name"] == model.name
        assert set(f["layers"].keys()) == {
            "conv2d",
            "batch_normalization",
            "max_pooling2d",
            "flatten",
            "dropout",
            "dense",
        }
        assert f["layers/conv2d/vars"].attrs["name"] == "first"  # real name only in @name
        assert f["layers/dense/vars"].attrs["name"] == "head"
        assert len(f["layers/max_pooling2d/vars"]) == 0
        bn = f["layers/batch_normalization/vars"]
        assert [bn[k].shape for k in ("0", "1", "2", "3")] == [(4,)] * 4
        np.testing.assert_array_equal(bn["2"][()], model.layers[1].moving_mean.numpy())
        assert f["layers/dense/vars/0"].shape == (36, 5)
        assert f["layers/dense/vars/0"].dtype == np.float32
        assert "keras_version" not in f.attrs and "optimizer" not in f


def test_weights_h5_per_class_counters(tmp_path):
    model = nk.models.Sequential(
        [
            L.Dense(3, input_shape=(4,), name="a"),
            L.Dense(2, name="b"),
            L.Activation("relu", name="c"),
            L.Dense(2, name="d"),
        ]
    )
    randomize(model)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert sorted(f["layers"].keys()) == ["activation", "dense", "dense_1", "dense_2"]
        assert f["layers/dense_1/vars"].attrs["name"] == "b"
        np.testing.assert_array_equal(
            f["layers/dense_2/vars/0"][()], model.layers[3].kernel.numpy()
        )


def test_optimizer_group_dtypes_and_order(tmp_path):
    x, y = data(4)
    model = _compiled()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        g = f["optimizer/vars"]
        assert g.attrs["name"] == model.optimizer.name
        n_trainable = len(model.trainable_variables)
        assert len(g) == 2 + 2 * n_trainable
        assert g["0"].dtype == np.int64 and g["0"].shape == () and g["0"][()] == 1
        assert g["1"].dtype == np.float32 and g["1"].shape == ()
        for i, v in enumerate(model.trainable_variables):  # (momentum, velocity) per variable
            assert g[str(2 + 2 * i)].shape == v.shape
            np.testing.assert_array_equal(
                g[str(2 + 2 * i)][()], model.optimizer._momentums[i].numpy()
            )
            np.testing.assert_array_equal(
                g[str(3 + 2 * i)][()], model.optimizer._velocities[i].numpy()
            )


class ManyWeights(L.Layer):
    """12 weights of distinct shapes: keys "10" and "11" sort before "2" alphabetically."""

    def build(self, input_shape):
        self.ws = [self.add_weight(shape=(i + 1,), name=f"w{i}") for i in range(12)]

    def call(self, inputs, training=False):
        return inputs


def test_more_than_ten_variables_keep_numeric_order(tmp_path):
    model = nk.models.Sequential([L.Input((3,)), ManyWeights(name="many")])
    randomize(model)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert f["layers/many_weights/vars/10"].shape == (11,)
    other = nk.models.Sequential([L.Input((3,)), ManyWeights(name="many")])
    other.load_weights(path)
    assert_same_weights(model, other)


def test_keras_zip_members_and_config(tmp_path):
    model = _compiled()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
    assert set(meta) == {"keras_version", "date_saved"}
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["build_config"] == {"input_shape": [None, 8, 8, 3]}
    layers = config["config"]["layers"]
    assert layers[0]["class_name"] == "InputLayer"
    assert layers[0]["config"]["batch_input_shape"] == [None, 8, 8, 3]
    assert "batch_shape" not in layers[0]["config"]
    assert all("batch_input_shape" not in e["config"] for e in layers[1:])
    cc = config["compile_config"]
    assert cc["optimizer"]["class_name"] == "Adam"
    assert cc["optimizer"]["module"] == "keras.optimizers"
    assert cc["loss"] == "sparse_categorical_crossentropy"
    assert cc["metrics"] == ["accuracy"]
    assert {"loss_weights", "weighted_metrics", "run_eagerly", "steps_per_execution"} <= set(cc)


def test_uncompiled_keras_zip_has_empty_compile_config(tmp_path):
    make_model().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert json.loads(zf.read("config.json"))["compile_config"] == {}


# --------------------------------------------------------------------------- legacy layout


def test_legacy_weights_only_layout(tmp_path):
    model = make_model()
    model.save_weights(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert list(h5_utils.read_attr_list(f, "layer_names")) == [
            layer.name for layer in model.layers
        ]
        assert h5_utils.read_attr_str(f, "keras_version")
        assert h5_utils.read_attr_str(f, "backend") == "tensorflow"
        names = h5_utils.read_attr_list(f["conv2d"], "weight_names")
        assert [n.split("/")[-1] for n in names] == ["kernel", "bias"]
        bn = h5_utils.read_attr_list(f["batch_normalization"], "weight_names")
        assert [n.split("/")[-1] for n in bn] == ["gamma", "beta", "moving_mean", "moving_variance"]
        empty = f["flatten"].attrs["weight_names"]
        assert empty.dtype == np.float64 and empty.shape == (0,)
        assert "model_config" not in f.attrs


def test_legacy_full_model_layout(tmp_path):
    x, y = data(4)
    model = _compiled()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        for group in (f, f["model_weights"]):
            assert h5_utils.read_attr_str(group, "keras_version")
            assert h5_utils.read_attr_str(group, "backend") == "tensorflow"
        config = json.loads(h5_utils.read_attr_str(f, "model_config"))
        training = json.loads(h5_utils.read_attr_str(f, "training_config"))
        opt_names = h5_utils.read_attr_list(f["optimizer_weights"], "weight_names")
    assert config["class_name"] == "Sequential"
    layers = config["config"]["layers"]
    assert layers[0]["config"]["batch_input_shape"] == [None, 8, 8, 3]
    assert all(isinstance(e["config"].get("dtype", "float32"), str) for e in layers)
    assert "module" not in layers[1]
    assert {"loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config"} <= set(
        training
    )
    # tf_keras's spelling and order: "Custom>Adam"; iteration then slots, no learning_rate.
    assert training["optimizer_config"]["class_name"] == "Custom>Adam"
    assert training["optimizer_config"]["config"]["is_legacy_optimizer"] is False
    assert len(opt_names) == len(model.optimizer.variables) - 1
    assert opt_names[0].endswith("iteration")
    assert not any(n.endswith("learning_rate") for n in opt_names)


def test_long_layer_name_lists_are_chunked_and_read_back(tmp_path):
    names = [f"layer_with_a_rather_long_name_{i:05d}" for i in range(3000)]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        h5_utils.write_attr_list(f, "layer_names", names)
        assert "layer_names" not in f.attrs and "layer_names1" in f.attrs
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert h5_utils.read_attr_list(f, "layer_names") == names


# --------------------------------------------------------------------------- dispatch


def test_save_weights_rejects_other_extensions(tmp_path):
    with pytest.raises(ValueError, match="The filename must end in `.weights.h5`"):
        make_model().save_weights(tmp_path / "w.keras")


def test_save_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="Invalid filepath extension for saving"):
        make_model().save(tmp_path / "m.txt")


def test_load_weights_rejects_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="File format not supported"):
        make_model().load_weights(tmp_path / "m.ckpt")


def test_h5_named_file_with_keras3_layout_loads(tmp_path):
    model = make_model()
    randomize(model)
    model.save_weights(tmp_path / "w.weights.h5")
    (tmp_path / "w.weights.h5").rename(tmp_path / "renamed.h5")
    other = make_model(seed=9)
    other.load_weights(tmp_path / "renamed.h5")
    assert_same_weights(model, other)


def test_overwrite_false_asks(tmp_path, monkeypatch):
    path = tmp_path / "w.weights.h5"
    make_model(seed=1).save_weights(path)
    before = path.read_bytes()
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    make_model(seed=2).save_weights(path, overwrite=False)
    assert path.read_bytes() == before
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    model = make_model(seed=2)
    randomize(model, seed=7)
    model.save_weights(path, overwrite=False)
    other = make_model(seed=3)
    other.load_weights(path)
    assert_same_weights(model, other)


# --------------------------------------------------------------------------- nested / functional


def make_nested():
    inner = nk.models.Sequential(
        [L.Dense(4, activation="relu", name="d_in"), L.BatchNormalization(name="bn_in")],
        name="inner",
    )
    return nk.models.Sequential([L.Input((3,)), inner, L.Dense(2, name="out")])


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5", "m.keras", "m.h5"])
def test_nested_model_round_trip(tmp_path, name):
    model = make_nested()
    randomize(model)
    path = tmp_path / name
    model.save(path) if name.startswith("m.") else model.save_weights(path)
    clear_session()
    other = make_nested()
    other.load_weights(path)
    assert_same_weights(model, other)
    if name == "w.weights.h5":
        with h5py.File(path, "r") as f:
            assert f["layers/sequential/vars"].attrs["name"] == "inner"
            assert len(f["layers/sequential/layers/batch_normalization/vars"]) == 4
    if name == "w.h5":
        with h5py.File(path, "r") as f:
            assert h5_utils.read_attr_list(f, "layer_names") == ["inner", "out"]
            names = h5_utils.read_attr_list(f["inner"], "weight_names")
            # Trainable weights of every sub-layer first, then the non-trainable ones.
            assert [n.split("/")[-1] for n in names] == [
                "kernel",
                "bias",
                "gamma",
                "beta",
                "moving_mean",
                "moving_variance",
            ]


def make_functional():
    inp = L.Input((5, 5, 2), name="img")
    a = L.Conv2D(3, 3, padding="same", name="branch_a")(inp)
    b = L.Conv2D(3, 1, name="branch_b")(inp)
    x = L.Flatten(name="flatten")(L.Add(name="add")([a, b]))
    return nk.models.Model(inp, L.Dense(2, name="head")(x))


def test_functional_weights_keys_are_class_based_and_branches_do_not_swap(tmp_path):
    model = make_functional()
    randomize(model)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert sorted(f["layers"].keys()) == [
            "add",
            "conv2d",
            "conv2d_1",
            "dense",
            "flatten",
            "input_layer",
        ]
        assert f["layers/conv2d/vars"].attrs["name"] == "branch_a"
        assert f["layers/conv2d_1/vars"].attrs["name"] == "branch_b"
        assert f["layers/conv2d_1/vars/0"].shape == (1, 1, 2, 3)
    clear_session()
    other = make_functional()
    other.load_weights(tmp_path / "w.weights.h5")
    assert_same_weights(model, other)


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_functional_load_model_round_trip(tmp_path, name):
    model = make_functional()
    randomize(model)
    model.save(tmp_path / name)
    loaded = nk.models.load_model(tmp_path / name)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    x = np.random.default_rng(0).random((2, 5, 5, 2), dtype=np.float32)
    out = loaded.predict(x, verbose=0)
    assert isinstance(out, np.ndarray)
    assert np.array_equal(out, model.predict(x, verbose=0))


# --------------------------------------------------------------------------- reading .keras


def _rezip(src, dst, compression):
    """``src``'s members written again into ``dst`` with ``compression`` (other zip tools)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_keras_weights_member_read_in_place_or_decompressed(tmp_path, compression):
    # Keras stores model.weights.h5 uncompressed and numpykeras reads it through a window on
    # the archive; a member another tool compressed is decompressed into memory instead.
    from numpykeras.saving import keras_v3

    model = make_model()
    randomize(model)
    model.save(tmp_path / "m.keras")
    path = tmp_path / f"rezipped_{compression}.keras"
    _rezip(tmp_path / "m.keras", path, compression)
    archive = keras_v3.KerasArchive(path)
    assert (archive._weights_offset is not None) == (compression == zipfile.ZIP_STORED)
    loaded = nk.models.load_model(path, compile=False)
    assert_same_weights(model, loaded)
    other = make_model(seed=4)
    other.load_weights(path)
    assert_same_weights(model, other)


def test_file_window_reads_and_seeks_within_its_range(tmp_path):
    from numpykeras.saving.keras_v3 import _FileWindow

    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(range(100)))
    window = _FileWindow(path, 10, 20)  # bytes 10..29
    assert window.read(5) == bytes(range(10, 15))
    assert window.tell() == 5
    window.seek(-3, 2)
    assert window.read() == bytes(range(27, 30))  # stops at the end of the window
    assert window.read(4) == b""
    window.seek(2)
    window.seek(3, 1)
    assert window.read(2) == bytes(range(15, 17))
    window.close()
    assert window.closed


def test_load_model_skips_initializers_but_assigns_every_weight(tmp_path, monkeypatch):
    # load_model builds the layers without drawing initial values (every one is replaced by the
    # file's, or the load fails): no initializer runs, and each weight equals the saved one.
    from numpykeras import initializers

    model = make_model()
    randomize(model)
    model.save(tmp_path / "m.keras")
    calls = []
    original = initializers.GlorotUniform.__call__
    monkeypatch.setattr(
        initializers.GlorotUniform,
        "__call__",
        lambda self, *a, **k: calls.append(1) or original(self, *a, **k),
    )
    loaded = nk.models.load_model(tmp_path / "m.keras", compile=False)
    assert calls == []
    assert_same_weights(model, loaded)
    # the arrays read from the file became the weights (no copy into the placeholders): each
    # owns its memory, is writeable, and no placeholder is left waiting for a value
    for v in loaded.weights:
        assert v.value.flags.owndata and v.value.flags.writeable and v.value.flags.c_contiguous
        assert not getattr(v, "_adopt_on_load", False)
    before = [w.copy() for w in loaded.get_weights()]
    loaded.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    loaded.fit(x, y, epochs=1, verbose=0)  # trains in place like any model
    assert any(not np.array_equal(a, b) for a, b in zip(before, loaded.get_weights()))
    make_model()  # models built in code still run their initializers
    assert calls


def test_skip_initializers_is_scoped_and_per_thread():
    import threading

    from numpykeras.layers.layer import skip_initializers

    def build():
        layer = L.Dense(3, bias_initializer="ones")
        layer.build((None, 4))
        return layer

    with skip_initializers():
        inside = build()
        other = []
        thread = threading.Thread(target=lambda: other.append(build()))
        thread.start()
        thread.join()
    after = build()
    assert not inside.kernel.numpy().any() and not inside.bias.numpy().any()
    assert other[0].kernel.numpy().any() and (other[0].bias.numpy() == 1).all()
    assert after.kernel.numpy().any() and (after.bias.numpy() == 1).all()


def test_failed_load_model_with_skipped_initializers_raises(tmp_path):
    # a file whose weights do not cover the model fails (nothing half-initialised is returned)
    from numpykeras.saving import keras_v3

    model = make_model()
    model.save(tmp_path / "m.keras")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(tmp_path / "m.keras") as zin, zipfile.ZipFile(broken, "w") as zout:
        for info in zin.infolist():
            data_ = zin.read(info.filename)
            if info.filename == keras_v3.VARS_FILENAME:
                tmp = tmp_path / "w.h5"
                tmp.write_bytes(data_)
                with h5py.File(tmp, "r+") as f:
                    del f["layers/dense/vars/1"]
                data_ = tmp.read_bytes()
            zout.writestr(info.filename, data_)
    with pytest.raises(ValueError, match="could not be loaded"):
        nk.models.load_model(broken, compile=False)
