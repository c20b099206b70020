"""Fused inference (``models/_fusion.py``) vs Keras 3: ResNet- and MobileNet-style blocks built in
both libraries with the same names, Keras's weights copied after giving every BatchNormalization
random moving statistics, then ``predict`` (where numpykeras runs conv -> BN -> add -> ReLU
chains as one kernel call each) compared."""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session
from numpykeras.models import _fusion

from error_bounds import output_sigma
from tolerances import assert_sigma_close

SHAPE = (9, 9, 4)


def resnet_blocks(m):
    """An identity block, then a strided block with a conv + BN shortcut."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.Conv2D(4, 3, padding="same", name="a_conv1")(inp)
    y = L.BatchNormalization(name="a_bn1")(y)
    y = L.Activation("relu", name="a_relu1")(y)
    y = L.Conv2D(4, 3, padding="same", name="a_conv2")(y)
    y = L.BatchNormalization(name="a_bn2")(y)
    y = L.Add(name="a_add")([y, inp])
    a = L.Activation("relu", name="a_out")(y)
    y = L.Conv2D(8, 3, strides=2, padding="same", name="b_conv1")(a)
    y = L.BatchNormalization(name="b_bn1")(y)
    y = L.ReLU(name="b_relu1")(y)
    y = L.Conv2D(8, 3, padding="same", name="b_conv2")(y)
    y = L.BatchNormalization(name="b_bn2")(y)
    s = L.Conv2D(8, 1, strides=2, name="b_shortcut")(a)
    s = L.BatchNormalization(name="b_shortcut_bn")(s)
    y = L.Add(name="b_add")([y, s])
    out = L.ReLU(name="b_out")(y)
    return m.Model(inp, out, name="resnet_blocks")


def mobilenet_blocks(m):
    """MobileNetV2's stem (explicit padding, strided conv, ReLU6), then an inverted residual
    block with its Add."""
    L = m.layers
    inp = m.Input(SHAPE, name="x")
    y = L.ZeroPadding2D(((0, 1), (0, 1)), name="stem_pad")(inp)
    y = L.Conv2D(8, 3, strides=2, use_bias=False, name="stem_conv")(y)
    y = L.BatchNormalization(name="stem_bn")(y)
    stem = L.ReLU(6.0, name="stem_relu")(y)
    y = L.Conv2D(16, 1, use_bias=False, name="expand")(stem)
    y = L.BatchNormalization(name="expand_bn")(y)
    y = L.Activation("relu6", name="expand_relu")(y)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise")(y)
    y = L.BatchNormalization(name="depthwise_bn")(y)
    y = L.ReLU(6.0, name="depthwise_relu")(y)
    y = L.Conv2D(8, 1, use_bias=False, name="project")(y)
    y = L.BatchNormalization(name="project_bn")(y)
    out = L.Add(name="add")([stem, y])
    return m.Model(inp, out, name="mobilenet_blocks")


FUSED_STEPS = {"resnet_blocks": 5, "mobilenet_blocks": 4}


def _pair(keras, build, seed):
    """(numpykeras model, Keras model) with the same names and Keras's weights, after random
    gamma, beta, biases and moving statistics in Keras."""
    keras.backend.clear_session()
    clear_session()
    theirs = build(keras)
    rng = np.random.default_rng(seed)
    for layer in theirs.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, c) * rng.choice([-1.0, 1.0], c))
            layer.beta.assign(rng.normal(0.0, 0.5, c))
            layer.moving_mean.assign(rng.normal(0.0, 0.5, c))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, c))
        elif getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0.0, 0.5, layer.bias.shape))
    ours = build(nk)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize("build", [resnet_blocks, mobilenet_blocks], ids=lambda b: b.__name__)
def test_fused_predict_matches_keras(keras, build):
    ours, theirs = _pair(keras, build, seed=len(build.__name__))
    plan = _fusion.functional_plan(ours)
    assert sum(step.fused is not None for step in plan) == FUSED_STEPS[build.__name__]
    x = (2.0 * np.random.default_rng(0).standard_normal((3,) + SHAPE)).astype("float32")
    expected = theirs.predict(x, verbose=0)
    sigma = output_sigma(theirs, x)[1]
    assert_sigma_close(ours.predict(x, verbose=0), expected, sigma, f"{build.__name__} predict")
    assert_sigma_close(ours.predict_on_batch(x), expected, sigma, f"{build.__name__} on batch")
    assert_sigma_close(ours(x[:1]), expected[:1], sigma[:1], f"{build.__name__} call")
