"""Unit tests (no TensorFlow) of the merge, activation, reshaping, 1-D pooling, noise, embedding and
layer-normalization layers: output shapes, errors, config round trips, float64 finite-difference
gradient checks (single- and multi-input), plain-loop references for the vectorised kernels, and
a small branched Functional model."""

import math

import numpy as np
import pytest

from numpykeras import layers, models
from numpykeras.layers.input_layer import Input

import tolerances as tol
from gradcheck import check_layer_gradients, numerical_gradient

F64 = "float64"


def _x(shape, seed=0, dtype=np.float32, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def _randomize(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(size=v.shape).astype(v.dtype) for v in layer.weights])


# --------------------------------------------------------------------------- single-input layers

# (id, factory(**dtype), input shape); every layer here is deterministic at inference.
SINGLE = [
    ("relu", lambda **k: layers.ReLU(**k), (2, 3, 4)),
    (
        "relu-all",
        lambda **k: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.3, **k),
        (2, 3, 4),
    ),
    ("relu6", lambda **k: layers.ReLU(max_value=6.0, **k), (2, 5)),
    ("leaky", lambda **k: layers.LeakyReLU(**k), (2, 3, 4)),
    ("leaky-0.1", lambda **k: layers.LeakyReLU(negative_slope=0.1, **k), (3, 4)),
    ("prelu", lambda **k: layers.PReLU(**k), (2, 3, 4)),
    ("prelu-shared", lambda **k: layers.PReLU(shared_axes=[1, 2], **k), (2, 3, 4, 2)),
    ("prelu-shared-int", lambda **k: layers.PReLU(shared_axes=1, **k), (2, 3, 4)),
    ("elu", lambda **k: layers.ELU(**k), (2, 3, 4)),
    ("elu-0.5", lambda **k: layers.ELU(alpha=0.5, **k), (2, 5)),
    ("softmax", lambda **k: layers.Softmax(**k), (2, 3, 4)),
    ("softmax-ax1", lambda **k: layers.Softmax(axis=1, **k), (2, 3, 4)),
    ("softmax-ax12", lambda **k: layers.Softmax(axis=[1, 2], **k), (2, 3, 4)),
    ("rescaling", lambda **k: layers.Rescaling(0.5, offset=2.0, **k), (2, 3, 4)),
    ("rescaling-vec", lambda **k: layers.Rescaling([1.0, -2.0, 3.0], [0.0, 1.0, 2.0], **k), (2, 3)),
    ("permute", lambda **k: layers.Permute((2, 1), **k), (2, 3, 4)),
    ("permute-3", lambda **k: layers.Permute((3, 1, 2), **k), (2, 3, 4, 5)),
    ("repeat", lambda **k: layers.RepeatVector(3, **k), (2, 4)),
    ("up1d", lambda **k: layers.UpSampling1D(**k), (2, 3, 4)),
    ("up1d-3", lambda **k: layers.UpSampling1D(3, **k), (2, 3, 2)),
    ("up2d", lambda **k: layers.UpSampling2D((2, 3), **k), (2, 3, 2, 2)),
    (
        "up2d-cf",
        lambda **k: layers.UpSampling2D(2, data_format="channels_first", **k),
        (1, 2, 3, 2),
    ),
    (
        "up2d-bilinear",
        lambda **k: layers.UpSampling2D(2, interpolation="bilinear", **k),
        (2, 3, 4, 2),
    ),
    (
        "up2d-bilinear-rect-cf",
        lambda **k: layers.UpSampling2D(
            (3, 2), interpolation="bilinear", data_format="channels_first", **k
        ),
        (1, 2, 3, 4),
    ),
    ("zp1d", lambda **k: layers.ZeroPadding1D(**k), (2, 3, 4)),
    (
        "zp1d-cf",
        lambda **k: layers.ZeroPadding1D((2, 0), data_format="channels_first", **k),
        (2, 3, 4),
    ),
    ("crop1d", lambda **k: layers.Cropping1D((1, 2), **k), (2, 5, 3)),
    ("crop1d-end0", lambda **k: layers.Cropping1D((2, 0), **k), (2, 5, 3)),
    ("crop2d", lambda **k: layers.Cropping2D(((1, 0), (1, 2)), **k), (2, 4, 5, 2)),
    (
        "crop2d-cf",
        lambda **k: layers.Cropping2D(1, data_format="channels_first", **k),
        (1, 2, 4, 5),
    ),
    ("maxpool1d", lambda **k: layers.MaxPooling1D(**k), (2, 6, 3)),
    (
        "maxpool1d-same-s2",
        lambda **k: layers.MaxPooling1D(3, strides=2, padding="same", **k),
        (2, 7, 2),
    ),
    (
        "maxpool1d-cf",
        lambda **k: layers.MaxPooling1D(2, data_format="channels_first", **k),
        (2, 3, 6),
    ),
    ("avgpool1d", lambda **k: layers.AveragePooling1D(2, strides=1, **k), (2, 5, 3)),
    (
        "avgpool1d-same-cf",
        lambda **k: layers.AveragePooling1D(
            3, strides=2, padding="same", data_format="channels_first", **k
        ),
        (2, 3, 6),
    ),
    ("gap1d", lambda **k: layers.GlobalAveragePooling1D(**k), (2, 5, 3)),
    (
        "gap1d-keep-cf",
        lambda **k: layers.GlobalAveragePooling1D("channels_first", True, **k),
        (2, 3, 5),
    ),
    ("gmp1d", lambda **k: layers.GlobalMaxPooling1D(**k), (2, 5, 3)),
    (
        "gmp1d-keep-cf",
        lambda **k: layers.GlobalMaxPooling1D("channels_first", True, **k),
        (2, 3, 5),
    ),
    ("layernorm", lambda **k: layers.LayerNormalization(**k), (3, 5)),
    ("layernorm-3d", lambda **k: layers.LayerNormalization(epsilon=1e-2, **k), (2, 3, 4)),
    (
        "layernorm-axes12-nocenter",
        lambda **k: layers.LayerNormalization(axis=[1, 2], center=False, **k),
        (2, 3, 4),
    ),
    (
        "layernorm-ax1-noscale",
        lambda **k: layers.LayerNormalization(axis=1, scale=False, **k),
        (2, 3, 4),
    ),
    ("layernorm-rms", lambda **k: layers.LayerNormalization(rms_scaling=True, **k), (3, 4)),
    ("spatial1d-infer", lambda **k: layers.SpatialDropout1D(0.5, **k), (2, 3, 4)),
    ("spatial2d-infer", lambda **k: layers.SpatialDropout2D(0.5, **k), (2, 3, 3, 2)),
    ("gnoise-infer", lambda **k: layers.GaussianNoise(0.5, **k), (2, 3)),
    ("gdropout-infer", lambda **k: layers.GaussianDropout(0.5, **k), (2, 3)),
]
SINGLE_IDS = [c[0] for c in SINGLE]


@pytest.mark.parametrize("factory,shape", [c[1:] for c in SINGLE], ids=SINGLE_IDS)
def test_output_shape_matches_compute_output_shape(factory, shape):
    layer = factory()
    x = _x(shape)
    y = layer(x)
    assert y.dtype == np.float32
    assert tuple(layer.compute_output_shape(shape)) == y.shape
    # symbolic call: batch axis unknown
    symbolic = factory()(Input(shape=shape[1:]))
    assert symbolic.shape == (None,) + y.shape[1:]


@pytest.mark.parametrize("factory,shape", [c[1:] for c in SINGLE], ids=SINGLE_IDS)
def test_gradients_match_finite_differences(factory, shape):
    layer = factory(dtype=F64)
    x = _x(shape, seed=3, dtype=np.float64)
    layer(x)
    if layer.weights:
        _randomize(layer)
    check_layer_gradients(layer, x, what=str(type(layer).__name__))


@pytest.mark.parametrize("factory,shape", [c[1:] for c in SINGLE], ids=SINGLE_IDS)
def test_config_round_trip(factory, shape):
    layer = factory()
    x = _x(shape)
    layer(x)
    _randomize(layer)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))
    # through the registry, as a file would store it
    again = layers.deserialize(layers.serialize(layer))
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()


# --------------------------------------------------------------------------- stochastic layers


@pytest.mark.parametrize(
    "factory,shape",
    [
        (lambda **k: layers.SpatialDropout1D(0.5, seed=3, **k), (3, 4, 5)),
        (lambda **k: layers.SpatialDropout2D(0.4, seed=3, **k), (2, 3, 3, 4)),
        (
            lambda **k: layers.SpatialDropout2D(0.4, data_format="channels_first", seed=3, **k),
            (2, 4, 3, 3),
        ),
        (lambda **k: layers.GaussianNoise(0.3, seed=3, **k), (2, 3, 4)),
        (lambda **k: layers.GaussianDropout(0.3, seed=3, **k), (2, 3, 4)),
    ],
    ids=["spatial1d", "spatial2d", "spatial2d-cf", "gnoise", "gdropout"],
)
def test_training_gradients_match_finite_differences_with_fixed_noise(factory, shape):
    layer = factory(dtype=F64)
    x = _x(shape, seed=4, dtype=np.float64)
    rng_seed = 11

    def run(inp):
        layer._generator = np.random.default_rng(rng_seed)  # the same noise on every call
        return layer.forward(inp, training=True)

    y, cache = run(x)
    assert not np.allclose(y, x), "training mode should change the input"
    dy = np.random.default_rng(5).normal(size=y.shape)
    dx, grads = layer.backward(dy, cache)
    assert grads == {}
    numeric = numerical_gradient(lambda: float(np.sum(run(x)[0] * dy)), x)
    tol.assert_close(dx, numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, "dx")


def test_noise_layers_are_identity_at_inference():
    x = _x((3, 4, 5))
    for layer in (
        layers.SpatialDropout1D(0.5),
        layers.GaussianNoise(0.5),
        layers.GaussianDropout(0.5),
        layers.Dropout(0.5),
    ):
        np.testing.assert_array_equal(layer(x), x)
        np.testing.assert_array_equal(layer(x, training=False), x)
    x4 = _x((2, 3, 3, 4))
    np.testing.assert_array_equal(layers.SpatialDropout2D(0.5)(x4), x4)


def test_spatial_dropout_drops_whole_channels_and_scales():
    x = np.ones((40, 6, 8), dtype=np.float32)
    y = layers.SpatialDropout1D(0.25, seed=0)(x, training=True)
    # constant along the time axis, each value 0 or 1 / (1 - rate)
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :], y.shape))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    x4 = np.ones((20, 3, 4, 6), dtype=np.float32)
    y4 = layers.SpatialDropout2D(0.5, seed=0)(x4, training=True)
    np.testing.assert_array_equal(y4, np.broadcast_to(y4[:, :1, :1, :], y4.shape))
    y4cf = layers.SpatialDropout2D(0.5, data_format="channels_first", seed=0)(x4, training=True)
    np.testing.assert_array_equal(y4cf, np.broadcast_to(y4cf[:, :, :1, :1], y4cf.shape))
    kept = (y4 > 0).mean()
    n = y4[:, 0, 0, :].size
    assert abs(kept - 0.5) <= tol.SAMPLE_STATS_SIGMAS * math.sqrt(0.25 / n)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_noise_statistics(rate):
    x = np.ones((200, 250), dtype=np.float32)
    noise = layers.GaussianDropout(rate, seed=1)(x, training=True).astype(np.float64)
    std = math.sqrt(rate / (1 - rate))
    n = noise.size
    assert abs(noise.mean() - 1.0) <= tol.SAMPLE_STATS_SIGMAS * std / math.sqrt(n)
    # standard error of a sample std of a normal is std / sqrt(2 (n - 1))
    assert abs(noise.std() - std) <= tol.SAMPLE_STATS_SIGMAS * std / math.sqrt(2 * (n - 1))


def test_gaussian_noise_statistics_and_seed():
    x = np.zeros((200, 250), dtype=np.float32)
    a = layers.GaussianNoise(0.3, seed=7)(x, training=True).astype(np.float64)
    b = layers.GaussianNoise(0.3, seed=7)(x, training=True)
    np.testing.assert_array_equal(a, b)
    n = a.size
    assert abs(a.mean()) <= tol.SAMPLE_STATS_SIGMAS * 0.3 / math.sqrt(n)
    assert abs(a.std() - 0.3) <= tol.SAMPLE_STATS_SIGMAS * 0.3 / math.sqrt(2 * (n - 1))


# --------------------------------------------------------------------------- merges

# (id, factory(**dtype), input shapes)
MERGES = [
    ("add", lambda **k: layers.Add(**k), [(2, 3, 4), (2, 3, 4)]),
    ("add-3", lambda **k: layers.Add(**k), [(2, 3), (2, 3), (2, 3)]),
    ("add-broadcast", lambda **k: layers.Add(**k), [(2, 3, 4), (2, 1, 4)]),
    ("add-ranks", lambda **k: layers.Add(**k), [(2, 3, 4), (2, 4)]),
    ("subtract", lambda **k: layers.Subtract(**k), [(2, 3, 4), (2, 3, 4)]),
    ("subtract-broadcast", lambda **k: layers.Subtract(**k), [(2, 1, 4), (2, 3, 1)]),
    ("multiply", lambda **k: layers.Multiply(**k), [(2, 3, 4), (2, 3, 4)]),
    ("multiply-3-broadcast", lambda **k: layers.Multiply(**k), [(2, 3, 4), (2, 1, 4), (2, 3, 1)]),
    ("average-3", lambda **k: layers.Average(**k), [(2, 5), (2, 5), (2, 5)]),
    ("average-broadcast", lambda **k: layers.Average(**k), [(2, 3, 4), (2, 4)]),
    ("maximum", lambda **k: layers.Maximum(**k), [(2, 3, 4), (2, 3, 4)]),
    ("maximum-3-broadcast", lambda **k: layers.Maximum(**k), [(2, 3, 4), (2, 1, 4), (2, 3, 4)]),
    ("minimum", lambda **k: layers.Minimum(**k), [(2, 3, 4), (2, 3, 4)]),
    ("minimum-3", lambda **k: layers.Minimum(**k), [(2, 5), (2, 5), (2, 5)]),
    ("concat", lambda **k: layers.Concatenate(**k), [(2, 3, 4), (2, 3, 2)]),
    (
        "concat-ax1-3",
        lambda **k: layers.Concatenate(axis=1, **k),
        [(2, 3, 4), (2, 1, 4), (2, 2, 4)],
    ),
    ("concat-ax-2", lambda **k: layers.Concatenate(axis=-2, **k), [(2, 2, 3), (2, 4, 3)]),
]
MERGE_IDS = [c[0] for c in MERGES]


def _inputs(shapes, seed=0, dtype=np.float32):
    return [_x(s, seed=seed + i, dtype=dtype) for i, s in enumerate(shapes)]


def _numpy_merge(name, xs, axis=-1):
    """What each merge must compute, in plain NumPy (Keras's rank alignment done by hand)."""
    ndim = max(x.ndim for x in xs)
    xs = [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]
    if name.startswith("add"):
        return sum(xs[1:], xs[0])
    if name.startswith("subtract"):
        return xs[0] - xs[1]
    if name.startswith("multiply"):
        return math.prod(xs[1:], start=xs[0])
    if name.startswith("average"):
        return sum(xs[1:], xs[0]) / len(xs)
    if name.startswith("maximum"):
        return np.maximum.reduce(np.broadcast_arrays(*xs))
    if name.startswith("minimum"):
        return np.minimum.reduce(np.broadcast_arrays(*xs))
    return np.concatenate(xs, axis=axis)


@pytest.mark.parametrize("factory,shapes", [c[1:] for c in MERGES], ids=MERGE_IDS)
def test_merge_values_and_shapes(request, factory, shapes):
    name = request.node.callspec.id
    layer = factory()
    xs = _inputs(shapes)
    y = layer(xs)
    expected = _numpy_merge(name, xs, getattr(layer, "axis", -1))
    tol.assert_close(y, expected, tol.REFERENCE_ATOL, 1e-6, name)
    assert y.dtype == np.float32
    assert tuple(layer.compute_output_shape([tuple(s) for s in shapes])) == y.shape
    symbolic = factory()([Input(shape=s[1:]) for s in shapes])
    assert symbolic.shape == (None,) + y.shape[1:]


@pytest.mark.parametrize("factory,shapes", [c[1:] for c in MERGES], ids=MERGE_IDS)
def test_merge_gradients_match_finite_differences(factory, shapes):
    layer = factory(dtype=F64)
    xs = _inputs(shapes, seed=7, dtype=np.float64)
    y, cache = layer.forward(xs)
    assert y.dtype == np.float64
    dy = np.random.default_rng(9).normal(size=y.shape)
    dxs, grads = layer.backward(dy, cache)
    assert grads == {}
    assert isinstance(dxs, list) and len(dxs) == len(xs)

    def loss():
        return float(np.sum(layer.forward(xs)[0] * dy))

    for i, (x, dx) in enumerate(zip(xs, dxs)):
        assert dx.shape == x.shape and dx.dtype == np.float64
        numeric = numerical_gradient(loss, x)
        tol.assert_close(dx, numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, f"dx[{i}]")


@pytest.mark.parametrize("factory,shapes", [c[1:] for c in MERGES], ids=MERGE_IDS)
def test_merge_config_round_trip(factory, shapes):
    layer = factory(name="merge_under_test")
    config = layer.get_config()
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == config
    xs = _inputs(shapes)
    np.testing.assert_array_equal(clone(xs), layer(xs))


@pytest.mark.parametrize("cls", [layers.Maximum, layers.Minimum])
def test_max_min_ties_send_gradient_to_first_input(cls):
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[1.0, 0.0, 3.0]], dtype=np.float32)
    layer = cls()
    y, cache = layer.forward([a, b, a.copy()])
    dy = np.array([[2.0, 3.0, 5.0]], dtype=np.float32)
    da, db, dc = layer.backward(dy, cache)[0]
    winner_b = cls is layers.Minimum  # only the middle entry differs
    np.testing.assert_array_equal(da, [[2.0, 0.0 if winner_b else 3.0, 5.0]])
    np.testing.assert_array_equal(db, [[0.0, 3.0 if winner_b else 0.0, 0.0]])
    np.testing.assert_array_equal(dc, np.zeros_like(a))


def test_functional_merge_forms():
    xs = _inputs([(2, 3), (2, 3)])
    pairs = [
        (layers.add, layers.Add),
        (layers.subtract, layers.Subtract),
        (layers.multiply, layers.Multiply),
        (layers.average, layers.Average),
        (layers.maximum, layers.Maximum),
        (layers.minimum, layers.Minimum),
        (layers.concatenate, layers.Concatenate),
    ]
    for fn, cls in pairs:
        np.testing.assert_array_equal(fn(xs), cls()(xs))
        t = fn([Input((3,)), Input((3,))], name=f"{cls.__name__.lower()}_fn")
        assert t._keras_history[0].name == f"{cls.__name__.lower()}_fn"
    assert layers.concatenate(xs, axis=0).shape == (4, 3)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: layers.Add()(_x((2, 3))), "list of inputs"),
        (lambda: layers.Add()([_x((2, 3)), _x((2, 4))]), r"incompatible shapes.*\(3,\) and \(4,\)"),
        (lambda: layers.Add()([Input((3,)), Input((4,))]), "incompatible shapes.*'add"),
        (
            lambda: layers.Multiply()([Input((3, 2)), Input((3, 4))]),
            r"incompatible shapes.*\(3, 2\) and \(3, 4\)",
        ),
        (
            lambda: layers.Add()([Input((3,), batch_size=2), Input((3,), batch_size=4)]),
            "different batch sizes",
        ),
        (lambda: layers.Subtract()([Input((3,))] * 3), "exactly 2 inputs"),
        (lambda: layers.Subtract()([_x((2, 3))] * 3), "exactly 2 inputs"),
        (
            lambda: layers.Concatenate()([Input((3, 2)), Input((4, 2))]),
            "matching shapes except for the concatenation axis",
        ),
        (
            lambda: layers.Concatenate()([Input((3, 2)), Input((3,))]),
            "matching shapes except for the concatenation axis",
        ),
        (lambda: layers.Concatenate(axis=3)([Input((3,)), Input((3,))]), "Invalid `axis`"),
        (lambda: layers.Concatenate()(_x((2, 3))), "list of at least 1 input"),
    ],
)
def test_merge_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_merge_checks_shapes_at_call_time_after_build():
    layer = layers.Add()
    layer([_x((2, 3)), _x((2, 3))])
    with pytest.raises(ValueError, match="incompatible shapes"):
        layer([_x((2, 3)), _x((2, 5))])
    concat = layers.Concatenate()
    concat([_x((2, 3)), _x((2, 4))])
    with pytest.raises(ValueError, match="matching shapes"):
        concat([_x((2, 3)), _x((3, 4))])


# --------------------------------------------------------------------------- embedding


def test_embedding_lookup_shapes_and_float_indices():
    layer = layers.Embedding(7, 3)
    ids = np.array([[0, 6, 2], [2, 2, 5]])
    y = layer(ids)
    assert y.shape == (2, 3, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y, layer.embeddings.numpy()[ids])
    np.testing.assert_array_equal(layer(ids.astype(np.float32) + 0.25), y)  # truncated like a cast
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)
    assert layers.Embedding(7, 3)(Input((4,), dtype="int32")).shape == (None, 4, 3)
    # the default initializer is RandomUniform(-0.05, 0.05)
    table = layers.Embedding(50, 40)
    table.build((None, 1))
    values = table.embeddings.numpy()
    assert values.min() >= -0.05 and values.max() <= 0.05 and values.std() > 0.02


def test_embedding_gradient_matches_loop_and_finite_differences():
    layer = layers.Embedding(6, 4, dtype=F64)
    ids = np.array([[1, 3, 1, 0], [5, 1, 3, 3]])
    layer(ids)
    _randomize(layer)
    y, cache = layer.forward(layer._convert_inputs(ids))
    dy = np.random.default_rng(2).normal(size=y.shape)
    dx, grads = layer.backward(dy, cache)
    assert dx is None
    expected = np.zeros((6, 4))
    for index in np.ndindex(ids.shape):  # plain loop: each lookup adds its dy row
        expected[ids[index]] += dy[index]
    tol.assert_close(grads[layer.embeddings], expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL)

    def loss():
        return float(np.sum(layer.forward(ids)[0] * dy))

    numeric = numerical_gradient(loss, layer.embeddings.value)
    tol.assert_close(
        grads[layer.embeddings], numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, "dtable"
    )
    assert grads[layer.embeddings].dtype == np.float64


def test_embedding_config_and_keras2_arguments():
    layer = layers.Embedding(10, 3, input_length=5, name="emb")
    config = layer.get_config()
    for key in (
        "input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
        "activity_regularizer", "embeddings_constraint", "mask_zero",
    ):  # fmt: skip
        assert key in config, key
    assert "input_length" not in config
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    clone = layers.Embedding.from_config(config)
    assert clone.get_config() == config
    ids = np.array([[1, 2], [9, 0]])
    layer(ids)
    clone(ids)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(ids), layer(ids))
    seeded = layers.Embedding(4, 2, weights=[np.arange(8.0).reshape(4, 2)])
    np.testing.assert_array_equal(seeded(np.array([[3]])), [[[6.0, 7.0]]])


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: layers.Embedding(0, 3), "`input_dim` must be a positive integer"),
        (lambda: layers.Embedding(3, 2.5), "`output_dim` must be a positive integer"),
    ],
)
def test_embedding_bad_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_embedding_mask_zero_masks_index_zero():
    layer = layers.Embedding(5, 2, mask_zero=True)
    tokens = np.array([[1, 0, 3], [0, 0, 2]])
    np.testing.assert_array_equal(layer.compute_mask(tokens, None), tokens != 0)
    assert layer.supports_masking and layer.get_config()["mask_zero"] is True
    assert layers.Embedding(5, 2).compute_mask(tokens, None) is None


def test_embedding_out_of_range_indices():
    layer = layers.Embedding(5, 2, name="words")
    with pytest.raises(ValueError, match=r"'words'.*outside \[0, 5\)"):
        layer(np.array([[1, 5]]))
    with pytest.raises(ValueError, match="outside"):
        layer(np.array([[-1, 2]]))


# --------------------------------------------------------------------------- plain-loop references


def _bilinear_reference(x, fh, fw):
    """TensorFlow's half-pixel bilinear resize of NHWC ``x`` by integer factors, pixel by pixel."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * fh, w * fw, c))

    def neighbours(o, size, factor):
        src = (o + 0.5) / factor - 0.5
        lo = math.floor(src)
        t = src - lo
        return min(max(lo, 0), size - 1), min(max(math.ceil(src), 0), size - 1), t

    for i in range(h * fh):
        i0, i1, ti = neighbours(i, h, fh)
        for j in range(w * fw):
            j0, j1, tj = neighbours(j, w, fw)
            top = x[:, i0, j0] * (1 - tj) + x[:, i0, j1] * tj
            bottom = x[:, i1, j0] * (1 - tj) + x[:, i1, j1] * tj
            out[:, i, j] = top * (1 - ti) + bottom * ti
    return out


@pytest.mark.parametrize("size,hw", [((2, 2), (3, 4)), ((3, 2), (2, 3)), ((1, 4), (3, 1))])
def test_bilinear_upsampling_matches_plain_loop(size, hw):
    x = _x((2, *hw, 3), dtype=np.float64)
    layer = layers.UpSampling2D(size, interpolation="bilinear", dtype=F64)
    tol.assert_close(
        layer(x), _bilinear_reference(x, *size), tol.REFERENCE_ATOL, tol.REFERENCE_RTOL
    )


def _pool1d_reference(x, pool, stride, padding, mode):
    n, length, c = x.shape
    if padding == "valid":
        out_len, start = (length - pool) // stride + 1, 0
    else:
        out_len = -(-length // stride)
        start = -(max((out_len - 1) * stride + pool - length, 0) // 2)
    y = np.zeros((n, out_len, c))
    for o in range(out_len):
        lo = start + o * stride
        window = x[:, max(lo, 0) : min(lo + pool, length)]  # padded steps are left out
        y[:, o] = window.max(axis=1) if mode == "max" else window.mean(axis=1)
    return y


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize(
    "pool,stride,padding", [(2, 2, "valid"), (3, 1, "valid"), (3, 2, "same"), (4, 3, "same")]
)
def test_pooling1d_matches_plain_loop(mode, pool, stride, padding):
    x = _x((2, 9, 3), dtype=np.float64)
    cls = layers.MaxPooling1D if mode == "max" else layers.AveragePooling1D
    y = cls(pool, strides=stride, padding=padding, dtype=F64)(x)
    ref = _pool1d_reference(x, pool, stride, padding, mode)
    tol.assert_close(y, ref, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL)


def test_layer_normalization_matches_per_sample_loop():
    x = _x((3, 4, 5), dtype=np.float64, scale=3.0) + 2.0
    layer = layers.LayerNormalization(axis=[1, 2], epsilon=1e-3, dtype=F64)
    layer(x)
    _randomize(layer)
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    y = layer(x)
    for i in range(len(x)):
        mean = x[i].mean()
        var = ((x[i] - mean) ** 2).mean()
        ref = (x[i] - mean) / math.sqrt(var + 1e-3) * gamma + beta
        tol.assert_close(y[i], ref, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL)
    assert layer.get_config()["axis"] == [1, 2]
    built = layers.LayerNormalization()
    assert built.get_config()["axis"] == -1
    built(x)
    assert built.get_config()["axis"] == [-1]  # as Keras: a list once built


def test_channels_first_pooling_equals_channels_last_on_transposed_data():
    x = _x((2, 7, 3))
    xt = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    for cls, kw in (
        (layers.MaxPooling1D, dict(pool_size=3, strides=2, padding="same")),
        (layers.AveragePooling1D, dict(pool_size=2, strides=1)),
        (layers.GlobalAveragePooling1D, {}),
        (layers.GlobalMaxPooling1D, {}),
        (layers.ZeroPadding1D, dict(padding=(1, 2))),
    ):
        last = cls(**kw)(x)
        first = cls(data_format="channels_first", **kw)(xt)
        expected = last if last.ndim == 2 else np.moveaxis(last, 1, -1)
        np.testing.assert_array_equal(first, expected)


# --------------------------------------------------------------------------- arguments and configs


@pytest.mark.parametrize(
    "factory,error,match",
    [
        (lambda: layers.ReLU(max_value=-1.0), ValueError, "max_value of a ReLU layer"),
        (lambda: layers.ReLU(negative_slope=-0.1), ValueError, "negative_slope of a ReLU"),
        (lambda: layers.ReLU(threshold=None), ValueError, "threshold of a ReLU"),
        (lambda: layers.LeakyReLU(negative_slope=-1), ValueError, "Leaky ReLU"),
        (lambda: layers.PReLU(shared_axes=[0]), ValueError, "shared_axes"),
        (lambda: layers.Softmax(axis="last"), ValueError, "axis"),
        (lambda: layers.Permute((1, 3)), ValueError, "must be consecutive and start from 1"),
        (lambda: layers.RepeatVector(2.0), TypeError, "Expected an integer value for `n`"),
        (lambda: layers.RepeatVector(0), ValueError, "`n` should be a positive integer"),
        (lambda: layers.UpSampling1D(0), ValueError, "`size` should be a positive integer"),
        (lambda: layers.UpSampling2D(interpolation="bicubic"), ValueError, "interpolation"),
        (lambda: layers.UpSampling2D(size=(2, 0)), ValueError, "size"),
        (lambda: layers.ZeroPadding1D(padding=(1, -1)), ValueError, "padding"),
        (lambda: layers.Cropping1D(cropping=(1, 2, 3)), ValueError, "cropping"),
        (lambda: layers.Cropping2D(cropping=-1), ValueError, "`cropping` cannot be negative"),
        (lambda: layers.Cropping2D(cropping=(1, 2, 3)), ValueError, "two elements"),
        (lambda: layers.MaxPooling1D(0), ValueError, "pool_size"),
        (lambda: layers.AveragePooling1D(2, padding="full"), ValueError, "padding"),
        (lambda: layers.SpatialDropout1D(1.5), ValueError, "rate"),
        (lambda: layers.GaussianNoise(2.0), ValueError, "stddev"),
        (lambda: layers.GaussianDropout(-0.1), ValueError, "rate"),
        (lambda: layers.LayerNormalization(axis="x"), TypeError, "axis"),
        (lambda: layers.Concatenate(axis=1.5), TypeError, "axis"),
        (lambda: layers.Add(units=3), ValueError, "Unrecognized keyword arguments"),
    ],
)
def test_bad_constructor_arguments(factory, error, match):
    with pytest.raises(error, match=match):
        factory()


@pytest.mark.parametrize(
    "factory,shape,match",
    [
        (lambda: layers.Cropping1D((2, 3)), (None, 5, 2), "smaller than the input length"),
        (lambda: layers.Cropping2D(((1, 1), (0, 0))), (None, 2, 3, 1), "should be smaller"),
        (lambda: layers.Permute((2, 1)), (None, 2, 3, 4), "expected ndim=3"),
        (lambda: layers.RepeatVector(2), (None, 2, 3), "expected ndim=2"),
        (lambda: layers.LayerNormalization(axis=3), (None, 2, 3), "out of bounds"),
        (lambda: layers.PReLU(shared_axes=3), (None, 2, 3), "shared_axes"),
        (lambda: layers.MaxPooling1D(4), (None, 3, 2), "negative"),
    ],
)
def test_bad_inputs_name_the_problem(factory, shape, match):
    with pytest.raises(ValueError, match=match):
        factory()(Input(batch_shape=shape))


def test_prelu_input_spec_after_build():
    layer = layers.PReLU(shared_axes=[1])
    layer(_x((2, 3, 4)))
    layer(_x((2, 7, 4)))  # the shared axis may change size
    with pytest.raises(ValueError, match="expected axis 2"):
        layer(_x((2, 3, 5)))


def test_keras2_and_keras3_spellings():
    assert layers.LeakyReLU(alpha=0.2).negative_slope == 0.2
    assert layers.LeakyReLU().get_config()["negative_slope"] == 0.3
    keras2 = {
        "class_name": "SpatialDropout1D",
        "config": {"name": "sd", "trainable": True, "dtype": "float32", "rate": 0.3,
                   "noise_shape": None, "seed": None},
    }  # fmt: skip
    layer = layers.deserialize(keras2)
    assert isinstance(layer, layers.SpatialDropout1D) and layer.rate == 0.3
    assert set(layer.get_config()) == {"rate", "seed", "name", "dtype"}
    assert set(layers.SpatialDropout2D(0.1).get_config()) == {"rate", "seed", "name", "dtype",
                                                              "data_format"}  # fmt: skip
    assert layers.MaxPool1D is layers.MaxPooling1D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool1D is layers.GlobalAveragePooling1D
    assert layers.GlobalMaxPool1D is layers.GlobalMaxPooling1D


def test_rescaling_array_config_round_trip():
    layer = layers.Rescaling(np.array([1.0, 2.0, 3.0], dtype=np.float32), offset=[0.0, 1.0, 2.0])
    config = layer.get_config()
    assert config["scale"] == {
        "class_name": "__numpy__",
        "config": {"value": [1.0, 2.0, 3.0], "dtype": "float32"},
    }
    assert config["offset"] == [0.0, 1.0, 2.0]
    clone = layers.Rescaling.from_config(config)
    assert clone.get_config() == config
    x = _x((2, 3))
    expected = x * np.array([1, 2, 3], np.float32) + np.array([0, 1, 2], np.float32)
    np.testing.assert_array_equal(clone(x), expected)


def test_softmax_exposes_logits_only_over_last_axis():
    x = _x((2, 3, 4))
    for axis, fused in ((-1, True), (2, True), ([-1], True), (1, False), ([1, 2], False)):
        layer = layers.Softmax(axis=axis)
        y, cache = layer.forward(x)
        out = layer.output_logits(cache)
        assert (out is not None) == fused, axis
        if fused:
            np.testing.assert_array_equal(out[0], x)
            assert out[1] == "softmax"
            dz = _x((2, 3, 4), seed=5)
            np.testing.assert_array_equal(layer.backward_from_logits(dz, cache)[0], dz)
    ax12 = layers.Softmax(axis=[1, 2])(x)
    np.testing.assert_allclose(ax12.sum(axis=(1, 2)), 1.0, rtol=1e-6)


def test_relu_layer_values():
    x = np.array([[-2.0, -0.5, 0.2, 0.8, 3.0]], dtype=np.float32)
    y = layers.ReLU(max_value=2.0, negative_slope=0.5, threshold=0.5)(x)
    # below the threshold: slope * (x - threshold); above: x capped at max_value
    np.testing.assert_allclose(y, [[-1.25, -0.5, -0.15, 0.8, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU()(x)[0, :2], [-0.6, -0.15], rtol=1e-6)
    np.testing.assert_allclose(layers.ELU(0.5)(x)[0, 0], 0.5 * np.expm1(-2.0), rtol=1e-6)


# --------------------------------------------------------------------------- Functional models


def _branched_model(dtype="float32"):
    a = Input((4,), dtype=dtype, name="a")
    b = Input((3, 4), dtype=dtype, name="b")
    h = layers.Dense(4, dtype=dtype)(a)
    h1 = layers.ReLU(dtype=dtype)(h)
    h2 = layers.PReLU(dtype=dtype)(layers.Dense(4, dtype=dtype)(a))
    s = layers.add([h1, h2], dtype=dtype)
    r = layers.RepeatVector(3, dtype=dtype)(s)
    m = layers.Multiply(dtype=dtype)([r, b])
    c = layers.Concatenate(axis=-1, dtype=dtype)([m, layers.LayerNormalization(dtype=dtype)(b)])
    p = layers.GlobalAveragePooling1D(dtype=dtype)(layers.UpSampling1D(2, dtype=dtype)(c))
    out = layers.Dense(2, dtype=dtype)(
        layers.Maximum(dtype=dtype)([p, layers.Softmax(dtype=dtype)(p)])
    )
    return models.Model([a, b], out)


def test_branched_functional_model_gradients_match_finite_differences():
    model = _branched_model(F64)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights:
            _randomize(layer, seed=rng.integers(1000))
    xa, xb = _x((2, 4), seed=1, dtype=np.float64), _x((2, 3, 4), seed=2, dtype=np.float64)
    y, tape = model.forward([xa, xb])
    dy = rng.normal(size=y.shape)
    (dxa, dxb), grads = model.backward(dy, tape)

    def loss():
        return float(np.sum(model.forward([xa, xb])[0] * dy))

    for name, got, arr in (("dxa", dxa, xa), ("dxb", dxb, xb)):
        tol.assert_close(got, numerical_gradient(loss, arr), tol.FINITE_DIFF_ATOL,
                         tol.FINITE_DIFF_RTOL, name)  # fmt: skip
    assert {id(v) for v in grads} == {id(v) for v in model.trainable_weights}
    for v in model.trainable_weights:
        tol.assert_close(grads[v], numerical_gradient(loss, v.value), tol.FINITE_DIFF_ATOL,
                         tol.FINITE_DIFF_RTOL, v.path)  # fmt: skip


def test_branched_functional_model_config_round_trip_and_training():
    model = _branched_model()
    xa, xb = _x((8, 4), seed=1), _x((8, 3, 4), seed=2)
    config = model.get_config()
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(
        clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)
    )
    model.compile(optimizer="sgd", loss="mse")
    y = _x((8, 2), seed=3)
    before = model.evaluate([xa, xb], y, verbose=0)
    model.fit([xa, xb], y, epochs=5, batch_size=8, verbose=0)
    assert model.evaluate([xa, xb], y, verbose=0) < before
