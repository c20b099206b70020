"""numpykeras.ops convolution kernels vs plain-loop references (float64), plus size arithmetic."""

import itertools

import numpy as np
import pytest

from numpykeras import ops
from numpykeras.ops import conv as conv_module

import reference_ops as ref
from tolerances import (
    FINITE_DIFF_ATOL,
    FINITE_DIFF_EPS,
    FINITE_DIFF_RTOL,
    REFERENCE_ATOL,
    REFERENCE_RTOL,
    assert_close,
)


def close(actual, expected, what):
    assert_close(actual, expected, REFERENCE_ATOL, REFERENCE_RTOL, what)


# --------------------------------------------------------------------------- size arithmetic


@pytest.mark.parametrize(
    "h, f, s, d, valid, same",
    [
        (5, 3, 1, 1, 3, 5),
        (4, 2, 1, 1, 3, 4),
        (7, 3, 2, 1, 3, 4),
        (8, 3, 2, 1, 3, 4),
        (6, 3, 3, 1, 2, 2),
        (9, 3, 1, 2, 5, 9),
        (5, 5, 2, 1, 1, 3),
        (3, 5, 1, 1, -1, 3),  # the window does not fit: floor((3 - 5) / 1) + 1 = -1
    ],
)
def test_conv_output_length(h, f, s, d, valid, same):
    assert ops.conv_output_length(h, f, "valid", s, d) == valid
    assert ops.conv_output_length(h, f, "same", s, d) == same
    assert ops.conv_output_length(h, f, "SAME", s, d) == same


@pytest.mark.parametrize("h, f, s, p", [(5, 3, 1, 1), (10, 3, 2, 0), (9, 5, 2, 2), (28, 5, 1, 2)])
def test_conv_output_length_matches_textbook_formula(h, f, s, p):
    # floor((H + 2P - F) / S) + 1 with P = 0 is 'valid'; 'full' is P = F - 1.
    assert ops.conv_output_length(h, f, "valid", s) == (h + 2 * 0 - f) // s + 1
    assert ops.conv_output_length(h, f, "full", s) == (h + 2 * (f - 1) - f) // s + 1
    # with stride 1 and odd F, 'same' is the textbook P = (F - 1) / 2
    if s == 1 and f % 2 == 1:
        assert ops.conv_output_length(h, f, "same", 1) == (h + 2 * ((f - 1) // 2) - f) // 1 + 1


def test_conv_output_length_none_passes_through():
    assert ops.conv_output_length(None, 3, "same", 2) is None
    assert ops.conv_output_length(None, 3, "valid", 1) is None


@pytest.mark.parametrize(
    "h, f, s, d, expected",
    [
        (5, 3, 1, 1, (1, 1)),
        (4, 2, 1, 1, (0, 1)),  # odd total: the extra pixel goes at the end
        (4, 3, 2, 1, (0, 1)),
        (5, 3, 2, 1, (1, 1)),
        (6, 4, 1, 1, (1, 2)),
        (5, 3, 1, 2, (2, 2)),  # dilated window covers 5 inputs
        (6, 1, 2, 1, (0, 0)),
        (8, 1, 3, 1, (0, 0)),  # negative total (-1) is clipped to zero
    ],
)
def test_same_padding(h, f, s, d, expected):
    before, after = ops.same_padding(h, f, s, d)
    assert (before, after) == expected
    # the padded input gives exactly ceil(H / S) outputs under the 'valid' rule
    span = d * (f - 1) + 1
    assert (h + before + after - span) // s + 1 == -(-h // s)


def test_padding_and_tuple_validation():
    with pytest.raises(ValueError, match="padding"):
        ops.conv_output_length(5, 3, "reflect", 1)
    with pytest.raises(ValueError, match="strides"):
        ops.normalize_tuple((1, 2, 3), 2, "strides")
    with pytest.raises(ValueError, match="strides"):
        ops.normalize_tuple(0, 2, "strides")
    assert ops.normalize_tuple(np.int64(2), 2, "strides") == (2, 2)
    assert ops.normalize_tuple([1, 3], 2, "strides") == (1, 3)


# --------------------------------------------------------------------------- worked example


def test_textbook_worked_example():
    x = np.array([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], dtype=np.float32)
    k = np.array([[1, 0], [-1, 1]], dtype=np.float32)
    y = ops.conv2d(x[None, :, :, None], k[:, :, None, None], strides=1, padding="valid")
    assert y.shape == (1, 3, 3, 1)
    # first output row by hand: 1*1 + 2*0 + 0*(-1) + 1*1 = 2;  2 + 0 - 1 + 2 = 3;  3 + 0 - 2 + 3 = 4
    np.testing.assert_array_equal(y[0, 0, :, 0], [2.0, 3.0, 4.0])


# --------------------------------------------------------------------------- sweep vs reference


def _conv_cases():
    cases = []
    shapes = [
        (2, 7, 5, 4),
        (1, 6, 9, 2),
    ]  # H != W, odd and even; second uses the channel-major path
    for (k, s, d, pad), shape in itertools.product(
        itertools.product(range(1, 6), (1, 2, 3), (1, 2), ("valid", "same")), shapes
    ):
        kernel = (k, max(1, k - 1)) if (k + s) % 2 else (k, k)  # some non-square kernels
        span = [d * (kk - 1) + 1 for kk in kernel]
        if pad == "valid" and (span[0] > shape[1] or span[1] > shape[2]):
            continue
        cases.append((shape, kernel, s, d, pad))
    return cases


@pytest.mark.parametrize("shape, kernel_size, strides, dilation, padding", _conv_cases())
def test_conv2d_matches_reference(shape, kernel_size, strides, dilation, padding):
    rng = np.random.default_rng(sum(shape) + 7 * sum(kernel_size) + strides + 3 * dilation)
    x = rng.standard_normal(shape)
    k = rng.standard_normal(kernel_size + (shape[3], 3))
    y = ops.conv2d(x, k, strides, padding, dilation)
    close(y, ref.conv2d(x, k, strides, padding, dilation), "conv2d forward")
    dy = rng.standard_normal(y.shape)
    dx, dk = ops.conv2d_backward(dy, x, k, strides, padding, dilation)
    dx_ref, dk_ref = ref.conv2d_backward(dy, x, k, strides, padding, dilation)
    close(dx, dx_ref, "conv2d dx")
    close(dk, dk_ref, "conv2d dkernel")


@pytest.mark.parametrize(
    "shape, kernel_size, strides, padding, groups, cout",
    [
        ((2, 6, 5, 4), (3, 3), 1, "same", 2, 6),
        ((1, 7, 6, 6), (2, 3), 2, "valid", 3, 3),
        ((2, 5, 5, 6), (1, 1), 1, "valid", 2, 4),
        ((1, 6, 7, 4), (3, 2), (2, 1), "same", 4, 8),
    ],
)
def test_grouped_conv2d_matches_reference(shape, kernel_size, strides, padding, groups, cout):
    rng = np.random.default_rng(groups + cout)
    x = rng.standard_normal(shape)
    k = rng.standard_normal(kernel_size + (shape[3] // groups, cout))
    y = ops.conv2d(x, k, strides, padding, groups=groups)
    close(y, ref.conv2d(x, k, strides, padding, 1, groups), "grouped conv2d forward")
    dy = rng.standard_normal(y.shape)
    dx, dk = ops.conv2d_backward(dy, x, k, strides, padding, groups=groups)
    dx_ref, dk_ref = ref.conv2d_backward(dy, x, k, strides, padding, 1, groups)
    close(dx, dx_ref, "grouped conv2d dx")
    close(dk, dk_ref, "grouped conv2d dkernel")


@pytest.mark.parametrize("shape", [(5, 6, 7, 3), (5, 6, 5, 10)])  # channel-major and NHWC paths
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_batch_chunks(monkeypatch, shape, padding):
    # tiny chunks: several chunks per call and a smaller last one
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 2 * 4 * 5 * 9 * shape[3] * 8)
    monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 2 * 4 * 5 * 9 * shape[3] * 8)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    k = rng.standard_normal((3, 3, shape[3], 4))
    y = ops.conv2d(x, k, 1, padding)
    close(y, ref.conv2d(x, k, 1, padding), "chunked forward")
    dy = rng.standard_normal(y.shape)
    dx, dk = ops.conv2d_backward(dy, x, k, 1, padding)
    dx_ref, dk_ref = ref.conv2d_backward(dy, x, k, 1, padding)
    close(dx, dx_ref, "chunked dx")
    close(dk, dk_ref, "chunked dkernel")


@pytest.mark.parametrize("strides, padding", [(1, "same"), (2, "valid")])
def test_conv2d_gradients_by_finite_differences(strides, padding):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 4, 2))
    k = rng.standard_normal((3, 2, 2, 3))
    dy = rng.standard_normal(ops.conv2d(x, k, strides, padding).shape)
    dx, dk = ops.conv2d_backward(dy, x, k, strides, padding)
    num_dx = ref.numerical_gradient(
        lambda v: ops.conv2d(v, k, strides, padding), x, dy, FINITE_DIFF_EPS
    )
    num_dk = ref.numerical_gradient(
        lambda v: ops.conv2d(x, v, strides, padding), k, dy, FINITE_DIFF_EPS
    )
    assert_close(dx, num_dx, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "dx vs finite differences")
    assert_close(dk, num_dk, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "dkernel vs finite differences")


def test_conv2d_need_dx_false_and_dtypes():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((2, 6, 6, 3)).astype(dtype)
        k = rng.standard_normal((3, 3, 3, 4)).astype(np.float64)
        y = ops.conv2d(x, k, 1, "same")
        assert y.dtype == dtype
        dx, dk = ops.conv2d_backward(np.ones_like(y), x, k, 1, "same", need_dx=False)
        assert dx is None and dk.dtype == dtype and dk.shape == k.shape
    y = ops.conv2d(np.ones((1, 3, 3, 1), dtype=np.int64), np.ones((2, 2, 1, 1)))
    assert y.dtype == np.float32


def test_conv2d_errors():
    x = np.zeros((1, 5, 5, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="rank 4"):
        ops.conv2d(x[0], np.zeros((3, 3, 4, 2)))
    with pytest.raises(ValueError, match="rank 4"):
        ops.conv2d(x, np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match="channels"):
        ops.conv2d(x, np.zeros((3, 3, 3, 2)))
    with pytest.raises(ValueError, match="divisible by `groups`"):
        ops.conv2d(x, np.zeros((3, 3, 4, 3)), groups=2)
    with pytest.raises(ValueError, match="groups"):
        ops.conv2d(x, np.zeros((3, 3, 4, 2)), groups=0)
    with pytest.raises(ValueError, match="padding"):
        ops.conv2d(x, np.zeros((3, 3, 4, 2)), padding="causal")
    with pytest.raises(ValueError, match="zero or negative"):
        ops.conv2d(x, np.zeros((6, 3, 4, 2)))
    with pytest.raises(ValueError, match="strides"):
        ops.conv2d(x, np.zeros((3, 3, 4, 2)), strides=(1, 0))
    with pytest.raises(ValueError, match="dy.shape"):
        ops.conv2d_backward(np.zeros((1, 2, 2, 2)), x, np.zeros((3, 3, 4, 2)))


# --------------------------------------------------------------------------- fused bias + relu


def _fused_reference(x, k, bias, relu, strides, padding, groups, dy):
    """Plain-loop forward / backward of ``act(conv2d(x, k) + bias)``: (y, dx, dk, dbias)."""
    z = ref.conv2d(x, k, strides, padding, 1, groups) + bias
    y = np.maximum(z, 0.0) if relu else z
    dz = dy * (z > 0) if relu else dy
    dx, dk = ref.conv2d_backward(dz, x, k, strides, padding, 1, groups)
    return y, dx, dk, dz.sum(axis=(0, 1, 2))


@pytest.mark.parametrize(
    "shape, kernel_size, strides, padding, groups",
    [
        ((3, 7, 8, 3), (3, 3), 1, "valid", 1),  # channel-major column matrix (few channels)
        ((3, 7, 8, 3), (3, 2), 2, "same", 1),
        ((2, 6, 5, 10), (3, 3), 1, "same", 1),  # NHWC column matrix
        ((2, 6, 5, 10), (2, 3), (2, 1), "valid", 1),
        ((2, 5, 5, 4), (1, 1), 2, "valid", 1),  # 1x1: a plain matmul
        ((2, 6, 5, 4), (3, 3), 1, "same", 2),  # grouped
    ],
)
@pytest.mark.parametrize("relu", [False, True])
def test_conv2d_fused_bias_relu_matches_reference(
    monkeypatch, shape, kernel_size, strides, padding, groups, relu
):
    # small chunks: the fused bias / relu / bias gradient must be right on every chunk
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 600)
    monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 600)
    rng = np.random.default_rng(shape[3] + 2 * groups + relu)
    cout = 6
    x = rng.standard_normal(shape)
    k = rng.standard_normal(kernel_size + (shape[3] // groups, cout))
    bias = rng.standard_normal(cout)
    activation = "relu" if relu else None
    y = ops.conv2d(x, k, strides, padding, groups=groups, bias=bias, activation=activation)
    dy = rng.standard_normal(y.shape)
    y_ref, dx_ref, dk_ref, db_ref = _fused_reference(x, k, bias, relu, strides, padding, groups, dy)
    close(y, y_ref, "fused conv2d forward")
    if relu:
        assert (y == 0).any() and (y > 0).any()  # both sides of the relu are exercised
    dx, dk, db = ops.conv2d_backward_fused(
        dy, x, k, strides, padding, groups=groups, relu_output=y if relu else None, use_bias=True
    )
    close(dx, dx_ref, "fused conv2d dx")
    close(dk, dk_ref, "fused conv2d dkernel")
    close(db, db_ref, "fused conv2d dbias")
    # without a bias: no bias gradient, same kernel gradient of the unbiased convolution
    dx2, dk2, db2 = ops.conv2d_backward_fused(dy, x, k, strides, padding, groups=groups)
    dx2_ref, dk2_ref = ref.conv2d_backward(dy, x, k, strides, padding, 1, groups)
    assert db2 is None
    close(dx2, dx2_ref, "conv2d_backward_fused dx without bias")
    close(dk2, dk2_ref, "conv2d_backward_fused dkernel without bias")


def test_conv2d_fused_float32_and_errors():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    y = ops.conv2d(x, k, bias=bias, activation="relu")
    assert y.dtype == np.float32
    dx, dk, db = ops.conv2d_backward_fused(
        np.ones_like(y), x, k, relu_output=y, use_bias=True, need_dx=False
    )
    assert dx is None and dk.dtype == np.float32 and db.dtype == np.float32 and db.shape == (4,)
    with pytest.raises(ValueError, match="activation"):
        ops.conv2d(x, k, activation="tanh")
    with pytest.raises(ValueError, match="bias.shape"):
        ops.conv2d(x, k, bias=np.zeros(3))
    with pytest.raises(ValueError, match="relu_output.shape"):
        ops.conv2d_backward_fused(np.ones_like(y), x, k, relu_output=y[:1])


# --------------------------------------------------------------------------- depthwise


def _depthwise_cases():
    cases = []
    for k, s, d, pad, mult in itertools.product(
        (1, 2, 3, 5), (1, 2, 3), (1, 2), ("valid", "same"), (1, 2)
    ):
        if pad == "valid" and d * (k - 1) + 1 > 6:
            continue
        cases.append(((2, 7, 6, 3), (k, k if k != 2 else 3), s, d, pad, mult))
    return cases


@pytest.mark.parametrize("einsum", [False, True])
@pytest.mark.parametrize("shape, kernel_size, strides, dilation, padding, mult", _depthwise_cases())
def test_depthwise_conv2d_matches_reference(
    monkeypatch, shape, kernel_size, strides, dilation, padding, mult, einsum
):
    # both forward paths: multiply-add passes (few channels) and one einsum (many channels)
    monkeypatch.setattr(conv_module, "_DEPTHWISE_EINSUM_MIN_CHANNELS", 1 if einsum else 10**9)
    rng = np.random.default_rng(sum(kernel_size) + strides + 5 * dilation + mult)
    x = rng.standard_normal(shape)
    k = rng.standard_normal(kernel_size + (shape[3], mult))
    y = ops.depthwise_conv2d(x, k, strides, padding, dilation)
    close(y, ref.depthwise_conv2d(x, k, strides, padding, dilation), "depthwise forward")
    dy = rng.standard_normal(y.shape)
    dx, dk = ops.depthwise_conv2d_backward(dy, x, k, strides, padding, dilation)
    dx_ref, dk_ref = ref.depthwise_conv2d_backward(dy, x, k, strides, padding, dilation)
    close(dx, dx_ref, "depthwise dx")
    close(dk, dk_ref, "depthwise dkernel")


def test_depthwise_channel_order_and_errors():
    # output channel c * M + m is input channel c through filter m
    x = np.zeros((1, 1, 1, 2))
    x[..., 1] = 1.0
    k = np.arange(4.0).reshape(1, 1, 2, 2)  # k[0, 0, c, m] = 2c + m
    np.testing.assert_array_equal(ops.depthwise_conv2d(x, k)[0, 0, 0], [0.0, 0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="channels"):
        ops.depthwise_conv2d(np.zeros((1, 4, 4, 3)), np.zeros((3, 3, 2, 1)))
    dx, dk = ops.depthwise_conv2d_backward(
        np.ones((1, 2, 2, 3)), np.ones((1, 4, 4, 3)), np.ones((3, 3, 3, 1)), need_dx=False
    )
    assert dx is None and dk.shape == (3, 3, 3, 1)
