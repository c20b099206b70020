"""Model-level training behaviour (no TensorFlow).

Data order (``shuffle``, ``validation_split``), reproducibility under ``set_random_seed``, input
errors raised before any weight changes, callbacks acting inside ``fit``, and float64
finite-difference checks of whole-model gradients (``model._loss_and_gradients``) for a shared
layer, a nested Sequential and the reference CNN.
"""

import csv
import math
import re

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers, models
from numpykeras.layers import Layer

import tolerances as tol
from gradcheck import numerical_gradient

F64 = "float64"


class _Recorder(Layer):
    """An identity layer that writes down column 0 (a sample id) of every batch it sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.train_batches, self.infer_batches = [], []

    def call(self, inputs, training=False):
        self.infer_batches.append(inputs[:, 0].astype(int).tolist())
        return inputs

    def forward(self, inputs, training=False):
        self.train_batches.append(inputs[:, 0].astype(int).tolist())
        return inputs, None

    def backward(self, dy, cache, need_dx=True):
        return (dy if need_dx else None), {}


def _recording_model(features=3):
    recorder = _Recorder()
    model = models.Sequential(
        [layers.Input((features,)), recorder, layers.Dense(2, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model, recorder


def _id_data(n, features=3):
    x = np.zeros((n, features), dtype="float32")
    x[:, 0] = np.arange(n)
    x[:, 1:] = np.random.default_rng(0).normal(size=(n, features - 1))
    return x, np.arange(n) % 2


def _snapshot(model):
    return [v.numpy() for v in model.weights]


def _assert_unchanged(model, snapshot):
    assert len(model.weights) == len(snapshot)
    for v, before in zip(model.weights, snapshot):
        np.testing.assert_array_equal(v.value, before, err_msg=f"{v.path} changed")


# --------------------------------------------------------------------------- data order


def test_shuffle_false_feeds_batches_in_order():
    model, recorder = _recording_model()
    x, y = _id_data(10)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    in_order = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert recorder.train_batches == in_order + in_order


def test_shuffle_true_permutes_every_epoch():
    nk.utils.set_random_seed(3)
    model, recorder = _recording_model()
    x, y = _id_data(12)
    model.fit(x, y, batch_size=5, epochs=3, shuffle=True, verbose=0)
    batches = recorder.train_batches
    assert [len(b) for b in batches] == [5, 5, 2] * 3
    epochs = [sum(batches[3 * e : 3 * e + 3], []) for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(12))  # every sample exactly once per epoch
    assert epochs[0] != list(range(12)) and epochs[0] != epochs[1] != epochs[2]


def test_validation_split_takes_the_last_fraction():
    model, recorder = _recording_model()
    x, y = _id_data(10)
    history = model.fit(
        x, y, batch_size=3, epochs=2, validation_split=0.25, shuffle=True, verbose=0
    )
    split_at = int(math.floor(10 * (1 - 0.25)))  # 7, as Keras computes it
    trained = sorted(set(sum(recorder.train_batches, [])))
    assert trained == list(range(split_at))
    validated = sum(recorder.infer_batches, [])
    assert set(range(split_at, 10)) <= set(validated) and max(validated) == 9
    assert min(v for v in validated if v >= split_at) == split_at
    # The validation loss is the loss on exactly those samples.
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[split_at:], y[split_at:], verbose=0), rel=1e-6
    )


def test_validation_split_out_of_range_raises():
    model, _ = _recording_model()
    x, y = _id_data(10)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


# --------------------------------------------------------------------------- reproducibility


def _seeded_run(seed):
    nk.utils.set_random_seed(seed)
    model = models.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)  # the data itself is fixed
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.integers(0, 3, size=40)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    return model.get_weights(), history.history["loss"]


def test_set_random_seed_makes_training_reproducible():
    weights_a, loss_a = _seeded_run(123)
    weights_b, loss_b = _seeded_run(123)
    assert loss_a == loss_b
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    # A different seed gives a different initialisation, shuffle and dropout masks.
    weights_c, _ = _seeded_run(124)
    assert any(not np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


def test_dropout_masks_follow_the_seed():
    """Same initial weights and data order, different seeds for the dropout draws only."""

    def run(seed):
        nk.utils.set_random_seed(0)
        model = models.Sequential(
            [layers.Input((6,)), layers.Dense(8), layers.Dropout(0.5), layers.Dense(2)]
        )
        model.compile(optimizer="sgd", loss="mse")
        nk.utils.set_random_seed(seed)
        x = np.ones((16, 6), dtype="float32")
        model.fit(x, np.zeros((16, 2), "float32"), batch_size=4, shuffle=False, verbose=0)
        return model.get_weights()

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert any(not np.array_equal(u, w) for u, w in zip(a, c))


# --------------------------------------------------------------------------- errors first


def _bn_model(loss="sparse_categorical_crossentropy"):
    nk.utils.set_random_seed(0)
    model = models.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(8),
            layers.BatchNormalization(),
            layers.Dropout(0.5),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def _bad_at(labels, index, value):
    labels = labels.copy()
    labels[index] = value
    return labels


_RNG = np.random.default_rng(7)
_X = _RNG.normal(size=(40, 6)).astype("float32")
_Y = _RNG.integers(0, 4, size=40)

ERROR_CASES = {
    # The bad label is in the last batch: nothing may be trained before the error.
    "label_too_large": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _bad_at(_Y, 37, 4), batch_size=8, verbose=0),
        r"Received a label value of 4 which is outside the valid range of \[0, 4\)",
    ),
    "label_negative": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _bad_at(_Y, 39, -1), batch_size=8, verbose=0),
        r"label value of -1 which is outside the valid range",
    ),
    "validation_label_too_large": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, validation_data=(_X[:8], _bad_at(_Y[:8], 7, 9)), verbose=0),
        r"label value of 9",
    ),
    "x_y_lengths_differ": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y[:39], verbose=0),
        r"Data cardinality is ambiguous.*'x' sizes: 40\n'y' sizes: 39",
    ),
    "sample_weight_length_differs": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, sample_weight=np.ones(30), verbose=0),
        r"'sample_weight' sizes: 30",
    ),
    "one_hot_labels_to_sparse_ce": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, np.eye(4, dtype="float32")[_Y], verbose=0),
        r"must have rank \(ndim\) `target.ndim - 1`",
    ),
    "class_indices_to_categorical_ce": (
        "categorical_crossentropy",
        lambda m: m.fit(_X, _Y, verbose=0),
        r"`target` and `output` must have the same rank",
    ),
    "class_weight_with_sample_weight": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, sample_weight=np.ones(40), class_weight={0: 2.0}, verbose=0),
        r"You cannot `class_weight` and `sample_weight` at the same time\.",
    ),
    "wrong_input_shape": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X[:, :5], _Y, verbose=0),
        r"incompatible with the layer: expected shape=\(None, 6\)",
    ),
    "train_on_batch_label_too_large": (
        "sparse_categorical_crossentropy",
        lambda m: m.train_on_batch(_X[:8], _bad_at(_Y[:8], 5, 4)),
        r"label value of 4",
    ),
    "batch_size_zero": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, batch_size=0, verbose=0),
        r"Argument `batch_size` must be a positive integer \(or None\)\. Received: batch_size=0",
    ),
    "batch_size_negative": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, batch_size=-3, verbose=0),
        r"Received: batch_size=-3",
    ),
    "validation_batch_size_zero": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, validation_split=0.25, validation_batch_size=0, verbose=0),
        r"`validation_batch_size` must be a positive integer.*validation_batch_size=0",
    ),
    "class_weight_key_negative": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, class_weight={0: 1.0, -1: 5.0}, verbose=0),
        r"Invalid `class_weight` key\(s\) \[-1\]: keys must be class indices, integers in "
        r"\[0, 4\)",
    ),
    "class_weight_key_string": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, class_weight={"a": 2.0}, verbose=0),
        r"Invalid `class_weight` key\(s\) \['a'\].*\[0, 4\)",
    ),
    "class_weight_key_huge": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X, _Y, class_weight={10**12: 2.0}, verbose=0),
        r"Invalid `class_weight` key\(s\) \[1000000000000\]",
    ),
    "class_weight_key_just_past_the_classes": (
        "sparse_categorical_crossentropy",
        lambda m: m.train_on_batch(_X[:8], _Y[:8], class_weight={4: 2.0}),
        r"Invalid `class_weight` key\(s\) \[4\]",
    ),
    "validation_split_leaves_nothing": (
        "sparse_categorical_crossentropy",
        lambda m: m.fit(_X[:3], _Y[:3], validation_split=0.9, verbose=0),
        r"`validation_split=0\.9` leaves no training data: 3 sample\(s\) in total",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_inputs_raise_before_any_weight_changes(case):
    loss, call, match = ERROR_CASES[case]
    model = _bn_model(loss)
    snapshot = _snapshot(model)  # includes BatchNormalization's moving statistics
    with pytest.raises(ValueError, match=match):
        call(model)
    _assert_unchanged(model, snapshot)
    assert int(model.optimizer.iterations.numpy()) == 0
    # ... and the model still trains afterwards.
    good_y = np.eye(4, dtype="float32")[_Y] if loss == "categorical_crossentropy" else _Y
    model.fit(_X, good_y, batch_size=8, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 5


@pytest.mark.parametrize("bad", [2.0, 2.5, "8", True, [8]])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_non_integer_batch_size_raises_type_error(method, bad):
    model = _bn_model()
    args = (_X,) if method == "predict" else (_X, _Y)
    snapshot = _snapshot(model)
    with pytest.raises(TypeError, match=r"`batch_size` must be a positive integer.*Received"):
        getattr(model, method)(*args, batch_size=bad, verbose=0)
    _assert_unchanged(model, snapshot)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("bad", [0, -1])
def test_non_positive_batch_size_raises(method, bad):
    model = _bn_model()
    args = (_X,) if method == "predict" else (_X, _Y)
    with pytest.raises(ValueError, match=f"Received: batch_size={bad}"):
        getattr(model, method)(*args, batch_size=bad, verbose=0)


def test_integer_like_batch_size_is_accepted():
    model = _bn_model()
    out = model.predict(_X, batch_size=np.int64(16), verbose=0)
    np.testing.assert_array_equal(out, model.predict(_X, batch_size=16, verbose=0))


EMPTY_CASES = {
    "fit": lambda m: m.fit(_X[:0], _Y[:0], verbose=0),
    "evaluate": lambda m: m.evaluate(_X[:0], _Y[:0], verbose=0),
    "predict": lambda m: m.predict(_X[:0], verbose=0),
    "train_on_batch": lambda m: m.train_on_batch(_X[:0], _Y[:0]),
    "test_on_batch": lambda m: m.test_on_batch(_X[:0], _Y[:0]),
    "validation_data": lambda m: m.fit(_X, _Y, validation_data=(_X[:0], _Y[:0]), verbose=0),
}


@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_empty_data_raises_a_clear_error(case):
    model = _bn_model()
    snapshot = _snapshot(model)
    with pytest.raises(ValueError, match=r"received no data: the input has 0 samples \(x shape"):
        EMPTY_CASES[case](model)
    _assert_unchanged(model, snapshot)


def _cnn():
    nk.utils.set_random_seed(0)
    return models.Sequential(
        [
            layers.Input((8, 8, 1)),
            layers.Conv2D(2, 3),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_zero_samples_give_empty_outputs_from_call_and_predict_on_batch(kind):
    model = _cnn()
    if kind == "functional":
        model = models.Model(model.inputs, model.outputs)
    empty = np.zeros((0, 8, 8, 1), dtype="float32")
    for out in (model(empty), model(empty, training=True), model.predict_on_batch(empty)):
        assert out.shape == (0, 3) and out.dtype == np.float32


# --------------------------------------------------------------------------- class weights


def test_class_weight_trains_as_the_matching_sample_weights():
    # Classes 0 and 3 are not in class_weight: they weigh 1, as in Keras.
    results = []
    for kwargs in (
        {"class_weight": {2: 3.0, 1.0: 1.0}},
        {"sample_weight": np.where(_Y == 2, 3.0, 1.0)},
    ):
        model = _bn_model()
        nk.utils.set_random_seed(9)  # the same dropout masks
        loss = model.train_on_batch(_X, _Y, **kwargs)
        results.append((loss, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_class_weight_keys_for_a_single_sigmoid_unit_are_0_and_1():
    nk.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((6,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    labels = (_Y % 2).astype("float32")
    model.fit(_X, labels, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(ValueError, match=r"key\(s\) \[2\].*\[0, 2\) for this model"):
        model.fit(_X, labels, class_weight={2: 1.0}, verbose=0)


@pytest.mark.parametrize(
    "class_weight, error, match",
    [
        ([1.0, 2.0], TypeError, r"`class_weight` must be a dict mapping class indices"),
        ({0: "heavy"}, TypeError, r"values must be numbers.*class_weight\[0\]='heavy'"),
        ({0: float("nan")}, ValueError, r"values must be finite.*class_weight\[0\]=nan"),
        ({1.5: 2.0}, ValueError, r"Invalid `class_weight` key\(s\) \[1\.5\]"),
        ({True: 2.0}, ValueError, r"Invalid `class_weight` key\(s\) \[True\]"),
    ],
)
def test_bad_class_weight_raises(class_weight, error, match):
    model = _bn_model()
    snapshot = _snapshot(model)
    with pytest.raises(error, match=match):
        model.fit(_X, _Y, class_weight=class_weight, verbose=0)
    _assert_unchanged(model, snapshot)


# --------------------------------------------------------------------------- loss shapes


@pytest.mark.parametrize("y_shape", [(40, 3), (40,), (40, 2, 5)])
def test_target_shape_that_cannot_match_the_output_names_both_shapes(y_shape):
    nk.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((6,)), layers.Dense(5)])
    model.compile(optimizer="sgd", loss="mse")
    snapshot = _snapshot(model)
    y = np.zeros(y_shape, dtype="float32")
    match = re.escape(f"target.shape={y_shape}, output.shape=(40, 5)")
    for call in (
        lambda: model.fit(_X, y, verbose=0),
        lambda: model.evaluate(_X, y, verbose=0),
        lambda: model.train_on_batch(_X, y),
        lambda: model.test_on_batch(_X, y),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    _assert_unchanged(model, snapshot)


def test_rank_one_targets_for_one_unit_are_legal():
    nk.utils.set_random_seed(0)
    model = models.Sequential([layers.Input((6,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    flat = _Y.astype("float32")
    assert model.evaluate(_X, flat, verbose=0) == model.evaluate(_X, flat[:, None], verbose=0)
    model.fit(_X, flat, verbose=0)


# --------------------------------------------------------------------------- logits in evaluate


def _saturated(kind, loss):
    """A softmax/sigmoid output whose probabilities are 0 or 1 in float32 (huge logits)."""
    rng = np.random.default_rng(5)
    units = 1 if loss == "binary_crossentropy" else 3
    activation = "sigmoid" if units == 1 else "softmax"
    if kind == "sequential":
        model = models.Sequential([layers.Input((6,)), layers.Dense(units, activation=activation)])
    else:
        inp = layers.Input((6,))
        model = models.Model(inp, layers.Dense(units, activation=activation)(inp))
    kernel = rng.normal(size=(6, units)).astype("float32") * 1000
    model.set_weights([kernel, np.zeros(units, "float32")])
    model.compile(optimizer=nk.optimizers.SGD(learning_rate=0.0), loss=loss)
    return model, kernel


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize(
    "loss", ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"]
)
def test_evaluate_computes_crossentropy_from_logits_as_fit_does(kind, loss):
    model, kernel = _saturated(kind, loss)
    labels = _Y % (2 if loss == "binary_crossentropy" else 3)
    z = _X.astype("float64") @ kernel.astype("float64")
    if loss == "binary_crossentropy":
        y = labels.astype("float32")[:, None]
        expected = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    else:
        y = np.eye(3, dtype="float32")[labels] if loss.startswith("categorical") else labels
        log_softmax = z - z.max(axis=1, keepdims=True)
        log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
        expected = -np.mean(log_softmax[np.arange(len(labels)), labels])
    assert expected > 100  # far beyond what clipped probabilities can give (-log(1e-7) = 16.1)
    evaluated = model.evaluate(_X, y, batch_size=40, verbose=0)
    tol.assert_close(evaluated, expected, tol.LOSS_ATOL, tol.LOSS_RTOL, "evaluate loss")
    assert model.test_on_batch(_X, y) == evaluated
    # fit's loss (learning rate 0: the weights stay) follows the same rule.
    fitted = model.fit(_X, y, batch_size=40, shuffle=False, verbose=0).history["loss"][0]
    tol.assert_close(fitted, evaluated, tol.LOSS_ATOL, tol.LOSS_RTOL, "fit loss vs evaluate")


# --------------------------------------------------------------------------- callbacks in fit


def _regression(seed=0, n=32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    w = rng.normal(size=(4, 1)).astype("float32")
    return x, x @ w


def _linear_model(lr=0.1, seed=0):
    nk.utils.set_random_seed(seed)
    model = models.Sequential([layers.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=nk.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def test_terminate_on_nan_stops_and_keeps_last_good_weights():
    x, y = _regression()
    x_bad = x.copy()
    x_bad[13, 2] = np.nan  # in the second batch of 8
    model, reference = _linear_model(), _linear_model()
    for m in (model, reference):
        m.compile(optimizer=nk.optimizers.Adam(0.05), loss="mse")
    reference.fit(x[:8], y[:8], batch_size=8, shuffle=False, verbose=0)  # the good first batch
    history = model.fit(
        x_bad,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[nk.callbacks.TerminateOnNaN()],
    )
    assert model.stop_training
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    for v, expected in zip(model.weights, reference.get_weights()):
        assert np.all(np.isfinite(v.value)), f"{v.path} is not finite"
        np.testing.assert_array_equal(v.value, expected)
    # The optimizer's state is the last good one too, so training can go on.
    for v, expected in zip(model.optimizer.variables, reference.optimizer.variables):
        np.testing.assert_array_equal(v.value, expected.value, err_msg=v.path)
    for m in (model, reference):
        m.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_best_weights():
    x, y = _regression(1)
    # Validation targets of the opposite sign: the better the fit, the worse val_loss.
    x_val, y_val = x[:10], -y[:10]
    model = _linear_model(lr=0.05)
    seen = []
    recorder = nk.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((logs["val_loss"], model.get_weights()))
    )
    stopper = nk.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=30,
        shuffle=False,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[recorder, stopper],
    )
    best = int(np.argmin([loss for loss, _ in seen]))
    assert len(history.epoch) == best + 3 < 30  # stopped after `patience` worse epochs
    assert stopper.stopped_epoch == best + 2
    for value, expected in zip(model.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(value, expected)
    assert not np.array_equal(model.get_weights()[0], seen[-1][1][0])


def test_reduce_lr_on_plateau_changes_the_optimizer_learning_rate():
    x, y = _regression(2)
    model = _linear_model(lr=0.1)
    reduce = nk.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[reduce])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    # Logged: the rate in use during each epoch (epoch 0 improves on +inf; then every epoch halves).
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.1, 0.05], rtol=1e-6)
    # The reduced rate is the one the updates use.
    manual = _linear_model(lr=0.1)
    for lr in (0.1, 0.1, 0.05):
        manual.optimizer.learning_rate = lr
        manual.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), manual.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_scheduler_inside_fit():
    x, y = _regression(3)
    model = _linear_model(lr=0.3)
    scheduler = nk.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(
        x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[scheduler]
    )
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 3)
    manual = _linear_model(lr=0.3)
    for epoch in range(3):
        manual.optimizer.learning_rate = 0.1 / (epoch + 1)
        manual.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), manual.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_csv_logger_writes_the_history(tmp_path):
    x, y = _regression(4)
    model = _linear_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    path = tmp_path / "log.csv"
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        validation_data=(x[:8], y[:8]),
        callbacks=[nk.callbacks.CSVLogger(str(path))],
    )
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for column, key in enumerate(rows[0][1:], start=1):
        np.testing.assert_allclose(
            [float(r[column]) for r in rows[1:]], history.history[key], rtol=1e-7
        )


def test_stop_training_from_a_lambda_callback():
    x, y = _regression(5)
    model = _linear_model()

    def stop_after_second_batch(batch, logs):
        if batch == 1:
            model.stop_training = True

    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[nk.callbacks.LambdaCallback(on_train_batch_end=stop_after_second_batch)],
    )
    assert history.epoch == [0]
    assert int(model.optimizer.iterations.numpy()) == 2


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = _regression(6)
    model = _linear_model()
    weights_path = str(tmp_path / "w_{epoch:02d}.weights.h5")
    model_path = str(tmp_path / "best.keras")
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[
            nk.callbacks.ModelCheckpoint(weights_path, save_weights_only=True),
            nk.callbacks.ModelCheckpoint(model_path, monitor="loss", save_best_only=True),
        ],
    )
    assert (tmp_path / "w_01.weights.h5").exists() and (tmp_path / "w_02.weights.h5").exists()
    restored = _linear_model(seed=99)
    restored.load_weights(str(tmp_path / "w_02.weights.h5"))
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    loaded = nk.saving.load_model(model_path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# --------------------------------------------------------------------------- whole-model gradients


def _check_model_gradients(model, x, y, sample_weight, entries=None, seed=0):
    """``_loss_and_gradients`` vs float64 central differences of the inference loss ``model(x)``.

    Checks every entry of each weight when ``entries`` is None, else ``entries`` random entries
    and one random direction per weight (the directional derivative covers all entries at once).
    """
    loss, *_, grads = model._loss_and_gradients(x, y, sample_weight)

    def inference_loss():
        return float(model._spec.losses[0](y, model(x), sample_weight=sample_weight))

    assert loss == pytest.approx(inference_loss(), rel=1e-12)
    assert set(grads) == set(model.trainable_weights)
    rng = np.random.default_rng(seed)
    for v in model.trainable_weights:
        g = grads[v]
        assert g.dtype == np.float64 and g.shape == v.shape, v.path
        if entries is None:
            tol.assert_close(
                g,
                numerical_gradient(inference_loss, v.value),
                tol.FINITE_DIFF_ATOL,
                tol.FINITE_DIFF_RTOL,
                f"d{v.path}",
            )
            continue
        flat = v.value.reshape(-1)  # a view: slices of it perturb the weight in place
        for i in rng.choice(flat.size, size=min(entries, flat.size), replace=False):
            numeric = numerical_gradient(inference_loss, flat[i : i + 1])[0]
            tol.assert_close(
                g.reshape(-1)[i],
                numeric,
                tol.FINITE_DIFF_ATOL,
                tol.FINITE_DIFF_RTOL,
                f"d{v.path}[{i}]",
            )
        direction = rng.normal(size=v.shape)
        step = np.zeros(1)
        base = v.value.copy()

        def directional_loss(step=step, base=base, direction=direction, v=v):
            v.value[...] = base + step[0] * direction
            value = inference_loss()
            v.value[...] = base
            return value

        numeric = numerical_gradient(directional_loss, step)[0]
        tol.assert_close(
            np.sum(g * direction),
            numeric,
            tol.FINITE_DIFF_ATOL,
            tol.FINITE_DIFF_RTOL,
            f"d{v.path} along a random direction",
        )


def test_shared_layer_gradients_accumulate():
    nk.utils.set_random_seed(1)
    a = nk.Input((4,), dtype=F64)
    b = nk.Input((4,), dtype=F64)
    shared = layers.Dense(5, activation="tanh", dtype=F64)
    h = layers.Add(dtype=F64)([shared(a), shared(b)])
    out = layers.Dense(3, activation="softmax", dtype=F64)(h)
    model = nk.Model([a, b], out)
    model.compile(optimizer="sgd", loss=nk.losses.SparseCategoricalCrossentropy(dtype=F64))
    assert sum(v is shared.kernel for v in model.trainable_weights) == 1
    rng = np.random.default_rng(2)
    x = [rng.normal(size=(6, 4)), rng.normal(size=(6, 4))]
    y = rng.integers(0, 3, size=6)
    _check_model_gradients(model, x, y, rng.uniform(0.5, 1.5, size=6))
    # Each use contributes: the gradient is the sum of the two uses' gradients.
    *_, grads = model._loss_and_gradients(x, y, None)
    *_, grads_same = model._loss_and_gradients([x[0], x[0]], y, None)
    assert not np.allclose(grads[shared.kernel], grads_same[shared.kernel])


def test_nested_sequential_in_functional_gradients_and_training():
    nk.utils.set_random_seed(4)
    inner = models.Sequential(
        [
            layers.Input((4,), dtype=F64),
            layers.Dense(6, activation="relu", dtype=F64),
            layers.Dense(5, activation="tanh", dtype=F64),
        ]
    )
    inputs = nk.Input((4,), dtype=F64)
    outputs = layers.Dense(3, activation="softmax", dtype=F64)(inner(inputs))
    model = nk.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=nk.losses.SparseCategoricalCrossentropy(dtype=F64))
    for v in inner.trainable_weights:
        assert any(v is w for w in model.trainable_weights), v.path
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
    _check_model_gradients(model, x, y, None)
    before = inner.get_weights()
    model.fit(x.astype("float32"), y, epochs=2, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, inner.get_weights()))


def test_reference_cnn_gradients_match_finite_differences():
    nk.utils.set_random_seed(6)
    model = models.Sequential(
        [
            layers.Input((32, 32, 3), dtype=F64),
            layers.Conv2D(32, (3, 3), activation="relu", dtype=F64),
            layers.MaxPooling2D((2, 2), dtype=F64),
            layers.Conv2D(64, (3, 3), activation="relu", dtype=F64),
            layers.MaxPooling2D((2, 2), dtype=F64),
            layers.Conv2D(64, (3, 3), activation="relu", dtype=F64),
            layers.Flatten(dtype=F64),
            layers.Dense(64, activation="relu", dtype=F64),
            layers.Dense(10, activation="softmax", dtype=F64),
        ]
    )
    model.compile(optimizer="sgd", loss=nk.losses.SparseCategoricalCrossentropy(dtype=F64))
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(2, 32, 32, 3)), rng.integers(0, 10, size=2)
    _check_model_gradients(model, x, y, np.array([0.7, 1.3]), entries=3)
