"""numpykeras losses vs Keras 3 (TensorFlow backend): values, gradients, fused logits, errors."""

import numpy as np
import pytest

from numpykeras import losses

import tolerances as tol

N, C = 6, 4


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def _sigmoid(z):
    return (1 / (1 + np.exp(-z))).astype("float32")


def _data(kind, seed):
    """(y_true, y_pred) float32 of the kind a loss expects."""
    rng = np.random.default_rng(seed)
    f32 = lambda x: np.asarray(x, dtype="float32")  # noqa: E731
    if kind == "regression":
        return f32(rng.normal(size=(N, C))), f32(rng.normal(size=(N, C)))
    if kind == "positive":
        return f32(rng.uniform(0.1, 3, (N, C))), f32(rng.uniform(0.1, 3, (N, C)))
    if kind == "onehot":
        return f32(np.eye(C)[rng.integers(0, C, N)]), _softmax(rng.normal(size=(N, C)) * 2)
    if kind == "unnormalised":
        return f32(np.eye(C)[rng.integers(0, C, N)]), f32(rng.uniform(0.05, 1, (N, C)))
    if kind == "logits":
        return f32(np.eye(C)[rng.integers(0, C, N)]), f32(rng.normal(size=(N, C)) * 2)
    if kind == "sparse":
        return f32(rng.integers(0, C, N)), _softmax(rng.normal(size=(N, C)) * 2)
    if kind == "sparse_column":
        return f32(rng.integers(0, C, (N, 1))), f32(rng.uniform(0.05, 1, (N, C)))
    if kind == "sparse_logits":
        return f32(rng.integers(0, C, N)), f32(rng.normal(size=(N, C)) * 2)
    if kind == "binary":
        return f32(rng.integers(0, 2, (N, C))), f32(rng.uniform(0.02, 0.98, (N, C)))
    if kind == "binary_flat":
        return f32(rng.integers(0, 2, N)), f32(rng.uniform(0.02, 0.98, (N, 1)))
    if kind == "binary_logits":
        return f32(rng.integers(0, 2, (N, C))), f32(rng.normal(size=(N, C)) * 2)
    if kind == "hinge":
        return f32(rng.integers(0, 2, (N, C))), f32(rng.normal(size=(N, C)))
    raise AssertionError(kind)


# (class name, constructor kwargs, data kind)
CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {"delta": 0.8}, "regression"),
    ("LogCosh", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "hinge"),
    ("SquaredHinge", {}, "hinge"),
    ("CategoricalHinge", {}, "logits"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {}, "unnormalised"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {}, "sparse_column"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {}, "binary_flat"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
]
IDS = [f"{name}-{kind}-{'-'.join(map(str, kw.values())) or 'default'}" for name, kw, kind in CASES]


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient(tf, keras, name, kwargs, kind, reduction, weighted):
    seed = sum(map(ord, name + kind)) % 1000
    y_true, y_pred = _data(kind, seed)
    sw = np.random.default_rng(seed + 1).uniform(0, 2, N).astype("float32") if weighted else None
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)

    value = ours(y_true, y_pred, sw)
    pred = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(pred)
        expected = theirs(tf.constant(y_true), pred, None if sw is None else tf.constant(sw))
    upstream = np.random.default_rng(seed + 2).normal(size=np.shape(expected)).astype("float32")
    expected_grad = tape.gradient(expected, pred, output_gradients=tf.constant(upstream))
    tol.assert_close(value, expected.numpy(), tol.LOSS_ATOL, tol.LOSS_RTOL, f"{name} value")

    if reduction == "none":
        # value_and_grad differentiates the sum; weight it by the upstream gradient instead.
        grad = ours.value_and_grad(y_true, y_pred, upstream if sw is None else upstream * sw)[1]
    else:
        loss_value, grad = ours.value_and_grad(y_true, y_pred, sw)
        grad = grad * upstream
        tol.assert_close(loss_value, value, 0, 0, "value_and_grad value == __call__ value")
    tol.assert_grad_close(grad, expected_grad.numpy(), f"{name} gradient")


def test_mean_with_sample_weight_reduction(keras):
    y_true, y_pred = _data("regression", 5)
    sw = np.random.default_rng(6).uniform(0, 2, N).astype("float32")
    for name in ("MeanSquaredError", "Huber"):
        ours = getattr(losses, name)(reduction="mean_with_sample_weight")(y_true, y_pred, sw)
        theirs = getattr(keras.losses, name)(reduction="mean_with_sample_weight")(
            y_true, y_pred, sw
        )
        tol.assert_close(ours, theirs.numpy(), tol.LOSS_ATOL, tol.LOSS_RTOL, name)


def test_ignore_class_matches_keras(keras):
    rng = np.random.default_rng(7)
    labels = np.array([0, 3, -1, 1, -1, 2], dtype="float32")
    probs = _softmax(rng.normal(size=(N, C)))
    sw = rng.uniform(0, 2, N).astype("float32")
    for reduction in ("sum_over_batch_size", "sum", "none"):
        ours = losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction=reduction)
        theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction=reduction)
        for weights in (None, sw):
            tol.assert_close(
                ours(labels, probs, weights),
                theirs(labels, probs, weights).numpy(),
                tol.LOSS_ATOL,
                tol.LOSS_RTOL,
                f"ignore_class {reduction}",
            )


def test_loss_functions_match_keras(keras):
    y_true, y_pred = _data("positive", 8)
    for name in [
        "mean_squared_error",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "huber",
        "log_cosh",
        "kl_divergence",
        "poisson",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "cosine_similarity",
        "categorical_crossentropy",
        "binary_crossentropy",
    ]:
        tol.assert_close(
            getattr(losses, name)(y_true, y_pred),
            getattr(keras.losses, name)(y_true, y_pred).numpy(),
            tol.LOSS_ATOL,
            tol.LOSS_RTOL,
            name,
        )


# ------------------------------------------------------------------ the fused logits path


def _keras_fit_style(tf, keras, loss, activation, y_true, z, sw):
    """Loss and d(loss)/d(logits) as in Keras's fit: traced, the loss sees the activation."""

    @tf.function
    def step(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            y_pred = getattr(keras.activations, activation)(z)
            value = loss(tf.constant(y_true), y_pred, None if sw is None else tf.constant(sw))
        return value, tape.gradient(value, z)

    value, grad = step(tf.constant(z))
    return value.numpy(), grad.numpy()


FUSED = [
    ("CategoricalCrossentropy", {}, "onehot", "softmax"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "onehot", "softmax"),
    ("SparseCategoricalCrossentropy", {}, "sparse", "softmax"),
    ("SparseCategoricalCrossentropy", {}, "sparse_column", "softmax"),
    ("BinaryCrossentropy", {}, "binary", "sigmoid"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary_flat", "sigmoid"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 2}, "sparse", "softmax"),
    # Keras looks through *any* softmax/sigmoid output, whatever the loss expects.
    ("CategoricalCrossentropy", {}, "onehot", "sigmoid"),
]


@pytest.mark.parametrize("name, kwargs, kind, activation", FUSED)
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_logits_match_keras_fit(tf, keras, name, kwargs, kind, activation, weighted):
    seed = sum(map(ord, name + kind + activation)) % 1000
    rng = np.random.default_rng(seed)
    y_true, y_pred = _data(kind, seed)
    # Large logits: saturated probabilities, where the fused path differs from the clipped one.
    z = (rng.normal(size=y_pred.shape) * 12).astype("float32")
    sw = rng.uniform(0, 2, N).astype("float32") if weighted else None
    expected_value, expected_grad = _keras_fit_style(
        tf, keras, getattr(keras.losses, name)(**kwargs), activation, y_true, z, sw
    )
    probs = _softmax(z) if activation == "softmax" else _sigmoid(z)
    ours = getattr(losses, name)(**kwargs)
    value, grad = ours.value_and_grad(y_true, probs, sw, logits=z, activation=activation)
    tol.assert_close(value, expected_value, tol.LOSS_ATOL, tol.LOSS_RTOL, f"{name} fused value")
    tol.assert_grad_close(grad, expected_grad, f"{name} fused gradient w.r.t. logits")


# ------------------------------------------------------------------ error messages


def _keras_message(fn):
    with pytest.raises(Exception) as info:
        fn()
    return str(info.value)


def test_shape_errors_match_keras_wording(keras):
    probs = np.full((3, 4), 0.25, dtype="float32")
    cases = [
        ("CategoricalCrossentropy", np.array([0.0, 1.0, 2.0], dtype="float32")),
        ("CategoricalCrossentropy", np.eye(3, dtype="float32")),
        ("SparseCategoricalCrossentropy", np.eye(4, dtype="float32")[:3]),
        ("SparseCategoricalCrossentropy", np.zeros((2,), dtype="float32")),
        ("BinaryCrossentropy", np.zeros((3, 2), dtype="float32")),
    ]
    for name, labels in cases:
        expected = _keras_message(
            lambda name=name, labels=labels: getattr(keras.losses, name)()(labels, probs)
        )
        with pytest.raises(ValueError) as info:
            getattr(losses, name)()(labels, probs)
        assert str(info.value) == expected, name


def test_out_of_range_label_wording(keras):
    probs = np.full((3, 4), 0.25, dtype="float32")
    labels = np.array([0, 4, 1], dtype="float32")
    expected = _keras_message(lambda: keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    phrase = "Received a label value of 4 which is outside the valid range of [0, 4)"
    assert phrase in expected
    with pytest.raises(ValueError) as info:
        losses.SparseCategoricalCrossentropy()(labels, probs)
    assert phrase in str(info.value)


def test_configs_match_keras(keras):
    for name, kwargs, _ in CASES:
        ours = getattr(losses, name)(**kwargs).get_config()
        theirs = getattr(keras.losses, name)(**kwargs).get_config()
        # Keras 3 drops Huber's delta and CosineSimilarity's axis from the config; we keep them.
        extra = {k: ours[k] for k in set(ours) - set(theirs)}
        assert set(extra) <= {"delta", "axis"}, name
        assert {k: ours[k] for k in theirs} == theirs, name
        # Our configs load in Keras and Keras's load here.
        getattr(keras.losses, name).from_config(ours)
        assert getattr(losses, name).from_config(theirs).name == theirs["name"]
