"""Merge, activation, reshaping, 1-D pooling, noise, embedding and layer-normalization layers vs
Keras 3 on TensorFlow: forward outputs, input and weight gradients (``tf.GradientTape`` with a
random upstream gradient), configs read from Keras, and a branched Functional model rebuilt from
Keras's config. Tolerances come from ``tests/tolerances.py``."""

import json

import numpy as np
import pytest

from numpykeras import layers as nk_layers
from numpykeras.models.functional import Functional

import tolerances as tol
from harness import LayerCase, run_case

CASES = [
    LayerCase("relu", "ReLU", {}, (2, 3, 4), input_scale=3.0),
    LayerCase(
        "relu-all",
        "ReLU",
        dict(max_value=2.0, negative_slope=0.2, threshold=0.5),
        (2, 3, 4),
        input_scale=3.0,
    ),
    LayerCase("relu6", "ReLU", dict(max_value=6.0), (2, 10), input_scale=5.0),
    LayerCase("leaky", "LeakyReLU", {}, (2, 3, 4)),
    LayerCase("leaky-0.05", "LeakyReLU", dict(negative_slope=0.05), (2, 5)),
    LayerCase("prelu", "PReLU", {}, (2, 3, 4)),
    LayerCase("prelu-shared", "PReLU", dict(shared_axes=[1, 2]), (3, 4, 3, 2)),
    LayerCase("elu", "ELU", {}, (2, 3, 4), input_scale=2.0),
    LayerCase("elu-0.3", "ELU", dict(alpha=0.3), (2, 5), input_scale=2.0),
    LayerCase("softmax", "Softmax", {}, (2, 3, 5), input_scale=3.0),
    LayerCase("softmax-ax1", "Softmax", dict(axis=1), (2, 3, 5), input_scale=3.0),
    LayerCase("softmax-ax12", "Softmax", dict(axis=[1, 2]), (2, 3, 5), input_scale=3.0),
    LayerCase("rescaling", "Rescaling", dict(scale=1 / 255.0, offset=-0.5), (2, 3, 4)),
    LayerCase("rescaling-vec", "Rescaling", dict(scale=[0.5, 2.0, -1.0]), (2, 4, 3)),
    LayerCase("permute", "Permute", dict(dims=(2, 1)), (2, 3, 4)),
    LayerCase("permute-3", "Permute", dict(dims=(3, 1, 2)), (2, 3, 4, 2)),
    LayerCase("repeat", "RepeatVector", dict(n=3), (2, 4)),
    LayerCase("up1d", "UpSampling1D", dict(size=3), (2, 4, 3)),
    LayerCase("up2d", "UpSampling2D", dict(size=(2, 3)), (2, 3, 4, 2)),
    LayerCase("up2d-cf", "UpSampling2D", dict(size=2, data_format="channels_first"), (2, 2, 3, 4)),
    LayerCase("up2d-bilinear", "UpSampling2D", dict(interpolation="bilinear"), (2, 4, 5, 3)),
    LayerCase(
        "up2d-bilinear-rect",
        "UpSampling2D",
        dict(size=(3, 2), interpolation="bilinear"),
        (1, 3, 4, 2),
    ),  # fmt: skip
    LayerCase(
        "up2d-bilinear-cf",
        "UpSampling2D",
        dict(size=(2, 4), interpolation="bilinear", data_format="channels_first"),
        (1, 2, 3, 3),
    ),
    LayerCase("zp1d", "ZeroPadding1D", dict(padding=(1, 3)), (2, 4, 3)),
    LayerCase("zp1d-cf", "ZeroPadding1D", dict(padding=2, data_format="channels_first"), (2, 3, 4)),
    LayerCase("crop1d", "Cropping1D", dict(cropping=(1, 2)), (2, 6, 3)),
    LayerCase("crop1d-end0", "Cropping1D", dict(cropping=(2, 0)), (2, 6, 3)),
    LayerCase("crop2d", "Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 5, 6, 3)),
    LayerCase(
        "crop2d-cf", "Cropping2D", dict(cropping=1, data_format="channels_first"), (2, 3, 5, 4)
    ),
    LayerCase("maxpool1d", "MaxPooling1D", {}, (2, 8, 3)),
    LayerCase(
        "maxpool1d-same", "MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 3)
    ),
    LayerCase("maxpool1d-overlap", "MaxPooling1D", dict(pool_size=3, strides=1), (2, 6, 2)),
    LayerCase("avgpool1d", "AveragePooling1D", dict(pool_size=2), (2, 8, 3)),
    LayerCase(
        "avgpool1d-same",
        "AveragePooling1D",
        dict(pool_size=4, strides=3, padding="same"),
        (2, 8, 3),
    ),
    LayerCase("gap1d", "GlobalAveragePooling1D", {}, (2, 5, 3)),
    LayerCase(
        "gap1d-cf-keep",
        "GlobalAveragePooling1D",
        dict(data_format="channels_first", keepdims=True),
        (2, 3, 5),
    ),
    LayerCase("gmp1d", "GlobalMaxPooling1D", {}, (2, 5, 3)),
    LayerCase("gmp1d-keep", "GlobalMaxPooling1D", dict(keepdims=True), (2, 5, 3)),
    LayerCase("layernorm", "LayerNormalization", {}, (3, 6), input_scale=3.0),
    LayerCase(
        "layernorm-3d-eps", "LayerNormalization", dict(epsilon=0.1), (2, 3, 4), input_scale=0.3
    ),
    LayerCase("layernorm-axes", "LayerNormalization", dict(axis=[1, 2]), (2, 3, 4)),
    LayerCase(
        "layernorm-ax1-nocenter", "LayerNormalization", dict(axis=1, center=False), (2, 3, 4)
    ),
    LayerCase("layernorm-noscale", "LayerNormalization", dict(scale=False), (2, 3, 4)),
    LayerCase("layernorm-rms", "LayerNormalization", dict(rms_scaling=True), (3, 5)),
    LayerCase("spatial1d", "SpatialDropout1D", dict(rate=0.5), (2, 3, 4)),
    LayerCase("spatial2d", "SpatialDropout2D", dict(rate=0.5), (2, 3, 3, 2)),
    LayerCase("gnoise", "GaussianNoise", dict(stddev=0.5), (2, 3)),
    LayerCase("gdropout", "GaussianDropout", dict(rate=0.5), (2, 3)),
    # In training these draw random noise: only the inference output is compared.
    LayerCase(
        "spatial1d-train",
        "SpatialDropout1D",
        dict(rate=0.5),
        (2, 3, 4),
        training=True,
        check_gradients=False,
    ),  # fmt: skip
    LayerCase(
        "gnoise-train",
        "GaussianNoise",
        dict(stddev=0.5),
        (2, 3),
        training=True,
        check_gradients=False,
    ),  # fmt: skip
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_matches_keras(tf, keras, case):
    run_case(case, tf, keras)


# --------------------------------------------------------------------------- merges

MERGES = [
    ("add", "Add", {}, [(2, 3, 4), (2, 3, 4)]),
    ("add-3", "Add", {}, [(2, 5), (2, 5), (2, 5)]),
    ("add-broadcast", "Add", {}, [(2, 3, 4), (2, 1, 4)]),
    ("add-ranks", "Add", {}, [(2, 3, 4), (2, 4)]),
    ("subtract", "Subtract", {}, [(2, 3, 4), (2, 3, 4)]),
    ("subtract-broadcast", "Subtract", {}, [(2, 3, 1), (2, 1, 4)]),
    ("multiply", "Multiply", {}, [(2, 3, 4), (2, 3, 4)]),
    ("multiply-3-broadcast", "Multiply", {}, [(2, 3, 4), (2, 1, 4), (2, 3, 1)]),
    ("average", "Average", {}, [(2, 5), (2, 5), (2, 5)]),
    ("average-ranks", "Average", {}, [(2, 3, 4), (2, 4)]),
    ("maximum", "Maximum", {}, [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    ("maximum-broadcast", "Maximum", {}, [(2, 3, 4), (2, 1, 4)]),
    ("minimum", "Minimum", {}, [(2, 3, 4), (2, 3, 4)]),
    ("minimum-3", "Minimum", {}, [(2, 5), (2, 5), (2, 5)]),
    ("concat", "Concatenate", {}, [(2, 3, 4), (2, 3, 2)]),
    ("concat-ax1", "Concatenate", dict(axis=1), [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
    ("concat-ax-2", "Concatenate", dict(axis=-2), [(2, 2, 3), (2, 4, 3)]),
]


def _compare_merge(tf, keras, cls, kwargs, xs, what, seed=0):
    ours = getattr(nk_layers, cls)(**kwargs)
    theirs = getattr(keras.layers, cls)(**kwargs)
    y, cache = ours.forward(xs)
    tol.assert_forward_close(ours(xs), np.asarray(theirs(xs)), f"{what}: output")
    dy = np.random.default_rng(seed).normal(size=y.shape).astype(np.float32)
    ts = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        yt = theirs(ts)
    expected = tape.gradient(yt, ts, output_gradients=tf.constant(dy))
    tol.assert_forward_close(y, yt.numpy(), f"{what}: forward")
    dxs, grads = ours.backward(dy, cache)
    assert grads == {} and len(dxs) == len(xs)
    for i, (dx, e) in enumerate(zip(dxs, expected)):
        assert dx.dtype == np.float32
        tol.assert_grad_close(dx, np.asarray(e), f"{what}: dx[{i}]")


@pytest.mark.parametrize("cls,kwargs,shapes", [m[1:] for m in MERGES], ids=[m[0] for m in MERGES])
def test_merge_matches_keras(tf, keras, cls, kwargs, shapes):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=s).astype(np.float32) for s in shapes]
    _compare_merge(tf, keras, cls, kwargs, xs, cls)


@pytest.mark.parametrize("cls", ["Maximum", "Minimum"])
def test_max_min_ties_match_keras(tf, keras, cls):
    rng = np.random.default_rng(2)
    xs = [rng.integers(0, 3, size=(3, 8)).astype(np.float32) for _ in range(3)]  # many ties
    _compare_merge(tf, keras, cls, {}, xs, f"{cls} ties")


def test_global_max_pooling1d_ties_match_keras(tf, keras):
    x = np.random.default_rng(3).integers(0, 3, size=(2, 6, 4)).astype(np.float32)
    ours, theirs = nk_layers.GlobalMaxPooling1D(), keras.layers.GlobalMaxPooling1D()
    y, cache = ours.forward(x)
    dy = np.random.default_rng(4).normal(size=y.shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = theirs(xt)
    expected = tape.gradient(yt, xt, output_gradients=tf.constant(dy))
    tol.assert_grad_close(ours.backward(dy, cache)[0], expected.numpy(), "dx with ties")


# --------------------------------------------------------------------------- embedding


def test_embedding_matches_keras(tf, keras):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 7, size=(3, 5))  # repeated indices accumulate
    theirs = keras.layers.Embedding(7, 4)
    theirs(ids)
    theirs.set_weights([rng.normal(size=(7, 4)).astype(np.float32)])
    ours = nk_layers.Embedding.from_config(theirs.get_config())
    ours(ids)
    ours.set_weights(theirs.get_weights())
    tol.assert_forward_close(ours(ids), np.asarray(theirs(ids)), "embedding output")
    y, cache = ours.forward(ours._convert_inputs(ids))
    dy = rng.normal(size=y.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        yt = theirs(tf.constant(ids))
    expected = tape.gradient(yt, theirs.trainable_weights, output_gradients=tf.constant(dy))[0]
    dx, grads = ours.backward(dy, cache)
    assert dx is None
    tol.assert_grad_close(grads[ours.embeddings], tf.convert_to_tensor(expected).numpy(), "dtable")


# --------------------------------------------------------------------------- configs


CONFIG_CASES = [
    ("ReLU", dict(max_value=3.0, negative_slope=0.1, threshold=0.2)),
    ("LeakyReLU", {}),
    ("PReLU", dict(shared_axes=[1], alpha_initializer="ones")),
    ("ELU", dict(alpha=0.7)),
    ("Softmax", dict(axis=[1, 2])),
    ("Add", {}),
    ("Subtract", {}),
    ("Multiply", {}),
    ("Average", {}),
    ("Maximum", {}),
    ("Minimum", {}),
    ("Concatenate", dict(axis=1)),
    ("Rescaling", dict(scale=0.5, offset=1.0)),
    ("Permute", dict(dims=(2, 1))),
    ("RepeatVector", dict(n=4)),
    ("UpSampling1D", dict(size=3)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear")),
    ("ZeroPadding1D", dict(padding=(1, 2))),
    ("Cropping1D", dict(cropping=(2, 1))),
    ("Cropping2D", dict(cropping=((1, 2), (3, 4)))),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same")),
    ("AveragePooling1D", dict(pool_size=2)),
    ("GlobalAveragePooling1D", dict(keepdims=True)),
    ("GlobalMaxPooling1D", {}),
    ("SpatialDropout1D", dict(rate=0.3, seed=4)),
    ("SpatialDropout2D", dict(rate=0.3, data_format="channels_first")),
    ("GaussianNoise", dict(stddev=0.2, seed=1)),
    ("GaussianDropout", dict(rate=0.2)),
    ("Embedding", dict(input_dim=10, output_dim=3, embeddings_initializer="he_normal")),
    ("LayerNormalization", dict(axis=[1, 2], epsilon=1e-4, center=False)),
]


def _jsonable(config):
    return json.loads(json.dumps(config))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("cls,kwargs", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_matches_keras_and_loads(keras, cls, kwargs):
    theirs = getattr(keras.layers, cls)(name="layer_under_test", **kwargs)
    ours = getattr(nk_layers, cls)(name="layer_under_test", **kwargs)
    assert _jsonable(ours.get_config()) == _jsonable(theirs.get_config())
    loaded = nk_layers.deserialize(_jsonable(keras.layers.serialize(theirs)))
    assert type(loaded) is getattr(nk_layers, cls)
    assert _jsonable(loaded.get_config()) == _jsonable(theirs.get_config())


# --------------------------------------------------------------------------- Functional models


def _keras_branched_model(keras):
    layers = keras.layers
    a = keras.Input((6,), name="a")
    b = keras.Input((4, 3), name="b")
    h = layers.Dense(5, name="d1")(a)
    h1 = layers.ReLU(name="relu")(h)
    h2 = layers.PReLU(name="prelu")(layers.Dense(5, name="d2")(a))
    s = layers.Add(name="add")([h1, h2])
    s = layers.LayerNormalization(name="ln")(s)
    r = layers.RepeatVector(4, name="repeat")(s)
    q = layers.Dense(5, name="d3")(layers.UpSampling1D(1, name="up")(b))
    m = layers.Multiply(name="mul")([r, q])
    c = layers.Concatenate(name="concat")([m, b, layers.Subtract(name="sub")([r, q])])
    p = layers.MaxPooling1D(2, name="pool")(c)
    g = layers.GlobalAveragePooling1D(name="gap")(layers.Cropping1D((0, 0), name="crop")(p))
    g = layers.Concatenate(name="concat2")([g, layers.LeakyReLU(name="leaky")(s)])
    out = layers.Dense(3, name="out")(layers.ELU(name="elu")(g))
    out = layers.Softmax(name="softmax")(out)
    return keras.Model([a, b], out, name="branched")


def test_functional_model_from_keras_config_predicts_like_keras(tf, keras):
    theirs = _keras_branched_model(keras)
    rng = np.random.default_rng(6)
    for layer in theirs.layers:
        if layer.weights:
            layer.set_weights(
                [rng.normal(size=tuple(v.shape)).astype(np.float32) for v in layer.weights]
            )
    ours = Functional.from_config(theirs.get_config())
    assert sorted(layer.name for layer in ours.layers) == sorted(l.name for l in theirs.layers)
    for layer in theirs.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())
    xa = rng.normal(size=(5, 6)).astype(np.float32)
    xb = rng.normal(size=(5, 4, 3)).astype(np.float32)
    expected = theirs.predict([xa, xb], verbose=0)
    tol.assert_forward_close(ours.predict([xa, xb], verbose=0), expected, "predictions")

    # Gradients through the whole graph, with a random upstream gradient on the output.
    y, tape = ours.forward([xa, xb])
    dy = rng.normal(size=y.shape).astype(np.float32)
    (dxa, dxb), grads = ours.backward(dy, tape)
    ta, tb = tf.constant(xa), tf.constant(xb)
    with tf.GradientTape() as gtape:
        gtape.watch([ta, tb])
        yt = theirs([ta, tb], training=False)
    sources = [ta, tb] + list(theirs.trainable_weights)
    expected = gtape.gradient(yt, sources, output_gradients=tf.constant(dy))
    tol.assert_forward_close(y, yt.numpy(), "forward")
    tol.assert_grad_close(dxa, expected[0].numpy(), "dx a")
    tol.assert_grad_close(dxb, expected[1].numpy(), "dx b")
    ours_by_path = {v.path: v for v in ours.trainable_weights}
    assert len(ours_by_path) == len(theirs.trainable_weights)
    for variable, g in zip(theirs.trainable_weights, expected[2:]):
        ours_var = ours.get_layer(variable.path.split("/")[0]).weights
        match = [v for v in ours_var if v.name == variable.name]
        assert len(match) == 1, variable.path
        tol.assert_grad_close(grads[match[0]], np.asarray(g), variable.path)
