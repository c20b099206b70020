"""The Model training API surface: signatures and defaults, return types, History, compile errors.

Expected signatures and defaults are Keras 3's (``keras.Model``), written out here.
"""

import inspect
import math

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers, models

_ = inspect.Parameter.empty
KERAS_SIGNATURES = {
    "compile": [
        ("optimizer", "rmsprop"),
        ("loss", None),
        ("loss_weights", None),
        ("metrics", None),
        ("weighted_metrics", None),
        ("run_eagerly", False),
        ("steps_per_execution", 1),
        ("jit_compile", "auto"),
        ("auto_scale_loss", True),
    ],
    "fit": [
        ("x", None),
        ("y", None),
        ("batch_size", None),
        ("epochs", 1),
        ("verbose", "auto"),
        ("callbacks", None),
        ("validation_split", 0.0),
        ("validation_data", None),
        ("shuffle", True),
        ("class_weight", None),
        ("sample_weight", None),
        ("initial_epoch", 0),
        ("steps_per_epoch", None),
        ("validation_steps", None),
        ("validation_batch_size", None),
        ("validation_freq", 1),
    ],
    "evaluate": [
        ("x", None),
        ("y", None),
        ("batch_size", None),
        ("verbose", "auto"),
        ("sample_weight", None),
        ("steps", None),
        ("callbacks", None),
        ("return_dict", False),
    ],
    "predict": [
        ("x", _),
        ("batch_size", None),
        ("verbose", "auto"),
        ("steps", None),
        ("callbacks", None),
    ],
    "train_on_batch": [
        ("x", _),
        ("y", None),
        ("sample_weight", None),
        ("class_weight", None),
        ("return_dict", False),
    ],
    "test_on_batch": [("x", _), ("y", None), ("sample_weight", None), ("return_dict", False)],
    "predict_on_batch": [("x", _)],
}


def _mlp(outputs=3, activation="softmax", seed=0):
    nk.utils.set_random_seed(seed)
    return models.Sequential(
        [layers.Input((5,)), layers.Dense(6, activation="relu"), layers.Dense(outputs, activation)]
    )


def _data(n=20, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype("float32"), rng.integers(0, classes, size=n)


class _Counter(nk.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = {"train": 0, "test": 0, "predict": 0, "epochs": 0}

    def on_train_batch_end(self, batch, logs=None):
        self.calls["train"] += 1

    def on_test_batch_end(self, batch, logs=None):
        self.calls["test"] += 1

    def on_predict_batch_end(self, batch, logs=None):
        self.calls["predict"] += 1

    def on_epoch_end(self, epoch, logs=None):
        self.calls["epochs"] += 1


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize("method", list(KERAS_SIGNATURES))
def test_signature_and_defaults_match_keras(method):
    params = inspect.signature(getattr(models.Model, method)).parameters
    public = [
        (name, p.default)
        for name, p in params.items()
        if name != "self" and not name.startswith("_") and p.kind is not p.VAR_KEYWORD
    ]
    assert public == KERAS_SIGNATURES[method]


def test_default_batch_size_is_32_and_epochs_is_1():
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data(n=70)
    counter = _Counter()
    history = model.fit(x, y, verbose=0, callbacks=[counter])
    assert counter.calls["epochs"] == 1 and history.epoch == [0]
    assert counter.calls["train"] == math.ceil(70 / 32) == model.optimizer.iterations.numpy()
    assert history.params == {"verbose": 0, "epochs": 1, "steps": 3}
    counter = _Counter()
    model.evaluate(x, y, verbose=0, callbacks=[counter])
    assert counter.calls["test"] == 3
    counter = _Counter()
    out = model.predict(np.concatenate([x, x]), verbose=0, callbacks=[counter])
    assert counter.calls["predict"] == math.ceil(140 / 32) and out.shape == (140, 3)


def test_batch_size_argument_sets_steps():
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data(n=21)
    counter = _Counter()
    history = model.fit(x, y, batch_size=5, epochs=2, verbose=0, callbacks=[counter])
    assert counter.calls["train"] == 2 * 5
    assert history.params["steps"] == 5


# --------------------------------------------------------------------------- History


def test_history_contents_and_model_history():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data(n=30)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_data=(x[:9], y[:9]))
    assert model.history is history
    assert isinstance(history, nk.callbacks.History)
    assert history.model is model
    assert history.epoch == [0, 1, 2]
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key, values in history.history.items():
        assert len(values) == 3 and all(type(v) is float for v in values), key
    # The last epoch's logs are the metrics' state at the end of training / of validation.
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[:9], y[:9], verbose=0)[0], rel=1e-6
    )
    assert 0.0 <= min(history.history["accuracy"]) <= max(history.history["accuracy"]) <= 1.0


def test_second_fit_returns_a_new_history():
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data()
    first = model.fit(x, y, epochs=2, verbose=0)
    second = model.fit(x, y, epochs=1, verbose=0)
    assert second is not first and model.history is second
    assert first.epoch == [0, 1] and second.epoch == [0]


def test_initial_epoch_numbers_epochs():
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _data()
    history = model.fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2


# --------------------------------------------------------------------------- return types


def test_evaluate_return_types():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert type(loss) is float
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss}
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    values = model.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2 and all(type(v) is float for v in values)
    assert values[0] == pytest.approx(loss, rel=1e-6)
    accuracy = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert values[1] == pytest.approx(accuracy)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["accuracy", "loss"] and as_dict["loss"] == values[0]


def test_train_on_batch_test_on_batch_predict_on_batch_return_types():
    x, y = _data(n=8)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert type(loss) is float and np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations.numpy() == 1

    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    values = model.train_on_batch(x, y)
    assert isinstance(values, list) and len(values) == 2
    logs = model.train_on_batch(x, y, return_dict=True)
    assert isinstance(logs, dict) and sorted(logs) == ["accuracy", "loss"]

    weights = [w.copy() for w in model.get_weights()]
    test_values = model.test_on_batch(x, y)
    assert isinstance(test_values, list) and all(type(v) is float for v in test_values)
    test_logs = model.test_on_batch(x, y, return_dict=True)
    assert test_logs == dict(zip(["loss", "accuracy"], test_values))
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    # test_on_batch gives the loss of the current weights on that batch.
    expected = nk.losses.sparse_categorical_crossentropy(y, model.predict_on_batch(x)).mean()
    assert test_values[0] == pytest.approx(float(expected), rel=1e-5)

    out = model.predict_on_batch(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (8, 3)
    np.testing.assert_array_equal(out, model.predict(x, verbose=0))


def test_predict_returns_float32_for_float64_input():
    model = _mlp()
    x, _ = _data(n=5)
    out = model.predict(x.astype("float64"), verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, model.predict(x, verbose=0))


def test_metrics_names_after_fit():
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = _data()
    model.fit(x, y, verbose=0)
    assert model.metrics_names[0] == "loss"


# --------------------------------------------------------------------------- compile errors


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        (
            {"optimizer": "not_an_optimizer", "loss": "mse"},
            ValueError,
            "Could not interpret optimizer identifier: not_an_optimizer",
        ),
        (
            {"optimizer": "sgd", "loss": "not_a_loss"},
            ValueError,
            "Could not interpret loss identifier: not_a_loss",
        ),
        (
            {"optimizer": "sgd", "loss": "mse", "metrics": ["not_a_metric"]},
            ValueError,
            "Could not interpret metric identifier: not_a_metric",
        ),
        (
            {"optimizer": "sgd", "loss": "mse", "weighted_metrics": ["not_a_metric"]},
            ValueError,
            "Could not interpret metric identifier: not_a_metric",
        ),
        (
            {"optimizer": "sgd", "loss": "mse", "metrics": "accuracy"},
            TypeError,
            "Type of `metrics` argument not understood",
        ),
    ],
)
def test_compile_rejects_unknown_identifiers(kwargs, kind, match):
    model = _mlp()
    with pytest.raises(kind, match=match):
        model.compile(**kwargs)
    assert not model.compiled


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_using_the_model_before_compile_raises(method):
    model = _mlp()
    x, y = _data()
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model\.$"):
        getattr(model, method)(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))


def test_predict_works_without_compile():
    model = _mlp()
    x, _ = _data(n=4)
    assert model.predict(x, verbose=0).shape == (4, 3)


def test_compile_config_round_trip():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    config = model.get_compile_config()
    assert config["optimizer"] == "adam" and config["loss"] == "sparse_categorical_crossentropy"
    assert config["metrics"] == ["accuracy"]
    assert _mlp().get_compile_config() is None
    other = _mlp()
    other.compile(**{k: config[k] for k in ("optimizer", "loss", "metrics")})
    assert other.get_compile_config() == config


def test_nested_sequential_output_is_its_call_in_the_outer_model():
    import numpykeras as keras
    from numpykeras import layers

    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="d1")], name="inner_seq")
    assert inner.output.shape == (None, 3)  # never called: its own graph's output
    inp = keras.Input((4,))
    hidden = inner(inp)
    model = keras.Model(inp, layers.Dense(2)(hidden))
    assert inner.output is hidden  # called in a graph: that call's output, as in Keras
    features = keras.Model(model.input, model.get_layer("inner_seq").output)
    x = np.ones((2, 4), dtype="float32")
    np.testing.assert_array_equal(features.predict(x, verbose=0), inner.predict(x, verbose=0))


def test_predict_takes_a_tuple_as_the_inputs_of_a_two_input_model():
    a, b = layers.Input((2,)), layers.Input((2,))
    model = models.Model([a, b], layers.Subtract()([a, b]))
    x1 = np.arange(6, dtype="float32").reshape(3, 2)
    x2 = np.ones((3, 2), dtype="float32")
    np.testing.assert_array_equal(model.predict((x1, x2), verbose=0), x1 - x2)
    np.testing.assert_array_equal(model.predict([x1, x2], verbose=0), x1 - x2)


def test_predict_of_a_single_input_model_given_x_and_y_uses_x():
    model = _mlp()
    x, y = _data(n=4)
    np.testing.assert_array_equal(model.predict((x, y), verbose=0), model.predict(x, verbose=0))


def test_model_from_config_rebuilds_a_functional_model():
    inp = layers.Input((5,))
    model = models.Model(inp, layers.Dense(3)(layers.Dense(4, activation="relu")(inp)))
    clone = models.Model.from_config(model.get_config())
    assert type(clone).__name__ == "Functional"
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    x, _ = _data(n=4)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
