"""numpykeras.ops kernels vs TensorFlow's tf.nn ops: forward values and gradients, float32.

Gradients come from tf.GradientTape with a random upstream gradient (``output_gradients``).
"""

import numpy as np
import pytest

from numpykeras import ops

from tolerances import assert_forward_close, assert_grad_close


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _tf_grads(tf, fn, inputs, dy):
    """Output of ``fn(*inputs)`` and its gradients w.r.t. every input for upstream gradient dy."""
    tensors = [tf.constant(v) for v in inputs]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        y = fn(*tensors)
    grads = tape.gradient(y, tensors, output_gradients=tf.constant(dy))
    return y.numpy(), [g.numpy() for g in grads]


CONV_CASES = [
    # (input shape, kernel size, cout, strides, padding, dilation, groups)
    ((2, 8, 8, 3), (3, 3), 4, 1, "same", 1, 1),  # few channels: channel-major columns
    ((2, 9, 7, 4), (3, 3), 5, 2, "same", 1, 1),  # odd sizes, stride 2, extra pixel at the end
    ((2, 8, 6, 4), (2, 2), 3, 2, "same", 1, 1),  # even kernel
    ((1, 10, 9, 5), (5, 3), 4, (2, 1), "valid", 1, 1),
    ((2, 7, 8, 4), (3, 2), 6, 3, "valid", 1, 1),
    ((2, 9, 9, 4), (3, 3), 4, 1, "same", 2, 1),  # dilation
    ((1, 11, 10, 3), (3, 3), 2, 1, "valid", (2, 3), 1),
    ((2, 6, 5, 6), (1, 1), 8, 1, "valid", 1, 1),  # 1x1 is a matmul
    ((2, 7, 6, 6), (1, 1), 4, 2, "same", 1, 1),
    ((2, 7, 7, 4), (3, 3), 6, 1, "same", 1, 2),  # grouped
    ((1, 8, 7, 6), (2, 3), 3, 2, "valid", 1, 3),
]


@pytest.mark.parametrize("shape, kernel_size, cout, strides, padding, dilation, groups", CONV_CASES)
def test_conv2d_vs_tf(tf, shape, kernel_size, cout, strides, padding, dilation, groups):
    rng = np.random.default_rng(sum(shape) + cout)
    x = rng.standard_normal(shape, dtype=np.float32)
    k = rng.standard_normal(kernel_size + (shape[3] // groups, cout), dtype=np.float32)
    y = ops.conv2d(x, k, strides, padding, dilation, groups)
    assert y.dtype == np.float32
    dy = rng.standard_normal(y.shape, dtype=np.float32)

    def tf_conv_direct(a, b):
        return tf.nn.conv2d(
            a, b, strides=_pair(strides), padding=padding.upper(), dilations=_pair(dilation)
        )

    # TensorFlow's CPU kernels have no gradients for dilated or grouped convolutions, so for the
    # gradients the same function is written with ops that have them: a zero-inserted (dilated)
    # kernel and one convolution per group. The forward is also checked against the direct op.
    (dh, dw), (kh, kw) = _pair(dilation), kernel_size
    spread_h = np.eye(dh * (kh - 1) + 1, dtype=np.float32)[::dh].T  # (dh*(kh-1)+1, kh)
    spread_w = np.eye(dw * (kw - 1) + 1, dtype=np.float32)[::dw].T

    def tf_conv(a, b):
        b = tf.einsum("ai,bj,ijco->abco", spread_h, spread_w, b)
        parts = zip(tf.split(a, groups, axis=3), tf.split(b, groups, axis=3))
        ys = [tf.nn.conv2d(xg, kg, _pair(strides), padding.upper()) for xg, kg in parts]
        return tf.concat(ys, axis=3)

    y_tf, (dx_tf, dk_tf) = _tf_grads(tf, tf_conv, [x, k], dy)
    assert_forward_close(y, tf_conv_direct(x, k).numpy(), "conv2d forward")
    assert_forward_close(y, y_tf, "conv2d forward (composed)")
    dx, dk = ops.conv2d_backward(dy, x, k, strides, padding, dilation, groups)
    assert_grad_close(dx, dx_tf, "conv2d dx")
    assert_grad_close(dk, dk_tf, "conv2d dkernel")


DEPTHWISE_CASES = [
    ((2, 8, 7, 3), (3, 3), 1, 1, "same", 1),
    ((2, 9, 8, 4), (3, 3), 2, 2, "same", 1),
    ((1, 8, 8, 2), (2, 2), 3, 2, "valid", 1),
    ((2, 9, 9, 3), (3, 3), 2, 1, "same", 2),  # TF allows dilation only with stride 1
    ((1, 10, 9, 2), (5, 3), 1, 1, "valid", 2),
]


@pytest.mark.parametrize("shape, kernel_size, mult, strides, padding, dilation", DEPTHWISE_CASES)
def test_depthwise_conv2d_vs_tf(tf, shape, kernel_size, mult, strides, padding, dilation):
    rng = np.random.default_rng(sum(shape) + mult)
    x = rng.standard_normal(shape, dtype=np.float32)
    k = rng.standard_normal(kernel_size + (shape[3], mult), dtype=np.float32)
    y = ops.depthwise_conv2d(x, k, strides, padding, dilation)
    dy = rng.standard_normal(y.shape, dtype=np.float32)

    def tf_depthwise(a, b):
        return tf.nn.depthwise_conv2d(
            a,
            b,
            strides=(1, strides, strides, 1),
            padding=padding.upper(),
            dilations=_pair(dilation),
        )

    y_tf, (dx_tf, dk_tf) = _tf_grads(tf, tf_depthwise, [x, k], dy)
    assert_forward_close(y, y_tf, "depthwise forward")
    dx, dk = ops.depthwise_conv2d_backward(dy, x, k, strides, padding, dilation)
    assert_grad_close(dx, dx_tf, "depthwise dx")
    assert_grad_close(dk, dk_tf, "depthwise dkernel")


POOL_CASES = [
    # (input shape, pool size, strides, padding)
    ((2, 8, 8, 3), 2, 2, "valid"),
    ((2, 7, 9, 3), 2, 2, "valid"),  # odd sizes: last row/column dropped
    ((2, 7, 9, 3), 2, 2, "same"),  # odd sizes: padded at the bottom/right
    ((1, 9, 8, 2), 3, 2, "same"),  # overlapping windows
    ((2, 6, 7, 2), 3, 1, "valid"),
    ((1, 8, 7, 2), (2, 3), (1, 2), "same"),
    ((2, 5, 5, 2), 3, 3, "same"),
]


@pytest.mark.parametrize("shape, pool_size, strides, padding", POOL_CASES)
@pytest.mark.parametrize("relu", [False, True], ids=["random", "after_relu"])
def test_max_pool2d_vs_tf(tf, shape, pool_size, strides, padding, relu):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape, dtype=np.float32)
    if relu:  # many whole windows of zeros: the gradient's tie-breaking must match TF's
        x = np.maximum(x - 1.0, 0.0)
    y, cache = ops.max_pool2d_forward(x, pool_size, strides, padding)
    dy = rng.standard_normal(y.shape, dtype=np.float32)

    def tf_pool(a):
        return tf.nn.max_pool2d(a, _pair(pool_size), _pair(strides), padding.upper())

    y_tf, (dx_tf,) = _tf_grads(tf, tf_pool, [x], dy)
    assert_forward_close(y, y_tf, "max_pool2d forward")
    assert_forward_close(ops.max_pool2d(x, pool_size, strides, padding), y_tf, "max_pool2d")
    assert_grad_close(ops.max_pool2d_backward(dy, cache), dx_tf, "max_pool2d dx")


def test_max_pool2d_equal_window_vs_tf(tf):
    x = np.zeros((1, 4, 4, 1), dtype=np.float32)
    dy = np.random.default_rng(0).standard_normal((1, 2, 2, 1), dtype=np.float32)
    for pool, strides, padding in [(2, 2, "VALID"), (3, 2, "SAME"), (3, 1, "SAME")]:
        y, cache = ops.max_pool2d_forward(x, pool, strides, padding)
        dy = np.random.default_rng(pool).standard_normal(y.shape, dtype=np.float32)

        def tf_pool(a, pool=pool, strides=strides, padding=padding):
            return tf.nn.max_pool2d(a, pool, strides, padding)

        _, (dx_tf,) = _tf_grads(tf, tf_pool, [x], dy)
        assert_grad_close(ops.max_pool2d_backward(dy, cache), dx_tf, f"ties {pool}/{strides}")


@pytest.mark.parametrize("shape, pool_size, strides, padding", POOL_CASES)
def test_avg_pool2d_vs_tf(tf, shape, pool_size, strides, padding):
    rng = np.random.default_rng(sum(shape) + 1)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = ops.avg_pool2d(x, pool_size, strides, padding)
    dy = rng.standard_normal(y.shape, dtype=np.float32)

    def tf_pool(a):
        return tf.nn.avg_pool2d(a, _pair(pool_size), _pair(strides), padding.upper())

    y_tf, (dx_tf,) = _tf_grads(tf, tf_pool, [x], dy)
    assert_forward_close(y, y_tf, "avg_pool2d forward")
    dx = ops.avg_pool2d_backward(dy, x.shape, pool_size, strides, padding)
    assert_grad_close(dx, dx_tf, "avg_pool2d dx")


CONV_POOL_CASES = [
    # (input shape, kernel size, cout, strides, padding, pool size, pool strides, pool padding)
    ((2, 12, 12, 3), (3, 3), 8, 1, "valid", 2, 2, "valid"),  # RGB input: channel-major columns
    ((2, 11, 10, 8), (3, 3), 6, 1, "same", 2, 2, "valid"),  # NHWC columns, a cropped row
    ((2, 9, 9, 4), (3, 3), 5, 2, "same", 3, 2, "same"),  # overlapping windows, padded pooling
]


@pytest.mark.parametrize(
    "shape, kernel_size, cout, strides, padding, pool, pstrides, ppad", CONV_POOL_CASES
)
def test_conv2d_max_pool2d_vs_tf(
    tf, shape, kernel_size, cout, strides, padding, pool, pstrides, ppad
):
    rng = np.random.default_rng(sum(shape) + cout)
    x = rng.standard_normal(shape, dtype=np.float32)
    k = rng.standard_normal(kernel_size + (shape[3], cout), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    y = ops.conv2d_max_pool2d(
        x, k, strides, padding, bias=bias, activation="relu",
        pool_size=pool, pool_strides=pstrides, pool_padding=ppad,
    )  # fmt: skip
    z = tf.nn.relu(tf.nn.conv2d(x, k, _pair(strides), padding.upper()) + bias)
    y_tf = tf.nn.max_pool2d(z, _pair(pool), _pair(pstrides), ppad.upper()).numpy()
    assert_forward_close(y, y_tf, "conv2d_max_pool2d")
