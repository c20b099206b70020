"""Float64 finite-difference checks of every layer's ``backward``: ``dx`` and each weight gradient,
with a random upstream gradient, over the layers' options."""

import numpy as np
import pytest

from numpykeras import layers

import tolerances as tol
from gradcheck import check_layer_gradients

F64 = "float64"

# Every activation name numpykeras implements (Keras 3 names and aliases).
ACTIVATIONS = [
    "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "elu", "selu", "softplus",
    "softsign", "silu", "swish", "gelu", "tanh", "sigmoid", "exponential", "hard_sigmoid",
    "hard_silu", "hard_swish", "linear", "mish",
]  # fmt: skip


def _randomize(layer, seed=1):
    rng = np.random.default_rng(seed)
    values = []
    for v in layer.weights:
        if "variance" in v.name:
            values.append(rng.uniform(0.5, 2.0, size=v.shape))
        else:
            values.append(rng.normal(size=v.shape))
    layer.set_weights(values)


# (id, factory, input shape, training)
CASES = [
    # Dense
    ("dense", lambda: layers.Dense(3, dtype=F64), (4, 5), False),
    ("dense-3d", lambda: layers.Dense(3, dtype=F64), (2, 3, 4), False),
    ("dense-nobias", lambda: layers.Dense(3, use_bias=False, dtype=F64), (4, 5), False),
    ("dense-relu", lambda: layers.Dense(3, activation="relu", dtype=F64), (4, 5), False),
    ("dense-softmax", lambda: layers.Dense(4, activation="softmax", dtype=F64), (3, 5), False),
    ("dense-sigmoid", lambda: layers.Dense(2, activation="sigmoid", dtype=F64), (3, 2, 5), False),
    # Conv2D
    ("conv-k1", lambda: layers.Conv2D(2, 1, dtype=F64), (2, 4, 5, 3), False),
    ("conv-k2", lambda: layers.Conv2D(2, 2, dtype=F64), (2, 5, 4, 3), False),
    ("conv-k3-same", lambda: layers.Conv2D(2, 3, padding="same", dtype=F64), (2, 5, 4, 2), False),
    ("conv-k3-s2", lambda: layers.Conv2D(2, 3, strides=2, dtype=F64), (1, 7, 6, 2), False),
    (
        "conv-k3-s2-same",
        lambda: layers.Conv2D(2, 3, strides=2, padding="same", dtype=F64),
        (1, 6, 7, 2),
        False,
    ),
    (
        "conv-k2-s3-same",
        lambda: layers.Conv2D(2, 2, 3, padding="same", dtype=F64),
        (1, 7, 8, 2),
        False,
    ),
    ("conv-rect", lambda: layers.Conv2D(2, (2, 3), strides=(2, 1), dtype=F64), (1, 6, 5, 2), False),
    ("conv-dil2", lambda: layers.Conv2D(2, 2, dilation_rate=2, dtype=F64), (1, 6, 5, 2), False),
    (
        "conv-dil2-same",
        lambda: layers.Conv2D(2, 3, dilation_rate=(2, 1), padding="same", dtype=F64),
        (1, 5, 6, 2),
        False,
    ),
    ("conv-groups", lambda: layers.Conv2D(4, 2, groups=2, dtype=F64), (2, 4, 4, 4), False),
    (
        "conv-groups-same",
        lambda: layers.Conv2D(6, 3, groups=3, padding="same", dtype=F64),
        (1, 4, 4, 3),
        False,
    ),
    ("conv-nobias", lambda: layers.Conv2D(2, 3, use_bias=False, dtype=F64), (1, 5, 5, 2), False),
    ("conv-relu", lambda: layers.Conv2D(3, 2, activation="relu", dtype=F64), (2, 4, 4, 2), False),
    ("conv-tanh", lambda: layers.Conv2D(3, 2, activation="tanh", dtype=F64), (1, 4, 4, 2), False),
    (
        "conv-softmax",
        lambda: layers.Conv2D(3, 2, activation="softmax", dtype=F64),
        (1, 4, 4, 2),
        False,
    ),
    (
        "conv-cf",
        lambda: layers.Conv2D(
            3, 2, strides=2, padding="same", data_format="channels_first", dtype=F64
        ),
        (2, 2, 5, 4),
        False,
    ),
    # Pooling
    ("maxpool", lambda: layers.MaxPooling2D(dtype=F64), (2, 4, 6, 2), False),
    ("maxpool-odd-valid", lambda: layers.MaxPooling2D(2, dtype=F64), (1, 5, 5, 2), False),
    (
        "maxpool-same",
        lambda: layers.MaxPooling2D(2, padding="same", dtype=F64),
        (1, 5, 5, 2),
        False,
    ),
    ("maxpool-p3s1", lambda: layers.MaxPooling2D(3, 1, dtype=F64), (1, 5, 4, 2), False),
    (
        "maxpool-p3s2-same",
        lambda: layers.MaxPooling2D(3, 2, "same", dtype=F64),
        (1, 5, 6, 2),
        False,
    ),
    (
        "maxpool-cf",
        lambda: layers.MaxPooling2D(2, data_format="channels_first", dtype=F64),
        (1, 2, 4, 5),
        False,
    ),
    ("avgpool", lambda: layers.AveragePooling2D(dtype=F64), (2, 4, 6, 2), False),
    (
        "avgpool-same",
        lambda: layers.AveragePooling2D(2, padding="same", dtype=F64),
        (1, 5, 5, 2),
        False,
    ),
    ("avgpool-p3s1", lambda: layers.AveragePooling2D(3, 1, dtype=F64), (1, 5, 4, 2), False),
    (
        "avgpool-p3s2-same",
        lambda: layers.AveragePooling2D(3, 2, "same", dtype=F64),
        (1, 5, 6, 2),
        False,
    ),
    (
        "avgpool-cf",
        lambda: layers.AveragePooling2D(2, 1, "same", data_format="channels_first", dtype=F64),
        (1, 2, 3, 4),
        False,
    ),
    ("gap", lambda: layers.GlobalAveragePooling2D(dtype=F64), (2, 3, 4, 2), False),
    (
        "gap-keep",
        lambda: layers.GlobalAveragePooling2D(keepdims=True, dtype=F64),
        (2, 3, 4, 2),
        False,
    ),
    (
        "gap-cf",
        lambda: layers.GlobalAveragePooling2D("channels_first", dtype=F64),
        (2, 3, 4, 2),
        False,
    ),
    ("gmp", lambda: layers.GlobalMaxPooling2D(dtype=F64), (2, 3, 4, 2), False),
    ("gmp-keep", lambda: layers.GlobalMaxPooling2D(keepdims=True, dtype=F64), (2, 3, 4, 2), False),
    ("gmp-cf", lambda: layers.GlobalMaxPooling2D("channels_first", dtype=F64), (2, 3, 4, 2), False),
    # BatchNormalization
    ("bn-train", lambda: layers.BatchNormalization(dtype=F64), (6, 3), True),
    ("bn-train-4d", lambda: layers.BatchNormalization(dtype=F64), (3, 2, 3, 2), True),
    ("bn-train-axis1", lambda: layers.BatchNormalization(axis=1, dtype=F64), (3, 2, 3, 2), True),
    (
        "bn-train-nocenter",
        lambda: layers.BatchNormalization(center=False, epsilon=0.1, dtype=F64),
        (5, 3),
        True,
    ),
    ("bn-train-noscale", lambda: layers.BatchNormalization(scale=False, dtype=F64), (5, 3), True),
    (
        "bn-train-plain",
        lambda: layers.BatchNormalization(center=False, scale=False, dtype=F64),
        (5, 3),
        True,
    ),
    ("bn-infer", lambda: layers.BatchNormalization(dtype=F64), (4, 3), False),
    ("bn-infer-axis1", lambda: layers.BatchNormalization(axis=1, dtype=F64), (2, 3, 2), False),
    # Reshaping and the rest
    ("flatten", lambda: layers.Flatten(dtype=F64), (2, 3, 2, 2), False),
    ("flatten-cf", lambda: layers.Flatten("channels_first", dtype=F64), (2, 3, 2, 2), False),
    ("reshape", lambda: layers.Reshape((4, 3), dtype=F64), (2, 3, 2, 2), False),
    ("reshape-1", lambda: layers.Reshape((-1, 2), dtype=F64), (2, 3, 4), False),
    ("zeropad", lambda: layers.ZeroPadding2D(dtype=F64), (1, 3, 2, 2), False),
    (
        "zeropad-asym",
        lambda: layers.ZeroPadding2D(((0, 2), (1, 0)), dtype=F64),
        (1, 3, 2, 2),
        False,
    ),
    (
        "zeropad-cf",
        lambda: layers.ZeroPadding2D((2, 1), data_format="channels_first", dtype=F64),
        (1, 2, 3, 2),
        False,
    ),
    ("dropout0-train", lambda: layers.Dropout(0.0, dtype=F64), (3, 4), True),
    ("dropout-infer", lambda: layers.Dropout(0.5, dtype=F64), (3, 4), False),
] + [
    (f"act-{a}", (lambda a=a: layers.Activation(a, dtype=F64)), (3, 5), False) for a in ACTIVATIONS
]


@pytest.mark.parametrize(
    "factory,shape,training", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_backward_matches_finite_differences(factory, shape, training):
    layer = factory()
    x = np.random.default_rng(0).normal(size=shape)
    layer(x)
    _randomize(layer)
    check_layer_gradients(layer, x, training=training, seed=2, what=layer.name)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"negative_slope": 0.1, "max_value": 2.0}, {"threshold": 0.5}],
    ids=["plain", "slope-max", "threshold"],
)
def test_parametrized_relu_activation_gradients(kwargs):
    from functools import partial

    from numpykeras import activations

    layer = layers.Activation(partial(activations.relu, **kwargs), dtype=F64)
    x = np.random.default_rng(0).normal(size=(3, 5)) * 2
    layer(x)
    check_layer_gradients(layer, x, what=str(kwargs))


def test_dropout_training_gradient_is_the_forward_mask():
    """The mask is random per call, so finite differences don't apply: the layer is linear in x
    for a fixed mask, and dx must be dy times that same mask."""
    layer = layers.Dropout(0.4, seed=3, dtype=F64)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 7))
    y, cache = layer.forward(x, training=True)
    scale = np.where(y == 0, 0.0, y / x)  # the mask the forward pass applied
    assert set(np.round(np.unique(scale), 12)) <= {0.0, round(1 / 0.6, 12)}
    dy = rng.normal(size=y.shape)
    dx, grads = layer.backward(dy, cache)
    assert grads == {}
    tol.assert_close(dx, dy * scale, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "dropout dx")


def test_batchnorm_training_gradient_with_float32_matches_float64():
    """The float32 training path computes the same gradients as float64 to float32 accuracy."""
    x = np.random.default_rng(0).normal(size=(8, 4)) * 3 + 1
    dy = np.random.default_rng(1).normal(size=x.shape)
    results = []
    for dtype in ("float32", "float64"):
        layer = layers.BatchNormalization(dtype=dtype)
        layer(x)
        _randomize(layer)
        y, cache = layer.forward(x.astype(dtype), training=True)
        dx, grads = layer.backward(dy.astype(dtype), cache)
        results.append((y, dx, [grads[v] for v in layer.trainable_weights]))
    (y32, dx32, g32), (y64, dx64, g64) = results
    assert y32.dtype == dx32.dtype == np.float32
    tol.assert_forward_close(y32, y64, "bn y")
    tol.assert_grad_close(dx32, dx64, "bn dx")
    for a, b in zip(g32, g64):
        tol.assert_grad_close(a, b, "bn weight grad")


def test_sequential_backward_matches_finite_differences():
    """A whole small stack, through the model's tape."""
    from numpykeras import models

    model = models.Sequential(
        [
            layers.Input(shape=(5, 5, 2), dtype=F64),
            layers.Conv2D(3, 2, activation="tanh", dtype=F64),
            layers.MaxPooling2D(2, padding="same", dtype=F64),
            layers.BatchNormalization(dtype=F64),
            layers.Flatten(dtype=F64),
            layers.Dense(3, activation="softmax", dtype=F64),
        ]
    )
    _randomize(model)
    x = np.random.default_rng(0).normal(size=(3, 5, 5, 2))
    y, tape = model.forward(x, training=True)
    dy = np.random.default_rng(1).normal(size=y.shape)
    dx, grads = model.backward(dy, tape)

    def loss():
        return float(np.sum(model.forward(x, training=True)[0] * dy))

    from gradcheck import numerical_gradient

    tol.assert_close(
        dx, numerical_gradient(loss, x), tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, "model dx"
    )
    for v in model.trainable_weights:
        tol.assert_close(
            grads[v],
            numerical_gradient(loss, v.value),
            tol.FINITE_DIFF_ATOL,
            tol.FINITE_DIFF_RTOL,
            v.path,
        )
