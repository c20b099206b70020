"""Fused inference kernel ``ops.conv2d_max_pool2d`` (and the Sequential pass that uses it) vs
plain-loop references (float64), and the per-thread scratch buffers of the convolution kernels."""

import threading

import numpy as np
import pytest

from numpykeras import layers, models, ops
from numpykeras.ops import _scratch
from numpykeras.ops import conv as conv_module

import reference_ops as ref
from tolerances import FORWARD_ATOL, FORWARD_RTOL, REFERENCE_ATOL, REFERENCE_RTOL, assert_close


def close(actual, expected, what):
    assert_close(actual, expected, REFERENCE_ATOL, REFERENCE_RTOL, what)


def _reference(x, k, bias, relu, strides, padding, dilation, pool_size, pool_strides, pool_pad):
    z = ref.conv2d(x, k, strides, padding, dilation) + bias
    if relu:
        z = np.maximum(z, 0.0)
    return ref.max_pool2d(z, pool_size, pool_strides, pool_pad)


FUSED_CASES = [
    # (input shape, kernel size, strides, padding, dilation, pool size, pool strides, pool padding)
    ((3, 9, 10, 3), (3, 3), 1, "valid", 1, 2, None, "valid"),  # channel-major columns, tiled
    ((3, 9, 10, 3), (3, 2), 1, "same", 1, 2, None, "valid"),  # odd map: a cropped row
    ((2, 11, 9, 3), (3, 3), 2, "same", 1, (2, 1), None, "valid"),  # strided conv, 2x1 pool
    ((2, 10, 10, 9), (3, 3), 1, "same", 2, 2, None, "same"),  # NHWC columns, dilation, tiled
    ((2, 9, 8, 9), (2, 3), (1, 2), "valid", 1, 3, None, "valid"),  # 3x3 windows
    ((2, 9, 9, 9), (3, 3), 1, "same", 1, 3, 2, "valid"),  # overlapping windows: not tiled
    ((2, 9, 9, 3), (3, 3), 1, "same", 1, 2, None, "same"),  # odd map, padded pooling
    ((2, 8, 8, 4), (1, 1), 1, "valid", 1, 2, None, "valid"),  # 1x1: conv then pool
]


@pytest.mark.parametrize(
    "shape, ksize, strides, padding, dilation, pool, pstrides, ppad", FUSED_CASES
)
@pytest.mark.parametrize("relu", [False, True])
def test_conv2d_max_pool2d_matches_reference(
    monkeypatch, shape, ksize, strides, padding, dilation, pool, pstrides, ppad, relu
):
    # small chunks: several chunks per call and a smaller last one
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 3000)
    monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 3000)
    rng = np.random.default_rng(sum(shape) + relu)
    x = rng.standard_normal(shape)
    k = rng.standard_normal(ksize + (shape[3], 6))
    bias = rng.standard_normal(6)
    bias[0] = -100.0  # a channel the relu zeroes everywhere, even after the max
    activation = "relu" if relu else None
    y = ops.conv2d_max_pool2d(
        x, k, strides, padding, dilation, bias=bias, activation=activation,
        pool_size=pool, pool_strides=pstrides, pool_padding=ppad,
    )  # fmt: skip
    expected = _reference(x, k, bias, relu, strides, padding, dilation, pool, pstrides, ppad)
    close(y, expected, "conv2d_max_pool2d")
    if relu:
        assert (y == 0).any() and (y > 0).any()  # both sides of the relu are exercised


def test_conv2d_max_pool2d_float32_without_bias_and_errors():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    y = ops.conv2d_max_pool2d(x, k, padding="same")
    assert y.dtype == np.float32 and y.shape == (2, 4, 4, 4)
    expected = ref.max_pool2d(ref.conv2d(x.astype(np.float64), k.astype(np.float64), 1, "same"), 2)
    assert_close(y, expected, FORWARD_ATOL, FORWARD_RTOL, "float32 conv2d_max_pool2d")
    with pytest.raises(ValueError, match="activation"):
        ops.conv2d_max_pool2d(x, k, activation="tanh")
    with pytest.raises(ValueError, match="bias"):
        ops.conv2d_max_pool2d(x, k, bias=np.zeros(3))
    with pytest.raises(ValueError, match="zero or negative"):
        ops.conv2d_max_pool2d(x, k, pool_size=7)
    with pytest.raises(ValueError, match="strides"):
        ops.conv2d_max_pool2d(x, k, pool_strides=(1, 2, 3))


def _stack(activation="relu", data_format="channels_last", pool_dtype=None):
    shape = (9, 9, 3) if data_format == "channels_last" else (3, 9, 9)
    pool_kwargs = {} if pool_dtype is None else {"dtype": pool_dtype}
    return models.Sequential(
        [
            layers.Input(shape),
            layers.Conv2D(5, 3, padding="same", activation=activation, data_format=data_format),
            layers.MaxPooling2D(2, data_format=data_format, **pool_kwargs),
            layers.Conv2D(4, 2, activation="relu", data_format=data_format),
            layers.MaxPooling2D(2, strides=1, padding="same", data_format=data_format),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )


@pytest.mark.parametrize(
    "activation, data_format, pool_dtype, fused_pairs",
    [
        ("relu", "channels_last", None, 2),  # both conv/pool pairs fused
        ("linear", "channels_last", None, 2),  # no activation: fused too
        ("tanh", "channels_last", None, 1),  # the first pair runs layer by layer
        ("relu", "channels_first", None, 0),  # channels first: never fused
        ("relu", "channels_last", "float64", 1),  # the first pool's own dtype: not fused
    ],
)
def test_sequential_inference_fusion_matches_layer_by_layer(
    monkeypatch, activation, data_format, pool_dtype, fused_pairs
):
    model = _stack(activation, data_format, pool_dtype)
    shape = (4,) + model.input_shape[1:]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    expected = x
    for layer in model.layers:
        expected = layer(expected)
    fused = []
    original = ops.conv2d_max_pool2d

    def counting(*args, **kwargs):
        fused.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ops, "conv2d_max_pool2d", counting)
    got = model.predict_on_batch(x)
    assert_close(got, expected, FORWARD_ATOL, FORWARD_RTOL, "fused Sequential inference")
    assert_close(model.predict(x, verbose=0), expected, FORWARD_ATOL, FORWARD_RTOL, "predict")
    assert len(fused) == 2 * fused_pairs  # predict_on_batch and predict
    # training-mode calls and the training forward never fuse (they need the full conv output)
    fused.clear()
    model(x, training=True)
    model.forward(x, training=True)
    assert not fused


def test_sequential_fusion_skips_subclassed_layers():
    class Doubled(layers.Conv2D):
        def call(self, inputs, training=False):
            return 2.0 * super().call(inputs, training)

    model = models.Sequential(
        [layers.Input((6, 6, 2)), Doubled(3, 3, activation="relu"), layers.MaxPooling2D(2)]
    )
    x = np.random.default_rng(2).standard_normal((2, 6, 6, 2)).astype(np.float32)
    expected = model.layers[1](model.layers[0](x))
    assert_close(model.predict_on_batch(x), expected, FORWARD_ATOL, FORWARD_RTOL, "subclass")


def test_scratch_buffers_are_reused_per_thread_and_zeroed_on_request():
    _scratch.clear()
    a = _scratch.scratch("t", (4, 5), np.float32)
    a[...] = 7
    b = _scratch.scratch("t", (2, 3), np.float32)  # smaller: a view of the same memory
    assert b.shape == (2, 3) and b.flags.c_contiguous and np.shares_memory(a, b)
    assert np.shares_memory(_scratch.scratch("t", (2,), np.float64), a) is False  # other dtype
    z = _scratch.scratch("t", (3, 3), np.float32, zero=True)
    assert not z.any()
    big = _scratch.scratch("t", (10, 10), np.float32)  # larger: a new buffer
    assert big.shape == (10, 10) and not np.shares_memory(big, a)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_scratch.scratch("t", (10, 10), "f4")))
    thread.start()
    thread.join()
    assert not np.shares_memory(seen[0], big)  # each thread has its own buffers
    _scratch.clear()


def test_conv_results_never_alias_scratch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 6, 3))
    k = rng.standard_normal((3, 3, 3, 4))
    y1 = ops.conv2d(x, k, padding="same")
    p1 = ops.conv2d_max_pool2d(x, k, padding="same")
    dx1, dk1 = ops.conv2d_backward(np.ones_like(y1), x, k, padding="same")
    keep = [a.copy() for a in (y1, p1, dx1, dk1)]
    # a second call with other data reuses the scratch buffers; the first results must not change
    x2 = rng.standard_normal((2, 6, 6, 3))
    ops.conv2d(x2, k, padding="same")
    ops.conv2d_max_pool2d(x2, k, padding="same")
    ops.conv2d_backward(rng.standard_normal(y1.shape), x2, k, padding="same")
    for before, after in zip(keep, (y1, p1, dx1, dk1)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("shape", [(7, 9, 10, 3), (7, 8, 9, 9)])  # channel-major and NHWC columns
def test_conv_kernels_split_between_threads_match_reference(kernel_split_threads, shape):
    rng = np.random.default_rng(shape[3])
    x = rng.standard_normal(shape)
    k = rng.standard_normal((3, 3, shape[3], 5))
    bias = rng.standard_normal(5)
    y = ops.conv2d(x, k, 1, "same", bias=bias, activation="relu")
    z_ref = ref.conv2d(x, k, 1, "same") + bias
    close(y, np.maximum(z_ref, 0.0), "split conv2d")
    dy = rng.standard_normal(y.shape)
    dx, dk, db = ops.conv2d_backward_fused(dy, x, k, 1, "same", relu_output=y, use_bias=True)
    dz = dy * (z_ref > 0)
    dx_ref, dk_ref = ref.conv2d_backward(dz, x, k, 1, "same")
    close(dx, dx_ref, "split conv2d dx")
    close(dk, dk_ref, "split conv2d dkernel")
    close(db, dz.sum(axis=(0, 1, 2)), "split conv2d dbias")
    pooled = ops.conv2d_max_pool2d(x, k, 1, "same", bias=bias, activation="relu")
    close(pooled, ref.max_pool2d(np.maximum(z_ref, 0.0), 2), "split conv2d_max_pool2d")
    # 1x1: the plain matmul split by output rows, and by columns for a wide output
    for x1, cout in ((x, 4), (x[:1, :2, :3], 20)):  # 504 x 4 and 6 x 20 outputs
        k1 = rng.standard_normal((1, 1, shape[3], cout))
        y1 = ops.conv2d(x1, k1)
        close(y1, ref.conv2d(x1, k1), f"split 1x1 conv2d, {cout} filters")
        dy1 = rng.standard_normal(y1.shape)
        dx1, dk1 = ops.conv2d_backward(dy1, x1, k1)
        dx1_ref, dk1_ref = ref.conv2d_backward(dy1, x1, k1)
        close(dx1, dx1_ref, "split 1x1 dx")
        close(dk1, dk1_ref, "split 1x1 dkernel")


def test_depthwise_and_pooling_split_between_threads_match_reference(kernel_split_threads):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((7, 8, 9, 4))
    k = rng.standard_normal((3, 3, 4, 2))
    y = ops.depthwise_conv2d(x, k, 1, "same")
    close(y, ref.depthwise_conv2d(x, k, 1, "same"), "split depthwise")
    dy = rng.standard_normal(y.shape)
    dx, dk = ops.depthwise_conv2d_backward(dy, x, k, 1, "same")
    dx_ref, dk_ref = ref.depthwise_conv2d_backward(dy, x, k, 1, "same")
    close(dx, dx_ref, "split depthwise dx")
    close(dk, dk_ref, "split depthwise dkernel")
    xr = np.maximum(x, 0.0)  # windows of equal zeros: the first one must win in every part
    for pool_in in (x, xr):
        y_pool, cache = ops.max_pool2d_forward(pool_in, 2)
        close(y_pool, ref.max_pool2d(pool_in, 2), "split max_pool2d_forward")
        close(ops.max_pool2d(pool_in, 2), ref.max_pool2d(pool_in, 2), "split max_pool2d")
        dyp = rng.standard_normal(y_pool.shape)
        close(
            ops.max_pool2d_backward(dyp, cache),
            ref.max_pool2d_backward(dyp, pool_in, 2),
            "split max_pool2d dx",
        )


def test_dense_split_between_threads_matches_plain_matmul(kernel_split_threads):
    rng = np.random.default_rng(9)
    layer = layers.Dense(7, activation="relu", dtype="float64")
    x = rng.standard_normal((12, 5))
    layer.build(x.shape)
    y, cache = layer.forward(x)
    w, b = layer.kernel.numpy(), layer.bias.numpy()
    close(y, np.maximum(x @ w + b, 0.0), "split Dense forward")
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    dz = dy * (x @ w + b > 0)
    close(dx, dz @ w.T, "split Dense dx")
    close(grads[layer.kernel], x.T @ dz, "split Dense dkernel")


def test_kernel_threads_can_be_turned_off(monkeypatch):
    from numpykeras.ops import _parallel

    monkeypatch.setattr(_parallel, "_state", {})
    monkeypatch.setenv("NUMPYKERAS_KERNEL_THREADS", "1")
    assert _parallel.kernel_threads() == 1
    assert _parallel.map_chunks(lambda part: list(part), [0, 4, 8]) == [[0, 4, 8]]
