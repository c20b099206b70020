"""``keras.ops.nn``: activations, normalization, crossentropies, convolution and pooling.

Activations are compositions of differentiable ops unless a dedicated VJP is shorter or more
stable (relu, sigmoid, softmax, log_softmax). Convolution and pooling wrap the kernels of
``ops/conv.py`` and ``ops/pooling.py`` (2-D NHWC; 1-D runs as 2-D; channels_first is transposed)
with their hand-written backward functions as VJPs.
"""

from __future__ import annotations

import math

import numpy as np

from numpykeras import backend
from numpykeras.ops import conv as _conv
from numpykeras.ops import dtypes
from numpykeras.ops import pooling as _pool
from numpykeras.ops.autodiff import primitive, unwrap
from numpykeras.ops.numpy import (
    _float_input,
    _is_tracked,
    _shape,
    abs,
    add,
    cast,
    clip,
    divide,
    erf,
    exp,
    expand_dims,
    expm1,
    greater,
    greater_equal,
    log,
    log1p,
    logical_and,
    maximum,
    mean,
    minimum,
    moveaxis,
    multiply,
    negative,
    power,
    reshape,
    sqrt,
    square,
    squeeze,
    subtract,
    sum,
    take_along_axis,
    tanh,
    to_array,
    where,
)

# --------------------------------------------------------------------------- activations


@primitive
def relu(x):
    """``max(x, 0)``."""
    x = _float_input(x)
    return np.maximum(x, 0, dtype=x.dtype)


relu.defvjp(lambda g, ans, x: (where(greater(x, 0), g, 0.0),))


@primitive
def relu6(x):
    """``min(max(x, 0), 6)``."""
    x = _float_input(x)
    return np.clip(x, 0, 6).astype(x.dtype, copy=False)


relu6.defvjp(lambda g, ans, x: (where(logical_and(greater(x, 0), greater(6.0, x)), g, 0.0),))


@primitive
def sigmoid(x):
    """``1 / (1 + exp(-x))``, without overflow."""
    x = _float_input(x)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


sigmoid.defvjp(lambda g, ans, x: (g * ans * (1.0 - ans),))


def softplus(x):
    """``log(1 + exp(x))``, without overflow."""
    x = _float_input(x) if not _is_tracked(x) else x
    return add(maximum(x, 0.0), log1p(exp(negative(abs(x)))))


def softsign(x):
    """``x / (1 + |x|)``."""
    return divide(x, add(abs(x), 1.0))


def silu(x):
    """``x * sigmoid(x)``."""
    return multiply(x, sigmoid(x))


swish = silu


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return negative(softplus(negative(x)))


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, else ``negative_slope * x``."""
    return where(greater(x, 0), x, multiply(x, negative_slope))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6`` (Keras 3's formula)."""
    return divide(relu6(add(x, 3.0)), 6.0)


def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    return multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return where(greater(x, 0), x, multiply(expm1(minimum(x, 0.0)), alpha))


def selu(x):
    """``scale * elu(x, alpha)`` with SELU's constants."""
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return multiply(elu(x, alpha), scale)


def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``."""
    return add(maximum(x, 0.0), multiply(expm1(divide(minimum(x, 0.0), alpha)), alpha))


def gelu(x, approximate=True):
    """Gaussian error linear unit (tanh approximation by default)."""
    if approximate:
        c = math.sqrt(2.0 / math.pi)
        inner = multiply(add(x, multiply(power(x, 3), 0.044715)), c)
        return multiply(multiply(x, 0.5), add(tanh(inner), 1.0))
    return multiply(multiply(x, 0.5), add(erf(divide(x, math.sqrt(2.0))), 1.0))


def glu(x, axis=-1):
    """``a * sigmoid(b)`` for the two halves of ``x`` along ``axis``."""
    from numpykeras.ops.numpy import split

    n = _shape(x)[axis]
    if n % 2:
        raise ValueError(f"axis size must be divisible by 2. Received: x.shape={_shape(x)}")
    a, b = split(x, 2, axis=axis)
    return multiply(a, sigmoid(b))


def squareplus(x, b=4):
    """``(x + sqrt(x**2 + b)) / 2``."""
    return divide(add(x, sqrt(add(square(x), b))), 2.0)


@primitive
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (stabilised by the max)."""
    x = _float_input(x)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


softmax.defvjp(
    lambda g, ans, x, axis=-1: (ans * subtract(g, sum(g * ans, axis=axis, keepdims=True)),)
)


@primitive
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    x = _float_input(x)
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


log_softmax.defvjp(
    lambda g, ans, x, axis=-1: (subtract(g, exp(ans) * sum(g, axis=axis, keepdims=True)),)
)


# --------------------------------------------------------------------------- encodings


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """A ``num_classes`` axis at ``axis`` with 1 at each index (negative indices give zeros)."""
    if sparse:
        raise ValueError("`sparse=True` is not supported.")
    x = np.asarray(unwrap(x)).astype(np.int64)
    out = (x[..., None] == np.arange(num_classes)).astype(dtypes.standardize_dtype(dtype))
    return np.moveaxis(out, -1, axis) if axis != -1 else out


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 at each class present in a sample (the last axis of a batch, or of a 1-D input)."""
    num_classes = kwargs.pop("num_tokens", num_classes)
    if num_classes is None:
        raise ValueError("Argument `num_classes` must be specified.")
    x = np.asarray(unwrap(inputs))
    reduce = 1 if x.ndim > 1 else 0
    hot = one_hot(x, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return np.max(hot, axis=reduce)


# --------------------------------------------------------------------------- normalization


def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of ``x`` over ``axes``."""
    m = mean(x, axis=axes, keepdims=True)
    v = mean(square(subtract(x, m)), axis=axes, keepdims=keepdims)
    return (m if keepdims else squeeze(m, axes)), v


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics along
    ``axis``."""
    ndim = len(_shape(x))
    shape = [1] * ndim
    shape[axis] = _shape(x)[axis]

    def along(v):
        return reshape(v, tuple(shape))

    inv = divide(1.0, sqrt(add(along(variance), epsilon)))
    if scale is not None:
        inv = multiply(inv, along(scale))
    y = multiply(subtract(x, along(mean)), inv)
    return add(y, along(offset)) if offset is not None else y


def rms_normalization(x, scale=1, axis=-1, epsilon=None):
    """``x / sqrt(mean(x**2) + epsilon) * scale`` along ``axis``."""
    epsilon = backend.epsilon() if epsilon is None else epsilon
    r = sqrt(add(mean(square(x), axis=axis, keepdims=True), epsilon))
    return multiply(divide(x, r), scale)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``)."""
    from numpykeras.ops.linalg import norm

    epsilon = backend.epsilon() if epsilon is None else epsilon
    n = norm(x, ord=order, axis=axis, keepdims=True)
    return divide(x, maximum(n, epsilon))


# --------------------------------------------------------------------------- crossentropies


def _check_same_shape(target, output):
    ts, os_ = _shape(target), _shape(output)
    if len(ts) != len(os_):
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). Received: "
            f"target.shape={ts}, output.shape={os_}"
        )
    if ts != os_:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={ts}, output.shape={os_}"
        )


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy of probabilities (or logits) ``output``."""
    _check_same_shape(target, output)
    target = cast(target, to_array(unwrap(output)).dtype) if not _is_tracked(target) else target
    if from_logits:
        # max(x, 0) - x * z + log(1 + exp(-|x|)), as tf.nn.sigmoid_cross_entropy_with_logits
        relu_x = where(greater_equal(output, 0), output, 0.0)
        return add(subtract(relu_x, multiply(output, target)), log1p(exp(negative(abs(output)))))
    eps = backend.epsilon()
    p = clip(output, eps, 1.0 - eps)
    bce = add(multiply(target, log(p)), multiply(subtract(1.0, target), log(subtract(1.0, p))))
    return negative(bce)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy between one-hot (or soft) ``target`` and probabilities/logits ``output``
    along ``axis``."""
    _check_same_shape(target, output)
    if len(_shape(target)) < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1.")
    if from_logits:
        return negative(sum(multiply(target, log_softmax(output, axis=axis)), axis=axis))
    eps = backend.epsilon()
    p = divide(output, sum(output, axis=axis, keepdims=True))
    p = clip(p, eps, 1.0 - eps)
    return negative(sum(multiply(target, log(p)), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy between integer class ``target`` and probabilities/logits ``output``."""
    if axis != -1 and axis != len(_shape(output)) - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    labels = np.asarray(unwrap(target)).astype(np.int64)
    if labels.ndim == len(_shape(output)) and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != _shape(output)[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={labels.shape}, output.shape={_shape(output)}"
        )
    if not from_logits:
        eps = backend.epsilon()
        output = log(clip(output, eps, 1.0 - eps))
    logp = log_softmax(output, axis=-1)
    return negative(squeeze(take_along_axis(logp, labels[..., None], axis=-1), -1))


# --------------------------------------------------------------------------- convolution


def _to_nhwc(x, data_format, rank):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Invalid data_format: {data_format!r}")
    if data_format == "channels_first":
        x = moveaxis(x, 1, -1)
    if rank == 1:
        x = expand_dims(x, 1)  # (N, 1, W, C)
    return x, data_format


def _from_nhwc(y, data_format, rank):
    if rank == 1:
        y = squeeze(y, 1)
    if data_format == "channels_first":
        y = moveaxis(y, -1, 1)
    return y


def _rank(x, what):
    rank = len(_shape(x)) - 2
    if rank not in (1, 2):
        raise NotImplementedError(
            f"numpykeras.ops.{what} supports 1-D and 2-D inputs (rank 3 or 4). "
            f"Received: shape={_shape(x)}"
        )
    return rank


def _pair(v, rank):
    v = (v,) * rank if isinstance(v, int) else tuple(v)
    return (1,) + v if rank == 1 else v


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (cross-correlation), as ``keras.ops.conv`` (1-D and 2-D here)."""
    rank = _rank(inputs, "conv")
    x, data_format = _to_nhwc(inputs, data_format, rank)
    k = reshape(kernel, (1,) + _shape(kernel)) if rank == 1 else kernel
    cin, kin = _shape(x)[-1], _shape(k)[-2]
    if cin % kin:
        raise ValueError(
            f"The number of input channels ({cin}) must be a multiple of the kernel's input "
            f"channels ({kin})."
        )
    geo = {
        "strides": _pair(strides, rank),
        "padding": padding.lower(),
        "dilation_rate": _pair(dilation_rate, rank),
        "groups": cin // kin,
    }
    return _from_nhwc(_conv2d(x, k, geo=geo), data_format, rank)


def _float_pair(x, k):
    x, k = to_array(x), to_array(k)
    dtype = dtypes.result_type(x.dtype.name, k.dtype.name)
    if not dtypes.is_float(dtype):
        dtype = backend.floatx()
    return x.astype(dtype, copy=False), k.astype(dtype, copy=False)


@primitive
def _conv2d(x, kernel, geo):
    x, kernel = _float_pair(x, kernel)
    return _conv.conv2d(x, kernel, **geo)


@primitive
def _conv2d_dx(g, kernel, x_shape, geo):
    """``d conv2d / d x`` applied to ``g`` (linear in ``g`` and in ``kernel``)."""
    g, kernel = _float_pair(g, kernel)
    return _conv.conv2d_backward(g, np.zeros(x_shape, g.dtype), kernel, **geo)[0]


@primitive
def _conv2d_dk(x, g, k_shape, geo):
    """``d conv2d / d kernel`` applied to ``g`` (linear in ``x`` and in ``g``)."""
    x, g = _float_pair(x, g)
    return _conv.conv2d_backward(g, x, np.zeros(k_shape, x.dtype), need_dx=False, **geo)[1]


_conv2d.defvjp(
    lambda g, ans, x, kernel, geo: (
        _conv2d_dx(g, kernel, x_shape=_shape(x), geo=geo) if _is_tracked(x) else None,
        _conv2d_dk(x, g, k_shape=_shape(kernel), geo=geo) if _is_tracked(kernel) else None,
    )
)
# The two adjoints are bilinear, so their own VJPs are made of the same three primitives:
# gradients of gradients through a convolution work.
_conv2d_dx.defvjp(
    lambda gg, ans, g, kernel, x_shape, geo: (
        _conv2d(gg, kernel, geo=geo) if _is_tracked(g) else None,
        _conv2d_dk(gg, g, k_shape=_shape(kernel), geo=geo) if _is_tracked(kernel) else None,
    )
)
_conv2d_dk.defvjp(
    lambda gk, ans, x, g, k_shape, geo: (
        _conv2d_dx(g, gk, x_shape=_shape(x), geo=geo) if _is_tracked(x) else None,
        _conv2d(x, gk, geo=geo) if _is_tracked(g) else None,
    )
)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution (kernel ``(kh, kw, C, multiplier)``), 1-D and 2-D."""
    rank = _rank(inputs, "depthwise_conv")
    x, data_format = _to_nhwc(inputs, data_format, rank)
    k = reshape(kernel, (1,) + _shape(kernel)) if rank == 1 else kernel
    geo = {
        "strides": _pair(strides, rank),
        "padding": padding.lower(),
        "dilation_rate": _pair(dilation_rate, rank),
    }
    return _from_nhwc(_depthwise(x, k, geo=geo), data_format, rank)


@primitive
def _depthwise(x, kernel, geo):
    x, kernel = _float_pair(x, kernel)
    return _conv.depthwise_conv2d(x, kernel, **geo)


def _depthwise_vjp(g, ans, x, kernel, geo):
    # first-order only: the hand-written kernel gradients are NumPy, not ops
    xv, kv = _float_pair(x, kernel)
    dx, dk = _conv.depthwise_conv2d_backward(
        np.asarray(unwrap(g), xv.dtype), xv, kv, need_dx=_is_tracked(x), **geo
    )
    return (dx if _is_tracked(x) else None, dk if _is_tracked(kernel) else None)


_depthwise.defvjp(_depthwise_vjp)


# --------------------------------------------------------------------------- pooling


def _pool_args(inputs, pool_size, strides, padding, data_format, what):
    rank = _rank(inputs, what)
    x, data_format = _to_nhwc(inputs, data_format, rank)
    strides = pool_size if strides is None else strides
    geo = {
        "pool_size": _pair(pool_size, rank),
        "strides": _pair(strides, rank),
        "padding": padding.lower(),
    }
    return x, data_format, rank, geo


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling, 1-D and 2-D (the gradient goes to the first maximum of each window)."""
    x, data_format, rank, geo = _pool_args(
        inputs, pool_size, strides, padding, data_format, "max_pool"
    )
    return _from_nhwc(_max_pool(x, geo=geo), data_format, rank)


@primitive
def _max_pool(x, geo):
    return _pool.max_pool2d(_float_input(x), **geo)


@primitive
def _max_pool_grad(g, x, geo):
    x = _float_input(x)
    _, cache = _pool.max_pool2d_forward(x, **geo)  # recomputed: the winners are not kept
    return _pool.max_pool2d_backward(np.asarray(g, dtype=x.dtype), cache)


def _max_pool_grad_vjp(gg, ans, g, x, geo):
    raise NotImplementedError("Second derivatives through max_pool are not implemented.")


_max_pool.defvjp(lambda g, ans, x, geo: (_max_pool_grad(g, x, geo=geo),))
_max_pool_grad.defvjp(_max_pool_grad_vjp)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling, 1-D and 2-D (padded cells are not counted)."""
    x, data_format, rank, geo = _pool_args(
        inputs, pool_size, strides, padding, data_format, "average_pool"
    )
    return _from_nhwc(_avg_pool(x, geo=geo), data_format, rank)


@primitive
def _avg_pool(x, geo):
    return _pool.avg_pool2d(_float_input(x), **geo)


@primitive
def _avg_pool_grad(g, x_shape, geo):
    g = _float_input(g)
    return _pool.avg_pool2d_backward(g, x_shape, **geo)


_avg_pool.defvjp(lambda g, ans, x, geo: (_avg_pool_grad(g, x_shape=_shape(x), geo=geo),))
_avg_pool_grad.defvjp(lambda gg, ans, g, x_shape, geo: (_avg_pool(gg, geo=geo),))

__all__ = [
    "average_pool",
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "conv",
    "depthwise_conv",
    "elu",
    "gelu",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "max_pool",
    "moments",
    "multi_hot",
    "normalize",
    "one_hot",
    "relu",
    "relu6",
    "rms_normalization",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "sparse_categorical_crossentropy",
    "squareplus",
    "swish",
]
