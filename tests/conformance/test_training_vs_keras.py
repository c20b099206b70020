"""Whole training runs: numpykeras ``fit``/``evaluate``/``predict`` vs Keras 3 (TensorFlow backend).

Each case builds one architecture in both libraries, copies Keras's initial weights into ours,
trains both with ``shuffle=False`` on the same small random data set, and compares the per-epoch
``history.history`` (same keys, same values), the final weights (BatchNormalization's moving
statistics included), ``evaluate`` (as a list in Keras's order and as a dict) and ``predict``.
"""

import contextlib
import io
import re

import numpy as np
import pytest

import numpykeras as nk

from tolerances import TRAINING_ATOL, TRAINING_RTOL, assert_close

NUM_CLASSES = 10


# --------------------------------------------------------------------------- models and data


def build_cnn(module):
    """The reference CNN (Keras's CIFAR-10 tutorial model)."""
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def build_bn_dropout(module):
    """Convolution with BatchNormalization, and a Dropout(0) that must act as an identity."""
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((8, 8, 3)),
            # No bias before BatchNormalization: its gradient would be zero up to rounding
            # noise, which Adam turns into steps of size learning_rate in random directions.
            layers.Conv2D(6, (3, 3), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(0.0),
            layers.Dense(16, use_bias=False),
            layers.BatchNormalization(momentum=0.8),
            layers.Activation("relu"),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def build_mlp(module, activation="softmax", outputs=NUM_CLASSES):
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((12,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(outputs, activation=activation),
        ]
    )


def _images(seed, n, shape):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=n)
    return x, y


def _run_both(keras, build, compile_args, fit_args, x, y):
    """Fit the same model in Keras and numpykeras; ``compile_args(module)`` gives compile kwargs."""
    k_model = build(keras)
    ours = build(nk)
    ours.set_weights(k_model.get_weights())
    k_model.compile(**compile_args(keras))
    ours.compile(**compile_args(nk))
    fit_args = {"shuffle": False, "verbose": 0, **fit_args}
    k_history = k_model.fit(x, y, **fit_args)
    history = ours.fit(x, y, **fit_args)
    return k_model, ours, k_history, history


def _close(actual, expected, what):
    assert_close(actual, expected, TRAINING_ATOL, TRAINING_RTOL, what)


def _check_history(history, k_history, epochs):
    assert sorted(history.history) == sorted(k_history.history)
    assert history.epoch == k_history.epoch == list(range(epochs))
    for key, k_values in k_history.history.items():
        assert len(history.history[key]) == len(k_values) == epochs, key
        assert all(isinstance(v, float) for v in history.history[key]), key
        _close(history.history[key], k_values, f"history[{key!r}]")


def _check_weights(ours, k_model):
    """Every weight (trainable or not), matched by position, path-suffix and shape."""
    assert len(ours.weights) == len(k_model.weights)
    for variable, k_var in zip(ours.weights, k_model.weights):
        assert variable.name == k_var.name and variable.shape == tuple(k_var.shape)
        _close(variable.numpy(), k_var.numpy(), f"weight {variable.path}")


def _check_evaluate_predict(ours, k_model, x, y, **kwargs):
    k_list = k_model.evaluate(x, y, verbose=0, **kwargs)
    ours_list = ours.evaluate(x, y, verbose=0, **kwargs)
    assert type(ours_list) is type(k_list)
    _close(ours_list, k_list, "evaluate() list")
    k_dict = k_model.evaluate(x, y, verbose=0, return_dict=True, **kwargs)
    ours_dict = ours.evaluate(x, y, verbose=0, return_dict=True, **kwargs)
    assert sorted(ours_dict) == sorted(k_dict)
    for key in k_dict:
        _close(ours_dict[key], k_dict[key], f"evaluate()[{key!r}]")
    k_pred = k_model.predict(x, verbose=0, batch_size=16)
    pred = ours.predict(x, verbose=0, batch_size=16)
    assert pred.dtype == np.float32 and pred.shape == k_pred.shape
    _close(pred, k_pred, "predict()")


# --------------------------------------------------------------------------- the reference CNN


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_reference_cnn_training_matches_keras(keras, optimizer):
    x, y = _images(0, 96, (32, 32, 3))
    val = _images(1, 32, (32, 32, 3))

    def compile_args(module):
        if optimizer == "SGD":
            opt = module.optimizers.SGD(learning_rate=0.02, momentum=0.9)
        else:
            opt = module.optimizers.Adam(learning_rate=0.002)
        return {
            "optimizer": opt,
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        }

    fit_args = {"epochs": 3, "batch_size": 32, "validation_data": val}
    k_model, ours, k_history, history = _run_both(keras, build_cnn, compile_args, fit_args, x, y)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)
    assert ours.optimizer.iterations.numpy() == k_model.optimizer.iterations.numpy() == 9
    _check_evaluate_predict(ours, k_model, *val)


# --------------------------------------------------------------------------- BatchNormalization


def test_batch_norm_dropout_training_matches_keras(keras):
    x, y = _images(2, 80, (8, 8, 3))
    val = _images(3, 24, (8, 8, 3))

    def compile_args(module):
        return {
            "optimizer": module.optimizers.Adam(learning_rate=0.01),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        }

    # batch 24 on 80 samples: a short last batch, whose statistics BN uses as they are.
    fit_args = {"epochs": 3, "batch_size": 24, "validation_data": val}
    k_model, ours, k_history, history = _run_both(
        keras, build_bn_dropout, compile_args, fit_args, x, y
    )
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)
    k_bn = [layer for layer in k_model.layers if "batch_normalization" in layer.name]
    bn = [layer for layer in ours.layers if "batch_normalization" in layer.name]
    assert len(bn) == len(k_bn) == 2
    for layer, k_layer in zip(bn, k_bn):
        for name in ("moving_mean", "moving_variance"):
            value = getattr(layer, name).numpy()
            k_value = getattr(k_layer, name).numpy()
            assert not np.allclose(value, 0.0 if name == "moving_mean" else 1.0)  # it moved
            _close(value, k_value, f"{layer.name}.{name}")
    _check_evaluate_predict(ours, k_model, *val)


# --------------------------------------------------------------------------- fit options


def _mlp_data(seed, n=50):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=n)
    return x, y


def _sgd_compile(**extra):
    def compile_args(module):
        return {
            "optimizer": module.optimizers.SGD(learning_rate=0.1, momentum=0.5),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            **extra,
        }

    return compile_args


def test_sample_weight_training_matches_keras(keras):
    x, y = _mlp_data(4)
    sample_weight = np.random.default_rng(5).uniform(0.1, 3.0, size=len(x)).astype("float32")
    compile_args = _sgd_compile(weighted_metrics=["accuracy"])
    k_model, ours, k_history, history = _run_both(
        keras,
        build_mlp,
        compile_args,
        {"epochs": 3, "batch_size": 16, "sample_weight": sample_weight},
        x,
        y,
    )
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)
    _check_evaluate_predict(ours, k_model, x, y, sample_weight=sample_weight)


def test_class_weight_training_matches_keras(keras):
    x, y = _mlp_data(6)
    class_weight = {c: 0.25 + 0.3 * c for c in range(NUM_CLASSES)}
    k_model, ours, k_history, history = _run_both(
        keras,
        build_mlp,
        _sgd_compile(),
        {"epochs": 3, "batch_size": 16, "class_weight": class_weight},
        x,
        y,
    )
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)


def test_class_weight_one_hot_labels_matches_keras(keras):
    x, y = _mlp_data(7)
    y = np.eye(NUM_CLASSES, dtype="float32")[y]
    class_weight = {c: 1.0 + c % 3 for c in range(NUM_CLASSES)}

    def compile_args(module):
        return {"optimizer": "sgd", "loss": "categorical_crossentropy", "metrics": ["accuracy"]}

    k_model, ours, k_history, history = _run_both(
        keras,
        build_mlp,
        compile_args,
        {"epochs": 2, "batch_size": 16, "class_weight": class_weight},
        x,
        y,
    )
    _check_history(history, k_history, 2)
    _check_weights(ours, k_model)


def test_validation_split_matches_keras(keras):
    x, y = _mlp_data(8, n=45)
    k_model, ours, k_history, history = _run_both(
        keras,
        build_mlp,
        _sgd_compile(),
        {"epochs": 3, "batch_size": 8, "validation_split": 0.3},
        x,
        y,
    )
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)


@pytest.mark.parametrize("schedule", ["ExponentialDecay", "PiecewiseConstantDecay"])
def test_learning_rate_schedule_training_matches_keras(keras, schedule):
    x, y = _mlp_data(9)

    def compile_args(module):
        if schedule == "ExponentialDecay":
            lr = module.optimizers.schedules.ExponentialDecay(0.2, decay_steps=2, decay_rate=0.5)
        else:
            lr = module.optimizers.schedules.PiecewiseConstantDecay([3, 6], [0.3, 0.1, 0.02])
        return {
            "optimizer": module.optimizers.Adam(learning_rate=lr),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        }

    k_model, ours, k_history, history = _run_both(
        keras, build_mlp, compile_args, {"epochs": 3, "batch_size": 16}, x, y
    )
    _check_history(history, k_history, 3)
    _check_weights(ours, k_model)


@pytest.mark.parametrize(
    "loss, activation, metrics",
    [
        ("mse", None, ["mae"]),
        ("binary_crossentropy", "sigmoid", ["accuracy"]),
        ("categorical_crossentropy", "softmax", ["mae", "accuracy"]),
    ],
)
def test_other_losses_training_matches_keras(keras, loss, activation, metrics):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(40, 12)).astype("float32")
    if loss == "mse":
        y = rng.normal(size=(40, 3)).astype("float32")
    elif loss == "binary_crossentropy":
        y = (rng.random((40, 3)) < 0.4).astype("float32")
    else:
        y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=40)]

    def compile_args(module):
        return {"optimizer": module.optimizers.RMSprop(0.01), "loss": loss, "metrics": metrics}

    k_model, ours, k_history, history = _run_both(
        keras,
        lambda m: build_mlp(m, activation, outputs=3),
        compile_args,
        {"epochs": 2, "batch_size": 16, "validation_data": (x[:10], y[:10])},
        x,
        y,
    )
    _check_history(history, k_history, 2)
    _check_weights(ours, k_model)
    _check_evaluate_predict(ours, k_model, x, y)


@pytest.mark.parametrize(
    "metrics, weighted_metrics",
    [
        (["mae", "accuracy"], None),
        (["accuracy"], ["accuracy"]),  # Keras logs the weighted one as "weighted_accuracy"
        (["categorical_crossentropy", "mse"], ["mae"]),
        ([], ["mse", "accuracy"]),
        (["mae", "mae", "accuracy"], ["mae", "mae"]),  # "mae_1", "weighted_mae", "weighted_mae_1"
    ],
)
def test_metric_log_names_and_evaluate_order_match_keras(keras, metrics, weighted_metrics):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 12)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, size=40)]
    sample_weight = rng.uniform(0.5, 2.0, size=40).astype("float32")

    def compile_args(module):
        return {
            "optimizer": "sgd",
            "loss": "categorical_crossentropy",
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
        }

    k_model, ours, k_history, history = _run_both(
        keras,
        lambda m: build_mlp(m, "softmax", outputs=4),
        compile_args,
        {"epochs": 1, "batch_size": 16, "sample_weight": sample_weight, "validation_split": 0.25},
        x,
        y,
    )
    _check_history(history, k_history, 1)
    _check_evaluate_predict(ours, k_model, x, y, sample_weight=sample_weight)
    k_batch = k_model.train_on_batch(x[:8], y[:8], sample_weight=sample_weight[:8])
    batch = ours.train_on_batch(x[:8], y[:8], sample_weight=sample_weight[:8])
    _close(batch, k_batch, "train_on_batch()")
    k_batch = k_model.test_on_batch(x[:8], y[:8], return_dict=True)
    batch = ours.test_on_batch(x[:8], y[:8], return_dict=True)
    assert sorted(batch) == sorted(k_batch)
    _close(
        [batch[k] for k in sorted(batch)], [k_batch[k] for k in sorted(k_batch)], "test_on_batch()"
    )


# --------------------------------------------------------------------------- progress output

_TIMING = re.compile(r"\b\d+(?:\.\d+)?(?:s|ms|us)(?:/step)?\b")
_NUMBER = re.compile(r"\d+\.\d+(?:e[+-]\d+)?")


def _fit_output(model, *args, **kwargs):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model.fit(*args, **kwargs)
    return buffer.getvalue()


def test_fit_verbose_2_output_matches_keras(keras):
    x, y = _mlp_data(12, n=40)
    k_model, ours = build_mlp(keras), build_mlp(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(**_sgd_compile()(module))
    kwargs = {
        "epochs": 2,
        "batch_size": 16,
        "shuffle": False,
        "verbose": 2,
        "validation_data": (x[:8], y[:8]),
    }
    k_text = _fit_output(k_model, x, y, **kwargs)
    text = _fit_output(ours, x, y, **kwargs)
    k_lines, lines = k_text.splitlines(), text.splitlines()
    assert len(lines) == len(k_lines) == 4, text
    for line, k_line in zip(lines, k_lines):
        # Same text once the timings are masked and the metric values taken out ...
        masked, k_masked = _TIMING.sub("T", line), _TIMING.sub("T", k_line)
        assert _NUMBER.sub("X", masked) == _NUMBER.sub("X", k_masked), (line, k_line)
        # ... and the values (printed with 4 decimals) agree.
        values = [float(v) for v in _NUMBER.findall(masked)]
        k_values = [float(v) for v in _NUMBER.findall(k_masked)]
        _close(values, k_values, f"printed values in {line!r}")
    assert k_text.endswith("\n") and text.endswith("\n")
