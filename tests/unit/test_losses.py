"""Unit tests of numpykeras.losses: formulas, reductions, finite-difference gradients, errors."""

import re

import numpy as np
import pytest

from numpykeras import backend, losses

import tolerances as tol

EPS = backend.epsilon()


def _rng(seed=0):
    return np.random.default_rng(seed)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numeric_grad(f, x):
    """Central finite differences of the scalar function ``f`` at ``x`` (float64)."""
    h = tol.FINITE_DIFF_EPS
    grad = np.zeros_like(x)
    for i in range(x.size):
        plus, minus = x.copy(), x.copy()
        plus.flat[i] += h
        minus.flat[i] -= h
        grad.flat[i] = (f(plus) - f(minus)) / (2 * h)
    return grad


def _check_fd(loss, y_true, y_pred, sample_weight=None, logits=None, **kw):
    """value_and_grad's gradient (w.r.t. y_pred, or logits if given) vs finite differences."""
    if logits is None:
        value, grad = loss.value_and_grad(y_true, y_pred, sample_weight)
        numeric = _numeric_grad(lambda p: float(loss(y_true, p, sample_weight)), y_pred)
        assert np.isclose(value, loss(y_true, y_pred, sample_weight), rtol=1e-12)
    else:
        act = kw.get("activation_fn", _softmax)

        def f(z):
            return float(loss.value_and_grad(y_true, act(z), sample_weight, logits=z)[0])

        value, grad = loss.value_and_grad(
            y_true, act(logits), sample_weight, logits=logits, activation=kw.get("activation")
        )
        numeric = _numeric_grad(f, logits)
    assert grad.dtype == np.float64
    tol.assert_close(grad, numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, "fd gradient")
    return value


# ------------------------------------------------------------------ per-sample values (float64)


def test_regression_function_values():
    rng = _rng(1)
    t = rng.uniform(0.1, 2, (3, 4))
    p = rng.uniform(0.1, 2, (3, 4))
    np.testing.assert_allclose(losses.mean_squared_error(t, p), ((t - p) ** 2).mean(-1))
    np.testing.assert_allclose(losses.mae(t, p), np.abs(t - p).mean(-1))
    np.testing.assert_allclose(
        losses.mean_absolute_percentage_error(t, p), 100 * (np.abs(t - p) / np.abs(t)).mean(-1)
    )
    np.testing.assert_allclose(
        losses.msle(t, p), ((np.log(p + 1) - np.log(t + 1)) ** 2).mean(-1), rtol=1e-12
    )
    np.testing.assert_allclose(losses.log_cosh(t, p), np.log(np.cosh(p - t)).mean(-1), rtol=1e-10)
    e = p - t
    expected = np.where(np.abs(e) <= 0.5, 0.5 * e**2, 0.5 * np.abs(e) - 0.125).mean(-1)
    np.testing.assert_allclose(losses.huber(t, p, delta=0.5), expected)
    np.testing.assert_allclose(losses.poisson(t, p), (p - t * np.log(p + EPS)).mean(-1))
    tn = t / t.sum(-1, keepdims=True)
    pn = p / p.sum(-1, keepdims=True)
    np.testing.assert_allclose(losses.kld(tn, pn), (tn * np.log(tn / pn)).sum(-1), rtol=1e-12)
    cos = (t * p).sum(-1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)
    np.testing.assert_allclose(losses.cosine_similarity(t, p), -cos, rtol=1e-12)


def test_hinge_function_values():
    rng = _rng(2)
    p = rng.normal(size=(4, 3))
    labels01 = rng.integers(0, 2, (4, 3)).astype(float)
    pm = 2 * labels01 - 1
    np.testing.assert_allclose(losses.hinge(labels01, p), np.maximum(1 - pm * p, 0).mean(-1))
    np.testing.assert_allclose(
        losses.squared_hinge(labels01, p), (np.maximum(1 - pm * p, 0) ** 2).mean(-1)
    )
    onehot = np.eye(3)[[0, 1, 2, 1]]
    pos = (onehot * p).sum(-1)
    neg = ((1 - onehot) * p).max(-1)
    np.testing.assert_allclose(losses.categorical_hinge(onehot, p), np.maximum(neg - pos + 1, 0))


def test_crossentropy_function_values():
    rng = _rng(3)
    z = rng.normal(size=(5, 4))
    p = _softmax(z)
    labels = rng.integers(0, 4, 5)
    onehot = np.eye(4)[labels]
    ce = -np.log(p[np.arange(5), labels])
    np.testing.assert_allclose(losses.categorical_crossentropy(onehot, p), ce, rtol=1e-10)
    np.testing.assert_allclose(
        losses.categorical_crossentropy(onehot, z, from_logits=True), ce, rtol=1e-10
    )
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, p), ce, rtol=1e-10)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(labels[:, None], z, from_logits=True),
        ce,
        rtol=1e-10,
    )
    smooth = onehot * 0.8 + 0.2 / 4
    np.testing.assert_allclose(
        losses.categorical_crossentropy(onehot, p, label_smoothing=0.2),
        -(smooth * np.log(p)).sum(-1),
        rtol=1e-10,
    )
    t = rng.integers(0, 2, (5, 4)).astype(float)
    q = _sigmoid(z)
    bce = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    np.testing.assert_allclose(losses.binary_crossentropy(t, q), bce.mean(-1), rtol=1e-9)
    np.testing.assert_allclose(
        losses.binary_crossentropy(t, z, from_logits=True), bce.mean(-1), rtol=1e-9
    )
    ts = t * 0.9 + 0.05
    np.testing.assert_allclose(
        losses.binary_crossentropy(t, q, label_smoothing=0.1),
        (-(ts * np.log(q) + (1 - ts) * np.log(1 - q))).mean(-1),
        rtol=1e-9,
    )


def test_probabilities_are_clipped_to_epsilon():
    onehot = np.array([[1.0, 0.0]], dtype="float32")
    value = losses.categorical_crossentropy(onehot, np.array([[0.0, 1.0]], dtype="float32"))
    np.testing.assert_allclose(value, [-np.log(np.float32(EPS))], rtol=1e-6)
    value = losses.binary_crossentropy(np.array([[1.0]]), np.array([[0.0]]))
    np.testing.assert_allclose(value, [-np.log(EPS)], rtol=1e-9)


# ------------------------------------------------------------------ reductions


def test_reductions_and_sample_weight():
    rng = _rng(4)
    t = rng.normal(size=(6, 3))
    p = rng.normal(size=(6, 3))
    w = rng.uniform(0, 2, 6)
    per_sample = ((t - p) ** 2).mean(-1)
    mk = lambda r: losses.MeanSquaredError(reduction=r, dtype="float64")  # noqa: E731
    np.testing.assert_allclose(mk("sum_over_batch_size")(t, p), per_sample.mean())
    np.testing.assert_allclose(mk("sum_over_batch_size")(t, p, w), (per_sample * w).sum() / 6)
    np.testing.assert_allclose(mk("sum")(t, p, w), (per_sample * w).sum())
    np.testing.assert_allclose(mk("mean")(t, p, w), (per_sample * w).sum() / 6)
    np.testing.assert_allclose(
        mk("mean_with_sample_weight")(t, p, w), (per_sample * w).sum() / w.sum()
    )
    np.testing.assert_allclose(mk("none")(t, p, w), per_sample * w)
    np.testing.assert_allclose(mk(None)(t, p), per_sample)
    # (N, 1) weights are squeezed/expanded to the per-sample values as in Keras.
    np.testing.assert_allclose(mk("sum")(t, p, w[:, None]), (per_sample * w).sum())


def test_default_dtype_is_float32_scalar():
    value = losses.MeanSquaredError()([[1.0, 2.0]], [[0.0, 0.0]])
    assert isinstance(value, np.float32) and value == np.float32(2.5)
    value, grad = losses.MeanSquaredError().value_and_grad([[1.0, 2.0]], [[0.0, 0.0]])
    assert isinstance(value, np.float32) and grad.dtype == np.float32


def test_invalid_reduction():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        losses.MeanSquaredError(reduction="avg")


def test_ignore_class_masks_entries():
    rng = _rng(5)
    p = _softmax(rng.normal(size=(6, 3)))
    labels = np.array([0, 2, -1, 1, -1, 2])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1, dtype="float64")
    valid = labels != -1
    ce = -np.log(p[np.arange(6)[valid], labels[valid]])
    np.testing.assert_allclose(loss(labels, p), ce.mean(), rtol=1e-10)
    summed = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction="sum", dtype="float64")
    np.testing.assert_allclose(summed(labels, p), ce.sum(), rtol=1e-10)


# ------------------------------------------------------------------ gradients (finite differences)

REGRESSION = [
    losses.MeanSquaredError,
    losses.MeanAbsoluteError,
    losses.MeanAbsolutePercentageError,
    losses.MeanSquaredLogarithmicError,
    losses.LogCosh,
    losses.Poisson,
    lambda **kw: losses.Huber(delta=0.7, **kw),
    losses.CosineSimilarity,
]


@pytest.mark.parametrize("make", REGRESSION)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_regression_gradients(make, reduction):
    rng = _rng(6)
    t = rng.uniform(0.2, 2, (4, 3))
    p = rng.uniform(0.2, 2, (4, 3))
    w = rng.uniform(0.5, 2, 4)
    loss = make(reduction=reduction, dtype="float64")
    _check_fd(loss, t, p, w)


@pytest.mark.parametrize(
    "make", [losses.Hinge, losses.SquaredHinge, losses.CategoricalHinge, losses.KLDivergence]
)
def test_classification_like_gradients(make):
    rng = _rng(7)
    t = np.eye(4)[rng.integers(0, 4, 5)]
    p = _softmax(rng.normal(size=(5, 4)))
    _check_fd(make(dtype="float64"), t, p, rng.uniform(0.5, 2, 5))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_categorical_crossentropy_gradient(from_logits, label_smoothing):
    rng = _rng(8)
    z = rng.normal(size=(4, 3))
    t = np.eye(3)[rng.integers(0, 3, 4)]
    # Unnormalised probabilities exercise the renormalisation's gradient.
    p = z if from_logits else rng.uniform(0.1, 0.9, (4, 3))
    loss = losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, dtype="float64"
    )
    _check_fd(loss, t, p, rng.uniform(0.5, 2, 4))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_sparse_categorical_crossentropy_gradient(from_logits, label_shape):
    rng = _rng(9)
    z = rng.normal(size=(5, 4))
    labels = rng.integers(0, 4, 5)
    labels = labels[:, None] if label_shape == "column" else labels
    p = z if from_logits else rng.uniform(0.1, 0.9, (5, 4))
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits, dtype="float64")
    _check_fd(loss, labels, p, rng.uniform(0.5, 2, 5))


def test_sparse_categorical_crossentropy_ignore_class_gradient():
    rng = _rng(10)
    labels = np.array([0, 3, 255, 1, 255])
    p = rng.uniform(0.1, 0.9, (5, 4))
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255, dtype="float64")
    _check_fd(loss, labels, p)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_binary_crossentropy_gradient(from_logits, label_smoothing):
    rng = _rng(11)
    t = rng.integers(0, 2, (4, 3)).astype(float)
    p = rng.normal(size=(4, 3)) if from_logits else rng.uniform(0.05, 0.95, (4, 3))
    loss = losses.BinaryCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, dtype="float64"
    )
    _check_fd(loss, t, p, rng.uniform(0.5, 2, 4))


def test_binary_crossentropy_flat_labels_gradient():
    rng = _rng(12)
    t = rng.integers(0, 2, 6).astype(float)
    p = rng.uniform(0.05, 0.95, (6, 1))
    value = _check_fd(losses.BinaryCrossentropy(dtype="float64"), t, p)
    q = p[:, 0]
    expected = -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean()
    np.testing.assert_allclose(value, expected, rtol=1e-10)


# ------------------------------------------------------------------ fused logits path


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_fused_categorical_gradient_is_wrt_logits(label_smoothing):
    rng = _rng(13)
    z = rng.normal(size=(4, 3)) * 3
    t = np.eye(3)[rng.integers(0, 3, 4)]
    loss = losses.CategoricalCrossentropy(label_smoothing=label_smoothing, dtype="float64")
    assert loss.supports_logits
    value = _check_fd(loss, t, None, rng.uniform(0.5, 2, 4), logits=z)
    # Computed from the logits: the same as from_logits=True.
    logit_loss = losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=label_smoothing, dtype="float64"
    )
    w = rng.uniform(0.5, 2, 4)
    np.testing.assert_allclose(
        loss.value_and_grad(t, _softmax(z), w, logits=z)[1],
        logit_loss.value_and_grad(t, z, w)[1],
        rtol=1e-12,
    )
    assert np.isfinite(value)


def test_fused_path_survives_saturated_softmax():
    """Logits so large that softmax saturates: probabilities clip, the logits path does not."""
    z = np.array([[60.0, 0.0, -60.0]], dtype="float32")
    t = np.array([[0.0, 0.0, 1.0]], dtype="float32")
    loss = losses.CategoricalCrossentropy()
    value, grad = loss.value_and_grad(t, _softmax(z).astype("float32"), logits=z)
    np.testing.assert_allclose(value, 120.0, rtol=1e-6)
    np.testing.assert_allclose(grad, [[1.0, 0.0, -1.0]], atol=1e-6)
    assert loss(t, _softmax(z)) < 20  # the probability path clips at epsilon


def test_fused_sparse_and_binary_gradients():
    rng = _rng(14)
    z = rng.normal(size=(5, 4))
    labels = rng.integers(0, 4, 5)
    _check_fd(losses.SparseCategoricalCrossentropy(dtype="float64"), labels, None, logits=z)
    t = rng.integers(0, 2, (5, 4)).astype(float)
    _check_fd(
        losses.BinaryCrossentropy(label_smoothing=0.1, dtype="float64"),
        t,
        None,
        rng.uniform(0.5, 2, 5),
        logits=z,
        activation_fn=_sigmoid,
    )


def test_fused_fallback_ignore_class_chains_through_softmax():
    rng = _rng(15)
    z = rng.normal(size=(5, 4))
    labels = np.array([1, -1, 0, 3, -1])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1, dtype="float64")
    value = _check_fd(loss, labels, None, logits=z)
    # Keras computes this case from the probabilities.
    np.testing.assert_allclose(value, loss(labels, _softmax(z)), rtol=1e-12)


def test_from_logits_true_with_logits_warns_and_uses_logits():
    rng = _rng(16)
    z = rng.normal(size=(3, 4))
    t = np.eye(4)[[0, 1, 2]]
    loss = losses.CategoricalCrossentropy(from_logits=True, dtype="float64")
    with pytest.warns(UserWarning, match="does not represent logits"):
        value, _ = loss.value_and_grad(t, _softmax(z), logits=z)
    np.testing.assert_allclose(value, loss(t, z), rtol=1e-12)


def test_logits_ignored_by_other_losses():
    loss = losses.MeanSquaredError(dtype="float64")
    assert not loss.supports_logits
    t, p = np.ones((2, 3)), np.zeros((2, 3))
    value, grad = loss.value_and_grad(t, p, logits=np.full((2, 3), 5.0))
    np.testing.assert_allclose(grad, np.full((2, 3), -2 / 6))
    assert value == 1.0


def test_logits_shape_must_match():
    loss = losses.CategoricalCrossentropy()
    with pytest.raises(ValueError, match="`logits` and `y_pred` must have the same shape"):
        loss.value_and_grad(np.eye(3), np.eye(3), logits=np.zeros((3, 2)))


# ------------------------------------------------------------------ label validation


def test_sparse_label_out_of_range():
    p = np.full((3, 4), 0.25, dtype="float32")
    with pytest.raises(ValueError, match=r"label value of 4 .*valid range of \[0, 4\)"):
        losses.SparseCategoricalCrossentropy()([0, 4, 1], p)
    with pytest.raises(ValueError, match=r"label value of -1"):
        losses.SparseCategoricalCrossentropy().value_and_grad([0, -1, 1], p)


def test_one_hot_labels_to_sparse_crossentropy():
    p = np.full((3, 4), 0.25, dtype="float32")
    with pytest.raises(ValueError, match=r"must have rank \(ndim\) `target.ndim - 1`"):
        losses.SparseCategoricalCrossentropy()(np.eye(4)[:3], p)


def test_flat_labels_to_categorical_crossentropy():
    p = np.full((3, 4), 0.25, dtype="float32")
    with pytest.raises(ValueError, match=r"same rank \(ndim\).*target.shape=\(3,\)"):
        losses.CategoricalCrossentropy()([0, 1, 2], p)
    with pytest.raises(ValueError, match="must have the same shape"):
        losses.CategoricalCrossentropy()(np.eye(3), p)


def test_binary_crossentropy_shape_mismatch():
    with pytest.raises(ValueError, match="must have the same shape"):
        losses.BinaryCrossentropy()(np.zeros((3, 2)), np.zeros((3, 4)))


_ELEMENTWISE = [
    losses.MeanSquaredError,
    losses.MeanAbsoluteError,
    losses.MeanAbsolutePercentageError,
    losses.MeanSquaredLogarithmicError,
    losses.Huber,
    losses.LogCosh,
    losses.CosineSimilarity,
    losses.KLDivergence,
    losses.Poisson,
    losses.Hinge,
    losses.SquaredHinge,
    losses.CategoricalHinge,
]


@pytest.mark.parametrize("cls", _ELEMENTWISE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("y_shape", [(10, 3), (10,), (10, 2, 5)])
def test_targets_that_cannot_broadcast_name_both_shapes(cls, y_shape):
    loss = cls()
    y_true, y_pred = np.ones(y_shape, "float32"), np.full((10, 5), 0.5, "float32")
    match = re.escape(f"target.shape={y_shape}, output.shape=(10, 5)")
    with pytest.raises(ValueError, match=r"must have compatible shapes.*" + match):
        loss(y_true, y_pred)
    with pytest.raises(ValueError, match=match):
        loss.value_and_grad(y_true, y_pred)


@pytest.mark.parametrize("y_shape", [(10, 1), (10, 5, 1), (10, 5)])
def test_targets_that_broadcast_or_differ_by_a_unit_axis_are_accepted(y_shape):
    # Keras squeezes or expands a trailing axis of size 1 and otherwise broadcasts.
    rng = _rng(21)
    y_true = rng.normal(size=y_shape)
    y_pred = rng.normal(size=(10, 5))
    expected = np.mean((np.broadcast_to(y_true.reshape(10, -1), (10, 5)) - y_pred) ** 2)
    value = losses.MeanSquaredError(dtype="float64")(y_true, y_pred)
    np.testing.assert_allclose(value, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "loss, activation, targets",
    [
        (losses.CategoricalCrossentropy(dtype="float64"), _softmax, np.eye(4)[[0, 3, 1, 2, 2]]),
        (losses.SparseCategoricalCrossentropy(dtype="float64"), _softmax, [0, 3, 1, 2, 2]),
        (losses.BinaryCrossentropy(dtype="float64"), _sigmoid, np.eye(4)[[0, 3, 1, 2, 2]]),
    ],
    ids=["categorical", "sparse", "binary"],
)
def test_call_from_logits_is_the_training_value(loss, activation, targets):
    z = _rng(22).normal(size=(5, 4)) * 50  # saturated probabilities
    weights = _rng(23).uniform(0.5, 2, 5)
    act = "sigmoid" if activation is _sigmoid else "softmax"
    value = loss.call_from_logits(targets, activation(z), z, act, sample_weight=weights)
    trained, _ = loss.value_and_grad(targets, activation(z), weights, logits=z, activation=act)
    np.testing.assert_allclose(value, trained, rtol=1e-12)
    from_logits = type(loss)(from_logits=True, dtype="float64")
    np.testing.assert_allclose(value, from_logits(targets, z, weights), rtol=1e-12)
    assert value > loss(targets, activation(z), weights)  # the probabilities clip


def test_call_from_logits_of_a_loss_without_logits_uses_the_predictions():
    loss = losses.MeanSquaredError(dtype="float64")
    t, p = np.ones((2, 3)), np.zeros((2, 3))
    assert loss.call_from_logits(t, p, np.full((2, 3), 5.0), "softmax") == loss(t, p)


def test_sparse_axis_must_be_last():
    with pytest.raises(ValueError, match="Only axis=-1 is currently supported"):
        losses.sparse_categorical_crossentropy(np.zeros((2, 3)), np.ones((2, 4, 3)) / 4, axis=1)


# ------------------------------------------------------------------ get / config / wrappers

ALL_CLASSES = [
    losses.MeanSquaredError,
    losses.MeanAbsoluteError,
    losses.MeanAbsolutePercentageError,
    losses.MeanSquaredLogarithmicError,
    losses.CosineSimilarity,
    losses.Huber,
    losses.LogCosh,
    losses.Hinge,
    losses.SquaredHinge,
    losses.CategoricalHinge,
    losses.KLDivergence,
    losses.Poisson,
    losses.BinaryCrossentropy,
    losses.CategoricalCrossentropy,
    losses.SparseCategoricalCrossentropy,
]


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_config_round_trip(cls):
    loss = cls(name="custom_name", reduction="sum")
    config = loss.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config and type(again) is cls
    restored = losses.deserialize(losses.serialize(loss))
    assert type(restored) is cls and restored.get_config() == config


def test_non_default_options_round_trip():
    for loss in [
        losses.Huber(delta=2.5),
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
        losses.SparseCategoricalCrossentropy(ignore_class=3),
        losses.BinaryCrossentropy(label_smoothing=0.1, axis=1),
    ]:
        again = losses.get(losses.serialize(loss))
        assert again.get_config() == loss.get_config()
    assert losses.get({"class_name": "Huber", "config": {"delta": 2.0}}).delta == 2.0


def test_get_identifiers():
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("sparse_categorical_crossentropy") is losses.sparse_categorical_crossentropy
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    instance = losses.Huber()
    assert losses.get(instance) is instance
    assert losses.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret loss identifier: nope"):
        losses.get("nope")
    fn_config = losses.serialize(losses.mean_absolute_error)
    assert fn_config["class_name"] == "function" and fn_config["config"] == "mean_absolute_error"
    assert losses.deserialize(fn_config) is losses.mean_absolute_error


def test_function_wrapper_trains_with_builtin_functions():
    wrapped = losses.LossFunctionWrapper(losses.huber, delta=0.5, dtype="float64")
    rng = _rng(17)
    t, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    _check_fd(wrapped, t, p)
    again = losses.LossFunctionWrapper.from_config(wrapped.get_config())
    assert again.fn is losses.huber and again.get_config() == wrapped.get_config()


def test_user_function_has_no_gradient():
    def my_loss(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    wrapped = losses.resolve_loss(my_loss, np.zeros((2, 3)), np.zeros((2, 3)))
    assert wrapped.name == "my_loss"
    np.testing.assert_allclose(wrapped(np.ones((2, 3)), np.zeros((2, 3))), 1.0)
    with pytest.raises(ValueError, match="has no gradient in numpykeras"):
        wrapped.value_and_grad(np.ones((2, 3)), np.zeros((2, 3)))


def test_resolve_loss_crossentropy_shortcut():
    rl = losses.resolve_loss
    assert rl("ce", np.zeros((4, 1)), np.zeros((4, 1))).fn is losses.binary_crossentropy
    assert rl("crossentropy", np.zeros(4), np.zeros((4, 3))).fn is (
        losses.sparse_categorical_crossentropy
    )
    assert rl("CE", np.zeros((4, 3)), np.zeros((4, 3))).fn is losses.categorical_crossentropy
    assert rl("mse", None, None).name == "mse"
    assert isinstance(rl("Huber", None, None), losses.Huber)


def test_sparse_labels_that_are_nan_get_a_clear_error():
    from numpykeras import losses as L

    with pytest.raises(ValueError, match="finite class indices"):
        L.sparse_categorical_crossentropy(np.array([0.0, np.nan]), np.full((2, 3), 1 / 3))
