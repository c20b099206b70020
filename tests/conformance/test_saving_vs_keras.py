"""Files cross Keras 3, tf_keras and numpykeras in both directions (KERAS_FORMATS.md §8).

Keras-written files (``.keras``, ``.weights.h5``, legacy ``.h5`` from Keras 3; ``.h5`` full model
and weights-only from tf_keras) load into numpykeras with equal predictions, and numpykeras-written
files load into Keras 3 and tf_keras (where the format allows) with equal predictions and optimizer
state.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

from error_bounds import assert_model_output_close
from tolerances import (
    FILE_ROUND_TRIP_ATOL,
    OPTIMIZER_ATOL,
    OPTIMIZER_RTOL,
    assert_close,
)

# --------------------------------------------------------------------------- the models


def _lib(name, keras, tf_keras):
    return {"nk": nk, "keras": keras, "tf_keras": tf_keras}[name]


def build_cnn(lib, names=None):
    """The reference CNN (32x32x3 -> 10)."""
    names = names or {}
    L = lib.layers
    return lib.models.Sequential(
        [
            lib.Input((32, 32, 3)),
            L.Conv2D(32, 3, activation="relu", name=names.get("c1", "conv2d")),
            L.MaxPooling2D(name="max_pooling2d"),
            L.Conv2D(64, 3, activation="relu", name=names.get("c2", "conv2d_1")),
            L.MaxPooling2D(name="max_pooling2d_1"),
            L.Conv2D(64, 3, activation="relu", name=names.get("c3", "conv2d_2")),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name=names.get("d1", "dense")),
            L.Dense(10, name=names.get("d2", "dense_1")),
        ]
    )


def build_bn(lib, names=None):
    """Conv -> BatchNorm -> ReLU -> MaxPool -> Dropout -> Flatten -> Dense (small)."""
    L = lib.layers
    return lib.models.Sequential(
        [
            lib.Input((8, 8, 3)),
            L.Conv2D(6, 3, name="conv2d"),
            L.BatchNormalization(name="batch_normalization"),
            L.Activation("relu", name="activation"),
            L.MaxPooling2D(name="max_pooling2d"),
            L.Dropout(0.3, name="dropout"),
            L.Flatten(name="flatten"),
            L.Dense(5, activation="softmax", name="dense"),
        ]
    )


BUILDERS = {"cnn": (build_cnn, (32, 32, 3), 10), "bn": (build_bn, (8, 8, 3), 5)}


def random_weights(model, seed=0):
    """Random values for ``model.get_weights()`` (BN variances positive, moving stats moved)."""
    rng = np.random.default_rng(seed)
    out = []
    for w in model.weights:
        name = getattr(w, "path", w.name).split("/")[-1]
        if "variance" in name:
            out.append(rng.uniform(0.5, 2.0, w.shape).astype("f4"))
        else:
            out.append((0.2 * rng.standard_normal(w.shape)).astype("f4"))
    return out


def inputs(kind, n=3, seed=1):
    shape = BUILDERS[kind][1]
    return np.random.default_rng(seed).random((n,) + shape, dtype=np.float32)


def keras_model(kind, lib, seed=0):
    model = BUILDERS[kind][0](lib)
    model.set_weights(random_weights(model, seed))
    return model


def nk_model(kind, names=None, seed=0):
    clear_session()
    model = BUILDERS[kind][0](nk, names=names)
    model.set_weights(random_weights(model, seed))
    return model


def predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def assert_predictions(actual, expected, build, source, x, what="predictions"):
    """Two float32 predictions of the model ``build`` makes, with ``source``'s weights, agree
    within their error bound (propagated through a Keras 3 copy of the model)."""
    import keras

    reference = build(keras)
    reference.set_weights(source.get_weights())
    assert_model_output_close(actual, expected, reference, x, what)


# --------------------------------------------------------------------------- Keras -> numpykeras


@pytest.mark.parametrize("kind", ["cnn", "bn"])
@pytest.mark.parametrize("name", ["m.keras", "w.weights.h5", "m.h5"])
def test_keras3_files_load_into_numpykeras(tmp_path, keras, kind, name):
    source = keras_model(kind, keras)
    path = tmp_path / name
    if name == "w.weights.h5":
        source.save_weights(path)
    else:
        source.save(path)
    x = inputs(kind)
    expected = predict(source, x)
    if name != "w.weights.h5":
        loaded = nk.models.load_model(path)
        assert_predictions(predict(loaded, x), expected, BUILDERS[kind][0], source, x)
    target = nk_model(kind, seed=7)
    target.load_weights(path)
    assert_predictions(predict(target, x), expected, BUILDERS[kind][0], source, x)


@pytest.mark.parametrize("kind", ["cnn", "bn"])
def test_tf_keras_files_load_into_numpykeras(tmp_path, tf_keras, kind):
    source = keras_model(kind, tf_keras)
    source.compile(
        tf_keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    source.save(tmp_path / "m.h5")
    source.save_weights(tmp_path / "w.h5")
    x = inputs(kind)
    expected = predict(source, x)
    loaded = nk.models.load_model(tmp_path / "m.h5")
    assert loaded.compiled and isinstance(loaded.optimizer, nk.optimizers.Adam)
    assert_predictions(predict(loaded, x), expected, BUILDERS[kind][0], source, x)
    for path in (tmp_path / "w.h5", tmp_path / "m.h5"):
        target = nk_model(kind, seed=7)
        target.load_weights(path)
        assert_predictions(predict(target, x), expected, BUILDERS[kind][0], source, x)


def test_tf_keras_weights_load_topologically_into_renamed_layers(tmp_path, tf_keras):
    source = keras_model("cnn", tf_keras)
    source.save_weights(tmp_path / "w.h5")
    names = {"c1": "a", "c2": "b", "c3": "c", "d1": "d", "d2": "e"}
    target = nk_model("cnn", names=names, seed=7)
    target.load_weights(tmp_path / "w.h5")
    x = inputs("cnn")
    assert_predictions(predict(target, x), predict(source, x), build_cnn, source, x)


def test_keras3_weights_keys_ignore_layer_names(tmp_path, keras):
    # Keras 3 keys groups by class name: a file from a model with other layer names loads.
    source = build_cnn(keras, names={"c1": "first", "c2": "second", "c3": "third"})
    source.set_weights(random_weights(source))
    source.save_weights(tmp_path / "w.weights.h5")
    target = nk_model("cnn", seed=7)
    target.load_weights(tmp_path / "w.weights.h5")
    x = inputs("cnn")
    assert_predictions(predict(target, x), predict(source, x), build_cnn, source, x)


def _fit_one_step(model, kind, lib_optimizer):
    n_classes = BUILDERS[kind][2]
    x = inputs(kind, n=4, seed=2)
    y = np.arange(4) % n_classes
    model.compile(lib_optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return model


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_keras3_optimizer_state_loads(tmp_path, keras, name):
    source = _fit_one_step(keras_model("cnn", keras), "cnn", keras.optimizers.Adam(1e-3))
    source.save(tmp_path / name)
    loaded = nk.models.load_model(tmp_path / name)
    assert int(loaded.optimizer.iterations.value) == 1
    theirs = [np.asarray(v) for v in source.optimizer.variables]
    ours = [v.numpy() for v in loaded.optimizer.variables]
    assert len(ours) == len(theirs) == 2 + 2 * len(source.trainable_variables)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_tf_keras_optimizer_state_loads(tmp_path, tf_keras):
    source = _fit_one_step(keras_model("bn", tf_keras), "bn", tf_keras.optimizers.Adam(1e-3))
    source.save(tmp_path / "m.h5")
    loaded = nk.models.load_model(tmp_path / "m.h5")
    theirs = [np.asarray(v) for v in source.optimizer.variables()]  # iteration, then m/v pairs
    ours = [v.numpy() for v in loaded.optimizer.variables if v.name != "learning_rate"]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- numpykeras -> Keras


@pytest.mark.parametrize("kind", ["cnn", "bn"])
@pytest.mark.parametrize("name", ["m.keras", "m.h5", "w.weights.h5", "w.h5"])
def test_numpykeras_files_load_into_keras3(tmp_path, keras, kind, name):
    source = nk_model(kind)
    path = tmp_path / name
    if name.startswith("m."):
        source.save(path)
    else:
        source.save_weights(path)
    x = inputs(kind)
    expected = predict(source, x)
    if name.startswith("m."):
        assert_predictions(
            predict(keras.models.load_model(path), x), expected, BUILDERS[kind][0], source, x
        )
    target = keras_model(kind, keras, seed=7)
    target.load_weights(path)
    assert_predictions(predict(target, x), expected, BUILDERS[kind][0], source, x)


@pytest.mark.parametrize("kind", ["cnn", "bn"])
@pytest.mark.parametrize("name", ["m.h5", "w.weights.h5", "w.h5"])
def test_numpykeras_files_load_into_tf_keras(tmp_path, tf_keras, kind, name):
    source = nk_model(kind)
    path = tmp_path / name
    if name.startswith("m."):
        source.save(path)
    else:
        source.save_weights(path)
    x = inputs(kind)
    expected = predict(source, x)
    if name.startswith("m."):
        assert_predictions(
            predict(tf_keras.models.load_model(path), x), expected, BUILDERS[kind][0], source, x
        )
    target = keras_model(kind, tf_keras, seed=7)
    target.load_weights(path)
    assert_predictions(predict(target, x), expected, BUILDERS[kind][0], source, x)


@pytest.mark.parametrize("loader", ["keras", "tf_keras"])
def test_numpykeras_compiled_h5_loads_with_training_config(tmp_path, keras, tf_keras, loader):
    source = _fit_one_step(nk_model("bn"), "bn", nk.optimizers.Adam(1e-3))
    source.save(tmp_path / "m.h5")
    lib = _lib(loader, keras, tf_keras)
    loaded = lib.models.load_model(tmp_path / "m.h5")
    x = inputs("bn")
    assert_predictions(predict(loaded, x), predict(source, x), build_bn, source, x)
    assert loaded.optimizer is not None
    assert_close(
        float(np.asarray(loaded.optimizer.learning_rate)),
        1e-3,
        OPTIMIZER_ATOL,
        OPTIMIZER_RTOL,
        "learning rate",
    )
    loaded.evaluate(x, np.arange(3), verbose=0)  # compiled: loss and metrics work


def test_numpykeras_h5_restores_tf_keras_optimizer(tmp_path, tf_keras):
    source = _fit_one_step(nk_model("bn"), "bn", nk.optimizers.Adam(1e-3))
    source.save(tmp_path / "m.h5")
    loaded = tf_keras.models.load_model(tmp_path / "m.h5")
    theirs = [np.asarray(v) for v in loaded.optimizer.variables()]  # iteration, then m/v pairs
    ours = [v.numpy() for v in source.optimizer.variables if v.name != "learning_rate"]
    assert len(theirs) == len(ours)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_numpykeras_keras_file_restores_keras3_optimizer(tmp_path, keras):
    source = _fit_one_step(nk_model("cnn"), "cnn", nk.optimizers.Adam(1e-3))
    source.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert int(loaded.optimizer.iterations.numpy()) == 1
    theirs = [np.asarray(v) for v in loaded.optimizer.variables]
    ours = [v.numpy() for v in source.optimizer.variables]
    assert len(theirs) == len(ours)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    x = inputs("cnn")
    assert_predictions(predict(loaded, x), predict(source, x), build_cnn, source, x)


@pytest.mark.parametrize("kind", ["cnn", "bn"])
def test_weights_survive_numpykeras_keras_numpykeras_bit_identical(tmp_path, keras, kind):
    source = nk_model(kind)
    source.save_weights(tmp_path / "a.weights.h5")
    middle = keras_model(kind, keras, seed=7)
    middle.load_weights(tmp_path / "a.weights.h5")
    middle.save_weights(tmp_path / "b.weights.h5")
    back = nk_model(kind, seed=9)
    back.load_weights(tmp_path / "b.weights.h5")
    for a, b in zip(source.get_weights(), back.get_weights()):
        assert_close(a, b, FILE_ROUND_TRIP_ATOL, 0.0, "weights after nk -> keras -> nk")
        assert np.array_equal(a, b)


# --------------------------------------------------------------------------- Functional models


def build_func(lib):
    L = lib.layers
    inp = lib.Input((6, 6, 3), name="img")
    a = L.Conv2D(4, 3, padding="same", name="branch_a")(inp)
    b = L.Conv2D(4, 1, name="branch_b")(inp)
    x = L.Add(name="add")([a, b])
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(3, name="head")(x)
    return lib.models.Model(inp, out)


def _func_inputs():
    return np.random.default_rng(0).random((2, 6, 6, 3), dtype=np.float32)


@pytest.mark.parametrize(
    "writer,name",
    [
        ("keras", "m.keras"),
        ("keras", "w.weights.h5"),
        ("keras", "m.h5"),
        ("tf_keras", "m.h5"),
        ("tf_keras", "w.h5"),
    ],
)
def test_functional_keras_files_load_into_numpykeras(tmp_path, keras, tf_keras, writer, name):
    lib = _lib(writer, keras, tf_keras)
    source = build_func(lib)
    source.set_weights(random_weights(source))
    path = tmp_path / name
    if name.startswith("w."):
        source.save_weights(path)
    else:
        source.save(path)
    x = _func_inputs()
    expected = predict(source, x)
    clear_session()
    target = build_func(nk)
    target.set_weights(random_weights(target, seed=5))
    target.load_weights(path)  # keys conv2d / conv2d_1: the two branches must not swap
    assert_predictions(predict(target, x), expected, build_func, source, x)
    if name.startswith("m."):  # Keras 2 or Keras 3 inbound_nodes
        assert_predictions(predict(nk.models.load_model(path), x), expected, build_func, source, x)


@pytest.mark.parametrize(
    "reader,name",
    [
        ("keras", "m.keras"),
        ("keras", "w.weights.h5"),
        ("keras", "m.h5"),
        ("keras", "w.h5"),
        ("tf_keras", "w.weights.h5"),
        ("tf_keras", "w.h5"),
        ("tf_keras", "m.h5"),
    ],
)
def test_functional_numpykeras_files_load_into_keras(tmp_path, keras, tf_keras, reader, name):
    clear_session()
    source = build_func(nk)
    source.set_weights(random_weights(source))
    path = tmp_path / name
    if name.startswith("w."):
        source.save_weights(path)
    else:
        source.save(path)
    lib = _lib(reader, keras, tf_keras)
    x = _func_inputs()
    expected = predict(source, x)
    target = build_func(lib)
    target.load_weights(path)
    assert_predictions(predict(target, x), expected, build_func, source, x)
    if name.startswith("m."):
        assert_predictions(predict(lib.models.load_model(path), x), expected, build_func, source, x)


# --------------------------------------------------------------------------- nested models


def build_nested(lib):
    inner = lib.models.Sequential(
        [
            lib.layers.Dense(4, activation="relu", name="d_in"),
            lib.layers.BatchNormalization(name="bn_in"),
        ],
        name="inner",
    )
    return lib.models.Sequential([lib.Input((3,)), inner, lib.layers.Dense(2, name="out")])


@pytest.mark.parametrize("name", ["m.keras", "w.weights.h5", "m.h5"])
def test_nested_model_files_both_directions(tmp_path, keras, name):
    x = np.random.default_rng(0).random((2, 3), dtype=np.float32)
    source = build_nested(keras)
    source.set_weights(random_weights(source))
    save = (lambda m, p: m.save_weights(p)) if name.startswith("w.") else (lambda m, p: m.save(p))
    save(source, tmp_path / name)
    expected = predict(source, x)
    clear_session()
    ours = build_nested(nk)
    ours.load_weights(tmp_path / name)
    assert_predictions(predict(ours, x), expected, build_nested, source, x)
    if name.startswith("m."):
        assert_predictions(
            predict(nk.models.load_model(tmp_path / name), x), expected, build_nested, source, x
        )
    # ... and back.
    save(ours, tmp_path / ("nk_" + name))
    theirs = build_nested(keras)
    theirs.load_weights(tmp_path / ("nk_" + name))
    assert_predictions(predict(theirs, x), expected, build_nested, source, x)
    if name.startswith("m."):
        loaded = keras.models.load_model(tmp_path / ("nk_" + name))
        assert_predictions(predict(loaded, x), expected, build_nested, source, x)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_numpykeras_h5_with_loss_alias_and_numbered_optimizer_loads_in_keras(tmp_path, keras, loss):
    # Keras 3 can't read its own legacy files with loss="mse", and it resolves a "Custom>Adam"
    # optimizer by its config name: our files must load anyway.
    for _ in range(3):
        nk.optimizers.Adam()  # so the model's optimizer gets a numbered name like "adam_3"
    model = nk.Sequential([nk.layers.Input((4,)), nk.layers.Dense(2)])
    model.compile(nk.optimizers.Adam(1e-3), loss)
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    model.fit(x, x[:, :2], verbose=0)
    model.save(tmp_path / "m.h5")
    loaded = keras.models.load_model(tmp_path / "m.h5")
    assert_model_output_close(predict(loaded, x), predict(model, x), loaded, x)
    assert type(loaded.optimizer).__name__ == "Adam"


# ------------------------------------------------- tf_keras optimizer state holding little


def _tf_keras_dense(tf_keras):
    model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(3, name="dense")])
    model.set_weights(random_weights(model))
    return model


@pytest.mark.parametrize(
    "optimizer, steps",
    [("SGD", 3), ("SGD", 0), ("Adam", 0), ("SGD momentum", 0)],
)
def test_tf_keras_optimizer_state_without_slots_loads_without_warning(
    tmp_path, tf_keras, optimizer, steps
):
    # tf_keras saves only `iteration` for an optimizer never built (compiled, saved before
    # training), and momentum slots SGD(momentum=0) never reads: nothing is lost, so no warning,
    # and the iteration count is restored.
    import warnings

    source = _tf_keras_dense(tf_keras)
    momentum = 0.9 if optimizer == "SGD momentum" else 0.0
    opt = (
        tf_keras.optimizers.Adam(1e-3)
        if optimizer == "Adam"
        else tf_keras.optimizers.SGD(0.1, momentum=momentum)
    )
    source.compile(opt, "mse")
    x = np.random.default_rng(3).random((8, 4), dtype=np.float32)
    if steps:
        source.fit(x, x[:, :3], batch_size=8, epochs=steps, verbose=0, shuffle=False)
    source.save(tmp_path / "m.h5")
    assert int(source.optimizer.iterations) == steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = nk.models.load_model(tmp_path / "m.h5")
    assert [str(w.message) for w in caught] == []
    assert type(loaded.optimizer).__name__ == type(source.optimizer).__name__
    assert int(loaded.optimizer.iterations.value) == steps
    for ours, theirs in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
