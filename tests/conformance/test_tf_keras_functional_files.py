"""Keras 2 (tf_keras) full-model ``.h5`` files of real Functional architectures load and agree:
a small U-Net (skip connections, Conv2DTranspose, UpSampling2D, Concatenate) and a small residual
1-D CNN (Conv1D, Add, ReLU, global pooling)."""

import numpy as np
import pytest

import numpykeras as nk

from error_bounds import output_sigma
from tolerances import assert_sigma_close


def _unet(k):
    L = k.layers
    inp = k.Input((16, 16, 1), name="image")
    c1 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(inp)
    p1 = L.MaxPooling2D(name="pool1")(c1)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(p1)
    p2 = L.MaxPooling2D(name="pool2")(c2)
    b = L.Conv2D(16, 3, padding="same", activation="relu", name="bottleneck")(p2)
    u2 = L.Conv2DTranspose(16, 2, strides=2, padding="same", name="up2")(b)
    m2 = L.Concatenate(name="skip2")([u2, c2])
    d2 = L.Conv2D(16, 3, padding="same", activation="relu", name="dec2")(m2)
    u1 = L.UpSampling2D(name="up1")(d2)
    m1 = L.Concatenate(name="skip1")([u1, c1])
    d1 = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(m1)
    out = L.Conv2D(1, 1, activation="sigmoid", name="mask")(d1)
    return k.Model(inp, out, name="unet")


def _resnet1d(k):
    L = k.layers
    inp = k.Input((24, 3), name="signal")
    x = L.Conv1D(8, 5, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    for i in range(2):
        y = L.Conv1D(8, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        y = L.Conv1D(8, 3, padding="same", name=f"block{i}_conv2")(y)
        x = L.Add(name=f"block{i}_add")([x, y])
        x = L.ReLU(name=f"block{i}_relu")(x)
    x = L.MaxPooling1D(2, name="pool")(x)
    x = L.GlobalAveragePooling1D(name="gap")(x)
    out = L.Dense(4, activation="softmax", name="head")(x)
    return k.Model(inp, out, name="resnet1d")


def _randomise(model, seed):
    """Non-trivial weights (BN statistics included) so the comparison means something."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32")
            if w.ndim == 1 and "variance" in v.name
            else rng.normal(0, 0.3, w.shape).astype("float32")
            for v, w in zip(model.weights, model.get_weights())
        ]
    )


@pytest.mark.parametrize("build,shape", [(_unet, (2, 16, 16, 1)), (_resnet1d, (3, 24, 3))])
def test_tf_keras_functional_h5_loads_and_agrees(tmp_path, keras, tf_keras, build, shape):
    source = build(tf_keras)
    _randomise(source, seed=0)
    source.compile(optimizer="adam", loss="mse")
    path = tmp_path / "model.h5"
    source.save(path)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    expected = source.predict(x, verbose=0)

    loaded = nk.models.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in source.layers]
    reference = build(keras)  # a Keras 3 copy, for the error bound
    reference.set_weights(source.get_weights())
    sigma = output_sigma(reference, x)[1]
    assert_sigma_close(loaded.predict(x, verbose=0), expected, sigma, "loaded from tf_keras .h5")

    # The same file's weights also load into a numpykeras-built copy of the architecture.
    rebuilt = build(nk)
    rebuilt.load_weights(path)
    assert_sigma_close(rebuilt.predict(x, verbose=0), expected, sigma, "load_weights into a copy")
