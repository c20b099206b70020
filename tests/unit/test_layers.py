"""Layer unit tests (no TensorFlow): shapes, dtypes, errors, configs, building, weights, Sequential
plumbing, predict, channels_first, Dropout and BatchNormalization behaviour.

Gradient checks live in ``test_layers_gradients.py``.
"""

import math

import numpy as np
import pytest

from numpykeras import layers, models
from numpykeras.layers.layer import clear_session

import reference_ops as ref
import tolerances as tol
from concurrency import run_in_threads


def _rng(seed=0):
    return np.random.default_rng(seed)


def _x(shape, seed=0, dtype=np.float32):
    return _rng(seed).normal(size=shape).astype(dtype)


def _randomize(layer, seed=1):
    """Give every weight random values (variances positive) so biases and betas matter."""
    rng = _rng(seed)
    values = []
    for v in layer.weights:
        w = rng.normal(size=v.shape)
        if "variance" in v.name:
            w = rng.uniform(0.5, 2.0, size=v.shape)
        values.append(w.astype(v.dtype))
    layer.set_weights(values)


def _expected_len(size, window, stride, dilation, padding):
    """floor((H + P_total - F_eff) / S) + 1, with TensorFlow's total padding for "same"."""
    span = dilation * (window - 1) + 1
    total_pad = 0
    if padding == "same":
        total_pad = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return (size + total_pad - span) // stride + 1


# --------------------------------------------------------------------------- shapes

CONV_SHAPE_CASES = [
    # (kernel, strides, dilation, padding, (H, W))
    (k, s, d, p, hw)
    for k in (1, 2, 3, 5)
    for s, d in ((1, 1), (2, 1), (3, 1), (1, 2))
    for p in ("valid", "same")
    for hw in ((9, 9), (10, 7))
    if d * (k - 1) + 1 <= min(hw)
]


@pytest.mark.parametrize(
    "kernel,strides,dilation,padding,hw",
    CONV_SHAPE_CASES,
    ids=[f"k{k}-s{s}-d{d}-{p}-{h}x{w}" for k, s, d, p, (h, w) in CONV_SHAPE_CASES],
)
def test_conv2d_output_shape_matches_formula(kernel, strides, dilation, padding, hw):
    layer = layers.Conv2D(
        2, kernel, strides=strides, dilation_rate=dilation, padding=padding, use_bias=False
    )
    x = _x((2, *hw, 3))
    y = layer(x)
    expected = (2,) + tuple(_expected_len(n, kernel, strides, dilation, padding) for n in hw) + (2,)
    assert y.shape == expected
    assert layer.compute_output_shape((2, *hw, 3)) == expected
    assert layer.compute_output_shape((None, *hw, 3)) == (None,) + expected[1:]
    if padding == "same":
        assert expected[1:3] == tuple(math.ceil(n / strides) for n in hw)
    assert y.dtype == np.float32


def test_conv2d_non_square_kernel_and_strides_shape():
    layer = layers.Conv2D(3, (2, 4), strides=(1, 3))
    y = layer(_x((1, 7, 11, 2)))
    assert y.shape == (1, 6, 3, 3) == layer.compute_output_shape((1, 7, 11, 2))


POOL_SHAPE_CASES = [
    (cls, p, s, pad, hw)
    for cls in ("MaxPooling2D", "AveragePooling2D")
    for p, s in ((2, None), (3, None), (2, 1), (3, 2), ((2, 3), (1, 2)))
    for pad in ("valid", "same")
    for hw in ((7, 7), (8, 5))
]


@pytest.mark.parametrize(
    "cls,pool,strides,padding,hw",
    POOL_SHAPE_CASES,
    ids=[f"{c}-p{p}-s{s}-{pad}-{h}x{w}" for c, p, s, pad, (h, w) in POOL_SHAPE_CASES],
)
def test_pooling_output_shape_matches_formula(cls, pool, strides, padding, hw):
    layer = getattr(layers, cls)(pool, strides=strides, padding=padding)
    y = layer(_x((2, *hw, 3)))
    pool2 = (pool, pool) if isinstance(pool, int) else pool
    s2 = pool2 if strides is None else ((strides, strides) if isinstance(strides, int) else strides)
    expected = (
        (2,) + tuple(_expected_len(n, p, st, 1, padding) for n, p, st in zip(hw, pool2, s2)) + (3,)
    )
    assert y.shape == expected == layer.compute_output_shape((2, *hw, 3))
    assert y.dtype == np.float32


def test_pool_strides_default_to_pool_size():
    assert layers.MaxPooling2D((3, 2)).strides == (3, 2)
    assert layers.AveragePooling2D(2, strides=1).strides == (1, 1)


SIMPLE_SHAPE_CASES = [
    ("dense2d", lambda: layers.Dense(5), (3, 4), (3, 5)),
    ("dense3d", lambda: layers.Dense(5), (3, 2, 4), (3, 2, 5)),
    ("flatten", lambda: layers.Flatten(), (2, 3, 4, 5), (2, 60)),
    ("flatten2d", lambda: layers.Flatten(), (2, 3), (2, 3)),
    ("reshape", lambda: layers.Reshape((6, 10)), (2, 3, 4, 5), (2, 6, 10)),
    ("reshape-1", lambda: layers.Reshape((-1, 5)), (2, 3, 4, 5), (2, 12, 5)),
    ("gap", lambda: layers.GlobalAveragePooling2D(), (2, 3, 4, 5), (2, 5)),
    ("gap-keep", lambda: layers.GlobalAveragePooling2D(keepdims=True), (2, 3, 4, 5), (2, 1, 1, 5)),
    ("gmp", lambda: layers.GlobalMaxPooling2D(), (2, 3, 4, 5), (2, 5)),
    ("gmp-cf", lambda: layers.GlobalMaxPooling2D("channels_first"), (2, 3, 4, 5), (2, 3)),
    ("zp1", lambda: layers.ZeroPadding2D(1), (2, 3, 4, 5), (2, 5, 6, 5)),
    ("zp-sym", lambda: layers.ZeroPadding2D((1, 2)), (2, 3, 4, 5), (2, 5, 8, 5)),
    ("zp-asym", lambda: layers.ZeroPadding2D(((0, 2), (3, 1))), (2, 3, 4, 5), (2, 5, 8, 5)),
    ("activation", lambda: layers.Activation("relu"), (2, 3, 4), (2, 3, 4)),
    ("dropout", lambda: layers.Dropout(0.5), (2, 3, 4), (2, 3, 4)),
    ("bn", lambda: layers.BatchNormalization(), (2, 3, 4), (2, 3, 4)),
    (
        "conv-cf",
        lambda: layers.Conv2D(4, 3, data_format="channels_first"),
        (2, 3, 7, 6),
        (2, 4, 5, 4),
    ),
    (
        "pool-cf",
        lambda: layers.MaxPooling2D(data_format="channels_first"),
        (2, 3, 7, 6),
        (2, 3, 3, 3),
    ),
]


@pytest.mark.parametrize(
    "factory,in_shape,out_shape",
    [c[1:] for c in SIMPLE_SHAPE_CASES],
    ids=[c[0] for c in SIMPLE_SHAPE_CASES],
)
def test_output_shape_and_float32(factory, in_shape, out_shape):
    layer = factory()
    x = _x(in_shape)
    y = layer(x)
    assert y.shape == out_shape
    assert tuple(layer.compute_output_shape(in_shape)) == out_shape
    assert y.dtype == np.float32
    y2, cache = layer.forward(x, training=True)
    assert y2.dtype == np.float32 and y2.shape == out_shape
    dx, grads = layer.backward(_x(out_shape, seed=3), cache)
    assert dx.dtype == np.float32 and dx.shape == in_shape
    assert all(g.dtype == np.float32 and g.shape == v.shape for v, g in grads.items())


def test_float64_input_is_cast_to_float32():
    y = layers.Dense(2)(np.ones((3, 4), dtype=np.float64))
    assert y.dtype == np.float32
    y = layers.Conv2D(2, 2)(np.ones((1, 3, 3, 1), dtype=np.int64))
    assert y.dtype == np.float32


# --------------------------------------------------------------------------- values


def test_conv2d_worked_example():
    layer = layers.Conv2D(1, 2, use_bias=False)
    x = np.array([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], np.float32)
    x = x.reshape(1, 4, 4, 1)
    layer.build(x.shape)
    layer.set_weights([np.array([[1, 0], [-1, 1]], np.float32).reshape(2, 2, 1, 1)])
    y = layer(x)
    assert y.shape == (1, 3, 3, 1)
    np.testing.assert_array_equal(y[0, 0, :, 0], [2, 3, 4])


CONV_REF_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), strides=(2, 1), padding="same"),
    dict(kernel_size=2, dilation_rate=2, padding="same"),
    dict(kernel_size=3, strides=3, padding="valid"),
    dict(kernel_size=1, groups=2),
    dict(kernel_size=3, groups=2, padding="same", strides=2),
]


@pytest.mark.parametrize("kwargs", CONV_REF_CASES, ids=[str(c) for c in CONV_REF_CASES])
def test_conv2d_matches_plain_loop_reference(kwargs):
    layer = layers.Conv2D(4, dtype="float64", **kwargs)
    x = _x((2, 7, 6, 4), dtype=np.float64)
    layer.build(x.shape)
    _randomize(layer)
    conv_args = {k: v for k, v in kwargs.items() if k != "kernel_size"}
    expected = ref.conv2d(x, layer.kernel.numpy(), **conv_args) + layer.bias.numpy()
    tol.assert_close(layer(x), expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, str(kwargs))


def test_dense_matches_formula_and_activation():
    layer = layers.Dense(3, activation="tanh", dtype="float64")
    x = _x((4, 2, 5), dtype=np.float64)
    layer.build(x.shape)
    _randomize(layer)
    expected = np.tanh(np.einsum("bti,io->bto", x, layer.kernel.numpy()) + layer.bias.numpy())
    tol.assert_close(layer(x), expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "dense")


def test_pooling_values_on_small_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(layers.MaxPooling2D()(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(
        layers.AveragePooling2D()(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]]
    )
    # "same" average pooling counts only real cells at the border: last column is mean of 2 cells.
    y = layers.AveragePooling2D(2, strides=2, padding="same")(x[:, :3, :3])
    np.testing.assert_allclose(
        y[0, :, :, 0], [[2.5, 4.0], [8.5, 10.0]]
    )  # of [[0,1,2],[4,5,6],[8,9,10]]


def test_zero_padding_values():
    x = _x((1, 2, 3, 2))
    y = layers.ZeroPadding2D(((1, 0), (0, 2)))(x)
    assert y.shape == (1, 3, 5, 2)
    np.testing.assert_array_equal(y[:, 1:, :3], x)
    assert not y[:, 0].any() and not y[:, :, 3:].any()


def test_flatten_and_reshape_are_c_order():
    x = _x((2, 3, 4, 5))
    np.testing.assert_array_equal(layers.Flatten()(x), x.reshape(2, -1))
    np.testing.assert_array_equal(layers.Reshape((4, 15))(x), x.reshape(2, 4, 15))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: layers.Conv2D(0, 3), "filters.*Received filters=0"),
        (lambda: layers.Conv2D(-2, 3), "filters"),
        (lambda: layers.Conv2D(2, 3, padding="full"), "padding.*full"),
        (lambda: layers.MaxPooling2D(padding="full"), "padding.*full"),
        (lambda: layers.Conv2D(2, 3, activation="nope"), "activation.*nope"),
        (lambda: layers.Activation("nope"), "nope"),
        (lambda: layers.Dense(2, kernel_initializer="nope"), "initializer.*nope"),
        (lambda: layers.Conv2D(2, 0), "kernel_size"),
        (lambda: layers.Conv2D(2, (3, 3, 3)), "kernel_size"),
        (lambda: layers.Conv2D(2, 3, strides=0), "strides"),
        (lambda: layers.Conv2D(2, 3, strides=2, dilation_rate=2), "strides.*dilation_rate"),
        (lambda: layers.Conv2D(2, 3, data_format="NHWC"), "data_format"),
        (lambda: layers.MaxPooling2D(data_format="nchw"), "data_format"),
        (lambda: layers.Conv2D(3, 3, groups=2), "groups"),
        (lambda: layers.MaxPooling2D(0), "pool_size"),
        (lambda: layers.Dense(0), "units.*0"),
        (lambda: layers.Dropout(1.5), "rate.*1.5"),
        (lambda: layers.Reshape((0, 2)), "target_shape"),
        (lambda: layers.Dense(2, bogus=1), "bogus"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def _built(layer, shape):
    layer(np.zeros(shape, np.float32))
    return layer


@pytest.mark.parametrize(
    "factory,good,bad,expected",
    [
        (lambda: layers.Conv2D(2, 3, name="convx"), (1, 5, 5, 3), (1, 5, 5, 4), "value 3"),
        (lambda: layers.Conv2D(2, 3, name="convx"), (1, 5, 5, 3), (5, 5, 3), "ndim=4"),
        (lambda: layers.Conv2D(2, 3, name="convx"), (1, 5, 5, 3), (1, 1, 5, 5, 3), "ndim=4"),
        (
            lambda: layers.Conv2D(2, 3, name="convx", data_format="channels_first"),
            (1, 3, 5, 5),
            (1, 5, 5, 3),
            "value 3",
        ),
        (lambda: layers.Dense(2, name="densex"), (1, 3), (1, 4), "value 3"),
        (lambda: layers.Dense(2, name="densex"), (1, 3), (3,), "min_ndim=2"),
        (lambda: layers.MaxPooling2D(name="poolx"), (1, 4, 4, 3), (1, 4, 4), "ndim=4"),
        (lambda: layers.GlobalAveragePooling2D(name="gapx"), (1, 4, 4, 3), (1, 4, 3), "ndim=4"),
        (lambda: layers.BatchNormalization(name="bnx"), (2, 4, 3), (2, 4, 5), "value 3"),
        (lambda: layers.ZeroPadding2D(name="zpx"), (1, 4, 4, 3), (1, 4, 3), "ndim=4"),
    ],
)
def test_wrong_input_for_built_layer_names_layer_and_shapes(factory, good, bad, expected):
    layer = _built(factory(), good)
    with pytest.raises(ValueError) as info:
        layer(np.zeros(bad, np.float32))
    msg = str(info.value)
    assert layer.name in msg
    assert str(bad) in msg  # the received shape
    assert f"expected {expected}" in msg or f"to have {expected}" in msg, msg


def test_conv_window_larger_than_input_raises():
    with pytest.raises(ValueError, match="negative|zero"):
        layers.Conv2D(2, 7)(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="negative"):
        layers.Conv2D(2, 7).compute_output_shape((1, 5, 5, 3))


def test_dense_needs_defined_last_axis():
    with pytest.raises(ValueError, match="last dimension"):
        layers.Dense(2).build((None, None))


def test_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="groups"):
        layers.Conv2D(4, 1, groups=2)(np.zeros((1, 3, 3, 3), np.float32))


def test_reshape_size_mismatch_names_layer():
    layer = layers.Reshape((7,), name="rs")
    with pytest.raises(ValueError, match="rs"):
        layer(np.zeros((2, 3, 2), np.float32))


# --------------------------------------------------------------------------- configs

CONFIG_CASES = [
    ("dense", lambda: layers.Dense(3, activation="relu", use_bias=False), (2, 4)),
    (
        "dense-init",
        lambda: layers.Dense(3, kernel_initializer="he_normal", bias_initializer="ones"),
        (2, 2, 4),
    ),
    (
        "conv",
        lambda: layers.Conv2D(
            4, (2, 3), strides=(2, 1), padding="same", activation="tanh", groups=2
        ),
        (2, 6, 5, 4),
    ),
    ("conv-dil", lambda: layers.Conv2D(2, 3, dilation_rate=2), (1, 7, 7, 1)),
    ("conv-cf", lambda: layers.Conv2D(2, 3, data_format="channels_first"), (1, 3, 6, 6)),
    ("maxpool", lambda: layers.MaxPooling2D(3, strides=2, padding="same"), (1, 7, 7, 2)),
    ("avgpool", lambda: layers.AveragePooling2D((2, 3)), (1, 6, 6, 2)),
    ("gap", lambda: layers.GlobalAveragePooling2D(keepdims=True), (2, 3, 3, 2)),
    ("gmp", lambda: layers.GlobalMaxPooling2D(data_format="channels_first"), (2, 3, 3, 2)),
    ("flatten", lambda: layers.Flatten(), (2, 3, 2)),
    ("reshape", lambda: layers.Reshape((-1, 2)), (2, 3, 2)),
    ("zp", lambda: layers.ZeroPadding2D(((1, 2), (0, 1))), (1, 3, 3, 2)),
    ("activation", lambda: layers.Activation("softmax"), (2, 5)),
    ("dropout", lambda: layers.Dropout(0.3, noise_shape=(None, 1), seed=4), (2, 5)),
    (
        "bn",
        lambda: layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-2, center=False),
        (4, 3, 2),
    ),
]


@pytest.mark.parametrize(
    "factory,shape", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
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
    assert [v.name for v in clone.weights] == [v.name for v in layer.weights]


def test_config_keys_match_keras_names():
    config = layers.Conv2D(2, 3).get_config()
    for key in (
        "name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
        "data_format", "dilation_rate", "groups", "activation", "use_bias", "kernel_initializer",
        "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "bias_constraint",
    ):  # fmt: skip
        assert key in config, key
    assert config["kernel_size"] == (3, 3) and config["padding"] == "valid"
    assert config["data_format"] == "channels_last" and config["activation"] == "linear"
    bn = layers.BatchNormalization().get_config()
    assert (bn["axis"], bn["momentum"], bn["epsilon"]) == (-1, 0.99, 1e-3)


# --------------------------------------------------------------------------- building


def test_lazy_build_and_explicit_build():
    layer = layers.Dense(3)
    assert not layer.built and layer.weights == []
    with pytest.raises(ValueError, match="isn't built"):
        layer.count_params()
    layer.build((None, 4))
    assert layer.built and [v.shape for v in layer.weights] == [(4, 3), (3,)]
    assert layer.count_params() == 15
    conv = layers.Conv2D(5, 3)
    conv(np.zeros((2, 6, 6, 2), np.float32))
    assert [v.shape for v in conv.weights] == [(3, 3, 2, 5), (5,)]
    assert [v.name for v in conv.weights] == ["kernel", "bias"]


def test_weight_names_and_layouts_match_keras():
    bn = layers.BatchNormalization()
    bn.build((None, 3))
    assert [v.name for v in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.name for v in bn.trainable_weights] == ["gamma", "beta"]
    conv = layers.Conv2D(6, (2, 3), groups=3)
    conv.build((None, 5, 5, 9))
    assert conv.kernel.shape == (2, 3, 3, 6)


def test_input_shape_on_first_layer_builds_sequential():
    model = models.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])
    assert model.built
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2


def test_input_and_input_layer_start_a_model():
    from numpykeras.layers import Input, InputLayer

    m1 = models.Sequential([Input(shape=(6, 6, 2)), layers.Conv2D(3, 3), layers.Flatten()])
    m2 = models.Sequential([InputLayer(shape=(6, 6, 2)), layers.Conv2D(3, 3), layers.Flatten()])
    for m in (m1, m2):
        assert m.built and m.output_shape == (None, 48)
        assert len(m.layers) == 2  # the InputLayer is not listed
    t = Input(shape=(3,), batch_size=4)
    assert t.shape == (4, 3)
    with pytest.raises(ValueError, match="shape"):
        InputLayer()


def test_sequential_lazy_build_on_first_call_and_build():
    model = models.Sequential([layers.Dense(3), layers.Dense(2)])
    assert not model.built
    y = model(np.zeros((5, 4), np.float32))
    assert model.built and y.shape == (5, 2)
    model2 = models.Sequential([layers.Conv2D(2, 3), layers.GlobalMaxPooling2D()])
    model2.build((None, 5, 5, 1))
    assert model2.built and model2.output_shape == (None, 2)


# --------------------------------------------------------------------------- Sequential


def _small_model():
    return models.Sequential(
        [
            layers.Input(shape=(6, 6, 2)),
            layers.Conv2D(3, 3, activation="relu", name="c1"),
            layers.BatchNormalization(name="bn"),
            layers.Flatten(name="f"),
            layers.Dense(4, activation="softmax", name="d"),
        ]
    )


def test_sequential_add_pop_layers_get_layer():
    model = models.Sequential()
    model.add(layers.Input(shape=(4,)))
    a, b = layers.Dense(3, name="a"), layers.Dense(2, name="b")
    model.add(a)
    model.add(b)
    assert model.layers == [a, b]
    assert model.get_layer("b") is b and model.get_layer(index=0) is a
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("zzz")
    with pytest.raises(ValueError):
        model.add(layers.Dense(2, name="a"))  # duplicate name
    with pytest.raises(ValueError):
        model.add("not a layer")
    assert model.pop() is b
    assert model.layers == [a] and model.output_shape == (None, 3)


def test_sequential_weights_order_and_count_params():
    model = _small_model()
    paths = [v.path for v in model.weights]
    assert paths == [
        f"{model.name}/c1/kernel",
        f"{model.name}/c1/bias",
        f"{model.name}/bn/gamma",
        f"{model.name}/bn/beta",
        f"{model.name}/bn/moving_mean",
        f"{model.name}/bn/moving_variance",
        f"{model.name}/d/kernel",
        f"{model.name}/d/bias",
    ]
    expected = (3 * 3 * 2 * 3 + 3) + 4 * 3 + (4 * 4 * 3 * 4 + 4)
    assert model.count_params() == expected
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2


def test_sequential_summary_print_fn():
    clear_session()
    model = _small_model()
    captured = []
    model.summary(print_fn=captured.append)
    text = "".join(captured)
    for name, cls in (("c1", "Conv2D"), ("bn", "BatchNormalization"), ("d", "Dense")):
        assert f"{name} ({cls})" in text
    assert "(None, 4, 4, 3)" in text and "(None, 48)" in text
    assert f"Total params: {model.count_params():,}" in text
    assert "Non-trainable params: 6 " in text


def test_get_set_weights_round_trip_and_errors():
    model = _small_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [v.shape for v in model.weights]
    new = [_x(w.shape, seed=i) for i, w in enumerate(weights)]
    new[5] = np.abs(new[5]) + 0.5  # a valid moving variance
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    # get_weights returns copies
    model.get_weights()[0][...] = 123.0
    np.testing.assert_array_equal(model.get_weights()[0], new[0])

    before = model.get_weights()
    with pytest.raises(ValueError, match="length 7"):
        model.set_weights(new[:-1])
    bad = [w.copy() + 1 for w in new]
    bad[-1] = np.zeros((5,), np.float32)  # last one has the wrong shape
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)"):
        model.set_weights(bad)
    for got, want in zip(model.get_weights(), before):  # nothing changed, not even the first ones
        np.testing.assert_array_equal(got, want)


def test_layer_set_weights_errors():
    layer = layers.Dense(2, name="dd")
    layer.build((None, 3))
    with pytest.raises(ValueError, match="dd"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="dd"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_predict_float32_batches_equal_one_call():
    model = _small_model()
    _randomize(model)
    x = _x((7, 6, 6, 2)).astype(np.float64)
    full = model.predict(x, batch_size=7, verbose=0)
    batched = model.predict(x, batch_size=3, verbose=0)
    assert full.dtype == np.float32 and batched.dtype == np.float32
    assert batched.shape == (7, 4)
    tol.assert_forward_close(batched, full, "batched predict")
    tol.assert_forward_close(full, model(x.astype(np.float32)), "predict vs call")


def test_predict_is_thread_safe():
    model = _small_model()
    _randomize(model)
    x = _x((16, 6, 6, 2))
    expected = model.predict(x, batch_size=4, verbose=0)
    results = run_in_threads(lambda: model.predict(x, batch_size=4, verbose=0))
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_predict_builds_unbuilt_model():
    model = models.Sequential([layers.Dense(2)])
    y = model.predict(np.ones((3, 5)), verbose=0)
    assert y.shape == (3, 2) and y.dtype == np.float32


# --------------------------------------------------------------------------- channels_first

F64 = "float64"
CF_CASES = [
    (
        "conv",
        lambda df: layers.Conv2D(
            3, (2, 3), strides=(1, 2), padding="same", data_format=df, dtype=F64
        ),
    ),
    ("conv-dil", lambda df: layers.Conv2D(2, 2, dilation_rate=2, data_format=df, dtype=F64)),
    ("conv-act", lambda df: layers.Conv2D(2, 3, activation="softmax", data_format=df, dtype=F64)),
    ("maxpool", lambda df: layers.MaxPooling2D(3, 2, padding="same", data_format=df, dtype=F64)),
    ("avgpool", lambda df: layers.AveragePooling2D(2, 1, data_format=df, dtype=F64)),
    (
        "avgpool-same",
        lambda df: layers.AveragePooling2D(3, 2, padding="same", data_format=df, dtype=F64),
    ),
    ("gap", lambda df: layers.GlobalAveragePooling2D(data_format=df, keepdims=True, dtype=F64)),
    ("gmp", lambda df: layers.GlobalMaxPooling2D(data_format=df, dtype=F64)),
    ("zp", lambda df: layers.ZeroPadding2D(((1, 0), (2, 1)), data_format=df, dtype=F64)),
]


def _nchw(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if a.ndim == 4 else a


@pytest.mark.parametrize("factory", [c[1] for c in CF_CASES], ids=[c[0] for c in CF_CASES])
def test_channels_first_equals_channels_last_on_transposed_data(factory):
    x = _x((2, 7, 6, 3), dtype=np.float64)
    last, first = factory("channels_last"), factory("channels_first")
    last(x)
    first(_nchw(x))
    _randomize(last)
    first.set_weights(last.get_weights())
    y_last, cache_last = last.forward(x, training=True)
    y_first, cache_first = first.forward(_nchw(x), training=True)
    tol.assert_close(y_first, _nchw(y_last), tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "forward")
    dy = _x(y_last.shape, seed=5, dtype=np.float64)
    dx_last, g_last = last.backward(dy, cache_last)
    dx_first, g_first = first.backward(_nchw(dy), cache_first)
    tol.assert_close(dx_first, _nchw(dx_last), tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "dx")
    for v_last, v_first in zip(last.trainable_weights, first.trainable_weights):
        tol.assert_close(
            g_first[v_first], g_last[v_last], tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, v_last.name
        )


def test_flatten_channels_first_orders_like_channels_last():
    x = _x((2, 4, 3, 5))
    np.testing.assert_array_equal(
        layers.Flatten(data_format="channels_first")(_nchw(x)), layers.Flatten()(x)
    )


# --------------------------------------------------------------------------- Dropout


def test_dropout_is_identity_at_inference():
    x = _x((4, 10))
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y, cache = layer.forward(x, training=False)
    np.testing.assert_array_equal(y, x)
    dy = _x(x.shape, seed=2)
    np.testing.assert_array_equal(layer.backward(dy, cache)[0], dy)
    np.testing.assert_array_equal(layers.Dropout(0.0).forward(x, training=True)[0], x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics_and_scaling(rate):
    n = 20000
    x = np.abs(_x((4, n // 4))) + 0.5
    layer = layers.Dropout(rate, seed=123)
    y, cache = layer.forward(x, training=True)
    dropped = y == 0
    # Kept units are scaled by 1 / (1 - rate), dropped ones are exactly 0.
    tol.assert_close(
        y[~dropped], x[~dropped] / (1 - rate), tol.FORWARD_ATOL, tol.FORWARD_RTOL, "scaling"
    )
    frac = dropped.mean()
    stderr = math.sqrt(rate * (1 - rate) / n)
    assert abs(frac - rate) < tol.SAMPLE_STATS_SIGMAS * stderr, (frac, rate)
    # The backward pass uses the same mask.
    dy = _x(x.shape, seed=7)
    dx, grads = layer.backward(dy, cache)
    assert grads == {}
    np.testing.assert_array_equal(dx == 0, dropped)
    tol.assert_close(
        dx[~dropped], dy[~dropped] / (1 - rate), tol.FORWARD_ATOL, tol.FORWARD_RTOL, "dropout dx"
    )
    assert y.dtype == np.float32


def test_dropout_noise_shape_broadcasts_and_seed_reproducible():
    x = np.ones((3, 50, 4), np.float32)
    y, _ = layers.Dropout(0.5, noise_shape=(None, 1, 4), seed=1).forward(x, training=True)
    assert (y == y[:, :1, :]).all()  # same mask along the broadcast axis
    y1, _ = layers.Dropout(0.5, seed=9).forward(x, training=True)
    y2, _ = layers.Dropout(0.5, seed=9).forward(x, training=True)
    np.testing.assert_array_equal(y1, y2)


# --------------------------------------------------------------------------- BatchNormalization


def test_batchnorm_training_uses_batch_statistics_and_updates_moving_ones():
    layer = layers.BatchNormalization(momentum=0.8, epsilon=1e-3, dtype="float64")
    x = _x((16, 3), dtype=np.float64) * 3 + 2
    layer.build(x.shape)
    _randomize(layer)
    gamma, beta, mm, mv = layer.get_weights()
    y, _ = layer.forward(x, training=True)
    mean, var = x.mean(0), x.var(0)
    expected = gamma * (x - mean) / np.sqrt(var + 1e-3) + beta
    tol.assert_close(y, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "bn train")
    new_mm, new_mv = layer.get_weights()[2:]
    tol.assert_close(
        new_mm, 0.8 * mm + 0.2 * mean, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "moving_mean"
    )
    tol.assert_close(
        new_mv, 0.8 * mv + 0.2 * var, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "moving_variance"
    )


def test_batchnorm_inference_uses_moving_statistics():
    layer = layers.BatchNormalization(axis=1, dtype="float64")
    x = _x((4, 3, 5), dtype=np.float64)
    layer.build(x.shape)
    _randomize(layer)
    gamma, beta, mm, mv = (w.reshape(1, 3, 1) for w in layer.get_weights())
    expected = gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta
    before = layer.get_weights()
    tol.assert_close(layer(x), expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "bn inference")
    y, cache = layer.forward(x, training=False)
    tol.assert_close(y, expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, "bn forward inference")
    for a, b in zip(before, layer.get_weights()):  # inference changes nothing
        np.testing.assert_array_equal(a, b)
    # call(training=True) normalizes with the batch statistics instead.
    yt = layer(x, training=True)
    assert not np.allclose(yt, expected)


def test_frozen_batchnorm_runs_in_inference_mode():
    layer = layers.BatchNormalization()
    x = _x((8, 3)) * 2 + 1
    layer.build(x.shape)
    layer.trainable = False
    before = layer.get_weights()
    y, _ = layer.forward(x, training=True)
    tol.assert_forward_close(y, layer(x), "frozen bn")
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
