"""Conv1D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose without TensorFlow: shapes, errors,
configs and float64 finite-difference gradients."""

import numpy as np
import pytest

from numpykeras import layers

from gradcheck import check_layer_gradients

GRAD_CASES = [
    ("Conv1D", dict(filters=3, kernel_size=3), (2, 7, 2)),
    ("Conv1D", dict(filters=2, kernel_size=2, padding="causal", dilation_rate=2), (1, 6, 3)),
    ("Conv1D", dict(filters=2, kernel_size=3, strides=2, padding="same"), (2, 7, 2)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2), (2, 5, 6, 2)),
    ("DepthwiseConv2D", dict(kernel_size=2, strides=2, padding="same"), (1, 5, 5, 3)),
    ("SeparableConv2D", dict(filters=3, kernel_size=2, depth_multiplier=2), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), (2, 3, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=2, strides=3), (1, 2, 3, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, data_format="channels_first"), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("cls,kwargs,shape", GRAD_CASES, ids=lambda v: str(v))
def test_gradients_match_finite_differences(cls, kwargs, shape):
    layer = getattr(layers, cls)(**kwargs, dtype="float64", bias_initializer="random_normal")
    layer.build((None,) + shape[1:])
    x = np.random.default_rng(1).normal(size=shape)
    y = layer(x)
    assert y.shape == (shape[0],) + tuple(layer.compute_output_shape((None,) + shape[1:]))[1:]
    check_layer_gradients(layer, x, what=f"{cls} {kwargs}")


def test_conv1d_causal_never_looks_ahead():
    layer = layers.Conv1D(1, 3, padding="causal", use_bias=False)
    x = np.zeros((1, 8, 1), dtype="float32")
    x[0, 5, 0] = 1.0
    y = layer(x)[0, :, 0]
    assert np.all(y[:5] == 0)  # outputs before step 5 don't see the impulse


def test_transpose_is_the_adjoint_of_conv():
    # <conv(u), v> == <u, conv_transpose(v)> for the same kernel: the defining property.
    rng = np.random.default_rng(0)
    conv = layers.Conv2D(3, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    conv.build((None, 8, 8, 2))
    deconv = layers.Conv2DTranspose(
        2, 3, strides=2, padding="same", use_bias=False, dtype="float64"
    )
    deconv.build((None, 4, 4, 3))
    deconv.kernel.assign(
        conv.kernel.numpy()
    )  # (3, 3, 2, 3): (kh, kw, filters, in) for the transpose
    u, v = rng.normal(size=(1, 8, 8, 2)), rng.normal(size=(1, 4, 4, 3))
    np.testing.assert_allclose(np.sum(conv(u) * v), np.sum(u * deconv(v)), rtol=1e-10)


def test_output_shapes_follow_keras_rules():
    assert layers.Conv1D(4, 3).compute_output_shape((None, 10, 2)) == (None, 8, 4)
    assert layers.Conv1D(4, 3, padding="causal").compute_output_shape((None, 10, 2)) == (
        None,
        10,
        4,
    )
    assert layers.DepthwiseConv2D(3, depth_multiplier=3).compute_output_shape((None, 9, 9, 2)) == (
        None,
        7,
        7,
        6,
    )
    assert layers.Conv2DTranspose(5, 3, strides=2).compute_output_shape((None, 4, 4, 2)) == (
        None,
        9,
        9,
        5,
    )
    assert layers.Conv2DTranspose(5, 3, strides=2, padding="same").compute_output_shape(
        (None, 4, 4, 2)
    ) == (None, 8, 8, 5)


def test_invalid_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="output padding"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="filters"):
        layers.SeparableConv2D(0, 3)


@pytest.mark.parametrize("cls,kwargs,shape", GRAD_CASES, ids=lambda v: str(v))
def test_config_round_trip(cls, kwargs, shape):
    layer = getattr(layers, cls)(**kwargs)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
