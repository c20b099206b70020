"""``keras.ops.nn``: activations, normalization, crossentropies, convolution and pooling.

Activations are compositions of differentiable ops unless a dedicated VJP is shorter or more
stable (relu, sigmoid, softmax, log_softmax). Convolution and pooling wrap the kernels of
``ops/conv.py`` and ``ops/pooling.py`` (2-D NHWC; 1-D runs as 2-D; channels_first is transposed)
with their hand-written backward functions as VJPs.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from numpykeras import backend
from numpykeras.ops import _convnd, dtypes
from numpykeras.ops import conv as _conv
from numpykeras.ops import pooling as _pool
from numpykeras.ops.autodiff import primitive, set_keras_logits, unwrap
from numpykeras.ops.numpy import (
    _float_arg,
    _float_input,
    _is_tracked,
    _scatter_add,
    _shape,
    abs,
    add,
    cast,
    clip,
    concatenate,
    cumsum,
    divide,
    dtype,
    einsum,
    erf,
    exp,
    expand_dims,
    expm1,
    flip,
    get_item,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    log10,
    logaddexp,
    logical_and,
    max,
    maximum,
    mean,
    minimum,
    moveaxis,
    multiply,
    negative,
    pad,
    power,
    repeat,
    reshape,
    rsqrt,
    sort,
    sqrt,
    square,
    squeeze,
    subtract,
    sum,
    take,
    take_along_axis,
    tanh,
    tensordot,
    to_array,
    transpose,
    var,
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


def sigmoid(x):
    """``1 / (1 + exp(-x))``, without overflow. On a tape the output remembers its logits ``x``,
    so that a binary crossentropy of it computes from ``x`` (as in Keras)."""
    return set_keras_logits(_sigmoid(x), x, "sigmoid")


@primitive
def _sigmoid(x):
    x = _float_input(x)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


_sigmoid.defvjp(lambda g, ans, x: (g * ans * (1.0 - ans),))


def softplus(x):
    """``log(1 + exp(x))``, without overflow."""
    x = _float_arg(x)
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


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (stabilised by the max). On a tape the output of a
    softmax over the last axis remembers its logits ``x``, so that a crossentropy of it computes
    from ``x`` (as in Keras)."""
    y = _softmax(x, axis=axis)
    if axis in (-1, len(getattr(x, "shape", ())) - 1):
        set_keras_logits(y, x, "softmax")
    return y


@primitive
def _softmax(x, axis=-1):
    x = _float_input(x)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


_softmax.defvjp(
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


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x**2) + epsilon) * scale`` along ``axis`` (computed in at least
    float32)."""
    epsilon = backend.epsilon() if epsilon is None else epsilon
    original = dtype(x)
    compute = dtypes.result_type(original, "float32")
    x = cast(x, compute) if original != compute else x
    r = rsqrt(add(mean(square(x), axis=axis, keepdims=True), epsilon))
    out = multiply(x, r)
    if scale is not None:
        out = multiply(out, cast(scale, compute) if dtype(scale) != compute else scale)
    return cast(out, original) if original != compute else out


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


def _data_format(data_format):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def _spatial_rank(x, what, ranks=(1, 2, 3)):
    rank = len(_shape(x)) - 2
    if rank not in ranks:
        raise ValueError(
            f"`{what}` supports inputs of rank {', '.join(str(r + 2) for r in ranks)} "
            f"(batch, {'/'.join(str(r) for r in ranks)} spatial axes, channels). "
            f"Received: shape={_shape(x)}"
        )
    return rank


def _padding(padding):
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}")
    return value


def _tuple(v, rank, name):
    t = (int(v),) * rank if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)
    if len(t) != rank or builtins.min(t) < 1:
        raise ValueError(f"`{name}` must be a positive int or {rank} of them. Received: {v}")
    return t


def _to_last(x, data_format, rank):
    """Channels last, and 1-D inputs as 2-D ``(N, 1, W, C)``."""
    if data_format == "channels_first":
        x = moveaxis(x, 1, -1)
    return expand_dims(x, 1) if rank == 1 else x


def _from_last(y, data_format, rank):
    if rank == 1:
        y = squeeze(y, 1)
    return moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _pair(v, rank, name):
    t = _tuple(v, rank, name)
    return (1,) + t if rank == 1 else t


def _check_channels(cin, kin, what):
    if cin % kin:
        raise ValueError(
            f"The number of input channels must be a multiple of the kernel's input channels "
            f"in `{what}`. Received: input channels={cin}, kernel input channels={kin}."
        )


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (cross-correlation) for 1-D, 2-D and 3-D inputs, as
    ``keras.ops.conv``: kernel ``(*kernel_size, in_channels / groups, filters)``; grouped when
    the input has a multiple of the kernel's input channels."""
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, "conv")
    padding = _padding(padding)
    x = _to_last(inputs, data_format, rank)
    cin, kin = _shape(x)[-1], _shape(kernel)[-2]
    _check_channels(cin, kin, "conv")
    if len(_shape(kernel)) != rank + 2:
        raise ValueError(
            f"The kernel must have rank {rank + 2} for {rank}-D inputs. "
            f"Received: kernel.shape={_shape(kernel)}"
        )
    if rank == 3:
        geo = _convnd.geometry(
            _shape(x)[1:-1],
            _shape(kernel)[:3],
            _tuple(strides, 3, "strides"),
            _tuple(dilation_rate, 3, "dilation_rate"),
            padding,
            groups=cin // kin,
        )
        return _from_last(_convnd.conv(x, kernel, geo=geo), data_format, rank)
    k = expand_dims(kernel, 0) if rank == 1 else kernel
    geo = {
        "strides": _pair(strides, rank, "strides"),
        "padding": padding,
        "dilation_rate": _pair(dilation_rate, rank, "dilation_rate"),
        "groups": cin // kin,
    }
    return _from_last(_conv2d(x, k, geo=geo), data_format, rank)


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
    """Depthwise convolution (kernel ``(*kernel_size, channels, multiplier)``), 1-D and 2-D."""
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, "depthwise_conv", ranks=(1, 2))
    x = _to_last(inputs, data_format, rank)
    if _shape(x)[-1] != _shape(kernel)[-2]:
        raise ValueError(
            "The number of input channels must match the kernel's input channels. Received: "
            f"input channels={_shape(x)[-1]}, kernel input channels={_shape(kernel)[-2]}, "
            f"data_format='{data_format}'."
        )
    k = expand_dims(kernel, 0) if rank == 1 else kernel
    geo = {
        "strides": _pair(strides, rank, "strides"),
        "padding": _padding(padding),
        "dilation_rate": _pair(dilation_rate, rank, "dilation_rate"),
    }
    return _from_last(_depthwise(x, k, geo=geo), data_format, rank)


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


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
):
    """A depthwise convolution followed by a pointwise (1x1) one, 1-D and 2-D."""
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, "separable_conv", ranks=(1, 2))
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1) if rank else y


def _transpose_length(size, k, stride, padding, output_padding, dilation):
    k = (k - 1) * dilation + 1
    if padding == "valid":
        extra = (k if k > stride else stride) - k if output_padding is None else output_padding
        return (size - 1) * stride + k + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + k % 2 + output_padding


def conv_transpose(
    inputs,
    kernel,
    strides=1,
    padding="valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
):
    """Transposed convolution (the input gradient of :func:`conv`), 1-D to 3-D, with kernel
    ``(*kernel_size, filters, in_channels)`` and Keras's output size."""
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, "conv_transpose")
    padding = _padding(padding)
    x = moveaxis(inputs, 1, -1) if data_format == "channels_first" else inputs
    kshape = _shape(kernel)
    if _shape(x)[-1] != kshape[-1]:
        raise ValueError(
            "The number of input channels must match the kernel's input channels. Received: "
            f"input channels={_shape(x)[-1]}, kernel input channels={kshape[-1]}, "
            f"data_format='{data_format}'."
        )
    st = _tuple(strides, rank, "strides")
    dil = _tuple(dilation_rate, rank, "dilation_rate")
    if output_padding is None:
        op = (None,) * rank
    else:
        op = (output_padding,) * rank if isinstance(output_padding, int) else output_padding
    spatial = tuple(
        _transpose_length(n, k, s, padding, o, d)
        for n, k, s, o, d in zip(_shape(x)[1:-1], kshape[:rank], st, op, dil)
    )
    out_shape = (_shape(x)[0],) + spatial + (kshape[-2],)
    if rank == 3:
        geo = _convnd.geometry(spatial, kshape[:3], st, dil, padding)
        y = _convnd.conv_dx(x, kernel, x_shape=out_shape, geo=geo)
    else:
        geo = {
            "strides": (1,) + st if rank == 1 else st,
            "padding": padding,
            "dilation_rate": (1,) + dil if rank == 1 else dil,
            "groups": 1,
        }
        x2 = expand_dims(x, 1) if rank == 1 else x
        k2 = expand_dims(kernel, 0) if rank == 1 else kernel
        shape2 = (out_shape[0], 1) + out_shape[1:] if rank == 1 else out_shape
        y = _conv2d_dx(x2, k2, x_shape=shape2, geo=geo)
        y = squeeze(y, 1) if rank == 1 else y
    return moveaxis(y, -1, 1) if data_format == "channels_first" else y


# --------------------------------------------------------------------------- pooling


def _pool_setup(inputs, pool_size, strides, padding, data_format, what):
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, what)
    padding = _padding(padding)
    pool = _tuple(pool_size, rank, "pool_size")
    st = pool if strides is None else _tuple(strides, rank, "strides")
    x = _to_last(inputs, data_format, rank)
    if rank == 3:
        geo = _convnd.geometry(_shape(x)[1:-1], pool, st, (1, 1, 1), padding)
        return x, data_format, rank, pool, geo
    geo = {
        "pool_size": (1,) + pool if rank == 1 else pool,
        "strides": (1,) + st if rank == 1 else st,
        "padding": padding,
    }
    return x, data_format, rank, pool, geo


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling, 1-D to 3-D (the gradient goes to the first maximum of each window)."""
    x, data_format, rank, pool, geo = _pool_setup(
        inputs, pool_size, strides, padding, data_format, "max_pool"
    )
    if rank == 3:
        y = _convnd.max_pool(_float_arg(x), pool=pool, geo=geo)
    else:
        y = _max_pool(x, geo=geo)
    return _from_last(y, data_format, rank)


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
    """Average pooling, 1-D to 3-D (padded cells are not counted)."""
    x, data_format, rank, pool, geo = _pool_setup(
        inputs, pool_size, strides, padding, data_format, "average_pool"
    )
    if rank == 3:
        y = _convnd.avg_pool(_float_arg(x), pool=pool, geo=geo)
    else:
        y = _avg_pool(x, geo=geo)
    return _from_last(y, data_format, rank)


@primitive
def _avg_pool(x, geo):
    return _pool.avg_pool2d(_float_input(x), **geo)


@primitive
def _avg_pool_grad(g, x_shape, geo):
    g = _float_input(g)
    return _pool.avg_pool2d_backward(g, x_shape, **geo)


_avg_pool.defvjp(lambda g, ans, x, geo: (_avg_pool_grad(g, x_shape=_shape(x), geo=geo),))
_avg_pool_grad.defvjp(lambda gg, ans, g, x_shape, geo: (_avg_pool(gg, geo=geo),))


def _adaptive_windows(size, out):
    """Start and end of each of the ``out`` windows over ``size`` positions (PyTorch's)."""
    i = np.arange(out)
    starts = np.minimum((i * size) // out, size - 1)
    ends = np.minimum(-((-(i + 1) * size) // out), size)
    return starts, ends


def _adaptive_pool(inputs, output_size, data_format, kind):
    data_format = _data_format(data_format)
    rank = _spatial_rank(inputs, f"adaptive_{kind}_pool")
    out = _tuple(output_size, rank, "output_size")
    x = moveaxis(inputs, 1, -1) if data_format == "channels_first" else inputs
    x = _float_arg(x)
    for a, o in enumerate(out):
        axis = a + 1
        starts, ends = _adaptive_windows(_shape(x)[axis], o)
        if kind == "average":  # a (out, size) averaging matrix along the axis
            size = _shape(x)[axis]
            pos = np.arange(size)
            inside = (pos >= starts[:, None]) & (pos < ends[:, None])
            weights = (inside / (ends - starts)[:, None]).astype(dtype(x))
            x = moveaxis(tensordot(x, weights, axes=([axis], [1])), -1, axis)
        else:  # gather each window (short ones repeat their last index) and take the max
            width = int((ends - starts).max())
            index = np.minimum(starts[:, None] + np.arange(width), ends[:, None] - 1)
            x = max(take(x, index, axis=axis), axis=axis + 1)
    return moveaxis(x, -1, 1) if data_format == "channels_first" else x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed ``output_size``: window ``i`` of an axis of size ``n`` covers
    ``[floor(i n / out), ceil((i + 1) n / out))``."""
    return _adaptive_pool(inputs, output_size, data_format, "average")


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed ``output_size`` (windows as :func:`adaptive_average_pool`)."""
    return _adaptive_pool(inputs, output_size, data_format, "max")


# --------------------------------------------------------------------------- rearrangements


def depth_to_space(x, block_size, data_format="channels_last"):
    """Moves channel blocks into ``block_size x block_size`` spatial blocks (as
    ``tf.nn.depth_to_space``)."""
    data_format = _data_format(data_format)
    b = int(block_size)
    x = moveaxis(x, 1, -1) if data_format == "channels_first" else x
    n, h, w, c = _shape(x)
    if c % (b * b):
        raise ValueError(
            f"The channels ({c}) must be divisible by block_size**2 ({b * b}) in depth_to_space."
        )
    y = reshape(x, (n, h, w, b, b, c // (b * b)))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (n, h * b, w * b, c // (b * b)))
    return moveaxis(y, -1, 1) if data_format == "channels_first" else y


def space_to_depth(x, block_size, data_format="channels_last"):
    """Moves ``block_size x block_size`` spatial blocks into channels (as
    ``tf.nn.space_to_depth``)."""
    data_format = _data_format(data_format)
    b = int(block_size)
    x = moveaxis(x, 1, -1) if data_format == "channels_first" else x
    n, h, w, c = _shape(x)
    if h % b or w % b:
        raise ValueError(
            f"The height ({h}) and width ({w}) must be divisible by block_size ({b}) in "
            "space_to_depth."
        )
    y = reshape(x, (n, h // b, b, w // b, b, c))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (n, h // b, w // b, b * b * c))
    return moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _unfold_index(h, w, k, d, p, s):
    """Flat positions in the padded ``(h + 2p, w + 2p)`` plane of every ``(kh, kw, L)`` tap."""
    hp, wp = h + 2 * p[0], w + 2 * p[1]
    nh = (hp - d[0] * (k[0] - 1) - 1) // s[0] + 1
    nw = (wp - d[1] * (k[1] - 1) - 1) // s[1] + 1
    rows = np.arange(k[0])[:, None, None, None] * d[0] + np.arange(nh)[None, None, :, None] * s[0]
    cols = np.arange(k[1])[None, :, None, None] * d[1] + np.arange(nw)[None, None, None, :] * s[1]
    return (rows * wp + cols).reshape(-1), hp, wp, nh * nw


def _as_pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of an NCHW batch: ``(N, C * kh * kw, L)`` (PyTorch's ``unfold``)."""
    shape = _shape(x)
    if len(shape) != 4:
        raise ValueError(f"Input must be a 4D tensor. Received: input.shape={shape}")
    k, d, p, s = (_as_pair(v) for v in (kernel_size, dilation, padding, stride))
    n, c, h, w = shape
    index, hp, wp, blocks = _unfold_index(h, w, k, d, p, s)
    xp = pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p[0] or p[1] else x
    flat = reshape(xp, (n, c, hp * wp))
    return reshape(take(flat, index, axis=2), (n, c * k[0] * k[1], blocks))


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of :func:`unfold` (overlapping blocks add up): ``(N, C, oh, ow)`` from
    ``(N, C * kh * kw, L)``."""
    shape = _shape(x)
    if len(shape) != 3:
        raise ValueError(f"Input must be a 3D tensor. Received: input.shape={shape}")
    o, k, d, p, s = (_as_pair(v) for v in (output_size, kernel_size, dilation, padding, stride))
    n, ckk, _ = shape
    c = ckk // (k[0] * k[1])
    index, hp, wp, blocks = _unfold_index(o[0], o[1], k, d, p, s)
    flat = reshape(x, (n, c, k[0] * k[1] * blocks))
    out = reshape(_scatter_add(flat, index, axis=2, size=hp * wp), (n, c, hp, wp))
    if p[0] or p[1]:
        out = get_item(out, (Ellipsis, slice(p[0], p[0] + o[0]), slice(p[1], p[1] + o[1])))
    return out


# --------------------------------------------------------------------------- more activations


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return clip(_float_arg(x), -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return where(greater(abs(x), threshold), x, 0.0)


def soft_shrink(x, threshold=0.5):
    """``x`` moved towards 0 by ``threshold`` (0 inside ``[-threshold, threshold]``)."""
    return where(
        greater(x, threshold),
        subtract(x, threshold),
        where(less(x, -threshold), add(x, threshold), 0.0),
    )


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return subtract(x, tanh(x))


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)**2 / 4`` for ``-1 < x < 1``, ``x`` above."""
    return where(
        less_equal(x, -1.0),
        0.0,
        where(less(x, 1.0), multiply(square(add(x, 1.0)), 0.25), x),
    )


def sparse_sigmoid(x):
    """0 for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, 1 above."""
    return where(
        less_equal(x, -1.0),
        0.0,
        where(greater_equal(x, 1.0), 1.0, multiply(add(x, 1.0), 0.5)),
    )


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    return where(greater(x, threshold), x, default_value)


def sparsemax(x, axis=-1):
    """The Euclidean projection of ``x`` onto the probability simplex along ``axis``
    (Martins and Astudillo, 2016)."""
    x = _float_arg(x)
    ax = axis % len(_shape(x))
    z = flip(sort(x, axis=ax), ax)  # descending
    csum = cumsum(z, axis=ax)
    view = [1] * len(_shape(x))
    view[ax] = -1
    r = np.arange(1, _shape(x)[ax] + 1, dtype=dtype(x)).reshape(view)
    support = np.asarray(unwrap(z) - (unwrap(csum) - 1) / r > 0)
    k = np.sum(support, axis=ax, keepdims=True).astype(dtype(x))
    tau = divide(subtract(sum(where(support, csum, 0.0), axis=ax, keepdims=True), 1.0), k)
    return maximum(subtract(x, tau), 0.0)


def polar(abs_, angle):
    """The complex numbers ``abs_ * (cos(angle) + i sin(angle))`` (complex64 for float32)."""
    r, a = _float_input(unwrap(abs_)), _float_input(unwrap(angle))
    out = r * np.cos(a) + 1j * (r * np.sin(a))
    return out.astype("complex128" if out.real.dtype == np.float64 else "complex64")


# --------------------------------------------------------------------------- normalization+


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` over ``axis`` (computed in at least
    float32; ``rms_scaling=True``, deprecated, divides by the standard deviation only)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"Unexpected keyword arguments: {sorted(kwargs)}")
    epsilon = backend.epsilon() if epsilon is None else epsilon
    original = dtype(x)
    compute = dtypes.result_type(original, "float32")
    x = cast(x, compute) if original != compute or not _is_tracked(x) else x
    ndim = len(_shape(x))
    axes = sorted(a % ndim for a in ([axis] if isinstance(axis, int) else axis))
    view = [1] * ndim
    for a in axes:
        view[a] = _shape(x)[a]

    def broadcast(v):
        if v is None:
            return None
        v = cast(v, compute) if dtype(v) != compute else v
        if len(_shape(v)) != ndim and axes != [ndim - 1]:
            return reshape(v, tuple(view))
        return v

    gamma, beta = broadcast(gamma), broadcast(beta)
    if rms_scaling:
        out = multiply(x, rsqrt(add(var(x, axis=axes, keepdims=True), epsilon)))
        out = multiply(out, gamma) if gamma is not None else out
    else:
        m, v = moments(x, axes=axes, keepdims=True)
        inv = rsqrt(add(v, epsilon))
        if gamma is not None:
            inv = multiply(inv, gamma)
        res = negative(multiply(m, inv))
        if beta is not None:
            res = add(res, beta)
        out = add(multiply(x, inv), res)
    return cast(out, original) if dtype(out) != original else out


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)**2))``."""
    if _shape(x1) != _shape(x2):
        raise ValueError(
            f"Input shapes {_shape(x1)} and {_shape(x2)} must match for PSNR calculation. "
        )
    peak = np.asarray(unwrap(max_val), dtype=dtype(x2))
    mse = mean(square(subtract(x1, x2)))
    return subtract(multiply(log10(peak), 20.0), multiply(log10(mse), 10.0))


# --------------------------------------------------------------------------- attention


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    flash_attention=None,
    attn_logits_soft_cap=None,
):
    """Scaled dot-product attention of ``(batch, time, heads, depth)`` inputs:
    ``softmax(q k^T * scale + bias, masked) v`` (grouped-query heads repeated)."""
    if attn_logits_soft_cap is not None:
        raise ValueError(
            "attn_logits_soft_cap is only supported for JAX on TPU. Set "
            "attn_logits_soft_cap=None when not using JAX on TPU."
        )
    if flash_attention:
        raise ValueError("Flash attention is not supported by numpykeras.")
    for t in (query, key, value):
        if len(_shape(t)) != 4:
            raise ValueError(
                "`dot_product_attention` only supports 4D inputs. Received: "
                f"query.shape={_shape(query)}, key.shape={_shape(key)}, "
                f"value.shape={_shape(value)}."
            )
    compute = dtypes.result_type(dtype(query), dtype(key), dtype(value))
    query, key, value = (
        cast(t, compute) if dtype(t) != compute else t for t in (query, key, value)
    )
    heads, kv_heads = _shape(query)[2], _shape(key)[2]
    if heads > kv_heads > 1:
        key = repeat(key, heads // kv_heads, axis=2)
        value = repeat(value, heads // kv_heads, axis=2)
    if scale is None:
        scale = 1.0 / math.sqrt(_shape(key)[-1])
    logits = multiply(einsum("BTNH,BSNH->BNTS", query, key), np.asarray(scale, compute))
    if bias is not None:
        logits = add(logits, cast(bias, compute))
    if mask is not None or is_causal:
        keep = np.ones(_shape(logits), bool)
        if mask is not None:
            keep = keep & np.asarray(unwrap(mask), bool)
        if is_causal:
            t, s = _shape(logits)[-2:]
            keep = keep & np.tri(t, s, dtype=bool)
        big_negative = (65500.0 if compute == "float16" else 3.38953e38) * -0.7
        logits = where(keep, logits, np.asarray(big_negative, compute))
    probs = softmax(logits, axis=-1)
    return einsum("BNTS,BSNH->BTNH", probs, value)


# --------------------------------------------------------------------------- CTC


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss per sample, from ``output`` logits
    ``(batch, time, classes)`` and padded integer ``target`` ``(batch, labels)``; ``mask_index``
    is the blank class. Differentiable: the forward (alpha) recursion in log space, one step
    per time frame, vectorised over the batch and the label positions."""
    labels = np.asarray(unwrap(target)).astype(np.int64)
    label_len = np.asarray(unwrap(target_length)).astype(np.int64).reshape(-1)
    frames = np.asarray(unwrap(output_length)).astype(np.int64).reshape(-1)
    result = dtypes.result_type(dtype(output), "float32")
    logits = cast(output, result) if dtype(output) != result or not _is_tracked(output) else output
    b, t_max, classes = _shape(logits)
    blank = mask_index % classes
    logp = log_softmax(logits, axis=-1)  # (B, T, K)
    length = labels.shape[1]
    s = 2 * length + 1
    ext = np.full((b, s), blank, np.int64)  # blank, l1, blank, l2, ..., blank
    ext[:, 1::2] = labels
    positions = np.arange(s)
    valid = positions[None, :] < (2 * label_len[:, None] + 1)
    skip = np.zeros((b, s), bool)  # s-2 -> s allowed: a label differing from the one before
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    very_negative = np.asarray(-1e30, result)
    emit = take_along_axis(logp, np.broadcast_to(ext[:, None, :], (b, t_max, s)), axis=2)
    start = np.zeros((b, s), bool)
    start[:, :2] = True
    start &= valid
    alpha = where(start, get_item(emit, (slice(None), 0)), very_negative)
    pad_one = np.full((b, 1), -1e30, result)
    pad_two = np.full((b, 2), -1e30, result)
    for t in range(1, t_max):
        prev1 = concatenate([pad_one, get_item(alpha, (slice(None), slice(None, -1)))], axis=1)
        prev2 = concatenate([pad_two, get_item(alpha, (slice(None), slice(None, -2)))], axis=1)
        total = logaddexp(alpha, prev1)
        total = where(skip, logaddexp(total, prev2), total)
        new = where(valid, add(total, get_item(emit, (slice(None), t))), very_negative)
        alpha = where((t < frames)[:, None], new, alpha)
    last = 2 * label_len  # the final blank, and the final label before it
    end_blank = take_along_axis(alpha, last[:, None], axis=1)
    end_label = take_along_axis(alpha, np.maximum(last - 1, 0)[:, None], axis=1)
    end_label = where((label_len > 0)[:, None], end_label, very_negative)
    return negative(squeeze(logaddexp(end_blank, end_label), 1))


def ctc_decode(
    inputs,
    sequence_lengths,
    strategy="greedy",
    beam_width=100,
    top_paths=1,
    merge_repeated=True,
    mask_index=0,
):
    """Decodes CTC logits ``(batch, time, classes)``: greedy (best class per frame, repeats
    merged, blanks dropped) or beam search. Returns the decoded labels ``(paths, batch, time)``
    padded with -1, and the scores: ``(batch, 1)`` negative sums of the best logits (greedy) or
    ``(batch, top_paths)`` log probabilities (beam search)."""
    x = _float_input(unwrap(inputs))
    result = dtypes.result_type(x.dtype.name, "float32")
    x = x.astype(result)
    lengths = np.asarray(unwrap(sequence_lengths)).astype(np.int64).reshape(-1)
    b, t_max, classes = x.shape
    blank = mask_index % classes if mask_index is not None else classes - 1
    if strategy == "greedy":
        best = np.argmax(x, axis=-1)  # (B, T)
        inside = np.arange(t_max)[None, :] < lengths[:, None]
        scores = -np.sum(np.where(inside, np.max(x, axis=-1), 0), axis=1, keepdims=True)
        keep = inside & (best != blank)
        if merge_repeated:
            repeat_ = np.zeros_like(keep)
            repeat_[:, 1:] = best[:, 1:] == best[:, :-1]
            keep &= ~repeat_
        decoded = np.full((1, b, t_max), -1, np.int32)
        order = np.cumsum(keep, axis=1) - 1
        rows, cols = np.nonzero(keep)
        decoded[0, rows, order[rows, cols]] = best[rows, cols]
        return decoded, scores.astype(result)
    if strategy != "beam_search":
        raise ValueError(
            f"Invalid strategy {strategy}. Supported values are 'greedy' and 'beam_search'."
        )
    return _ctc_beam_search(x, lengths, beam_width, top_paths, blank)


def _ctc_beam_search(x, lengths, beam_width, top_paths, blank):
    """Prefix beam search over log-softmax probabilities, per sample: each step extends every
    beam by every class at once, merges equal prefixes (``np.unique`` over the prefix rows) and
    keeps the ``beam_width`` most probable. A repeated label extends a prefix only after a
    blank; otherwise it collapses into it."""
    b, t_max, classes = x.shape
    logp = x.astype(np.float64)
    logp = logp - np.max(logp, axis=-1, keepdims=True)
    logp = logp - np.log(np.sum(np.exp(logp), axis=-1, keepdims=True))
    labels = np.array([c for c in range(classes) if c != blank], np.int64)
    decoded = np.full((top_paths, b, t_max), -1, np.int32)
    scores = np.full((b, top_paths), -np.inf)
    for n in range(b):
        prefixes = np.full((1, t_max), -1, np.int64)  # -1 padded label sequences
        lens = np.zeros(1, np.int64)
        pb, pnb = np.zeros(1), np.full(1, -np.inf)  # ending in a blank / in a label
        for t in range(int(lengths[n])):
            lp = logp[n, t]
            w = len(lens)
            last = np.where(lens > 0, prefixes[np.arange(w), np.maximum(lens - 1, 0)], -1)
            total = np.logaddexp(pb, pnb)
            # the same prefix: a blank, or its last label repeated (collapsing)
            same_pb = total + lp[blank]
            same_pnb = np.where(last >= 0, pnb + lp[np.maximum(last, 0)], -np.inf)
            # extended by each label c (after a blank only, when c repeats the last label)
            ext_pnb = (
                np.where(labels[None, :] == last[:, None], pb[:, None], total[:, None])
                + lp[labels][None, :]
            )
            ext = np.repeat(prefixes, len(labels), axis=0)
            ext_len = np.repeat(lens, len(labels))
            ext[np.arange(len(ext_len)), ext_len] = np.tile(labels, w)
            rows = np.concatenate([prefixes, ext])
            cand_len = np.concatenate([lens, ext_len + 1])
            cand_pb = np.concatenate([same_pb, np.full(ext_len.shape, -np.inf)])
            cand_pnb = np.concatenate([same_pnb, ext_pnb.reshape(-1)])
            unique, inverse = np.unique(rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            pb = np.full(len(unique), -np.inf)
            pnb = np.full(len(unique), -np.inf)
            np.logaddexp.at(pb, inverse, cand_pb)
            np.logaddexp.at(pnb, inverse, cand_pnb)
            u_len = np.zeros(len(unique), np.int64)
            u_len[inverse] = cand_len
            order = np.argsort(-np.logaddexp(pb, pnb), kind="stable")[:beam_width]
            prefixes, lens, pb, pnb = unique[order], u_len[order], pb[order], pnb[order]
        total = np.logaddexp(pb, pnb)
        order = np.argsort(-total, kind="stable")[:top_paths]
        for p, i in enumerate(order):
            decoded[p, n, : lens[i]] = prefixes[i, : lens[i]]
            scores[n, p] = total[i]
    return decoded, scores.astype(x.dtype)


__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "average_pool",
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "conv",
    "conv_transpose",
    "ctc_decode",
    "ctc_loss",
    "depth_to_space",
    "depthwise_conv",
    "dot_product_attention",
    "elu",
    "fold",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "layer_normalization",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "max_pool",
    "moments",
    "multi_hot",
    "normalize",
    "one_hot",
    "polar",
    "psnr",
    "relu",
    "relu6",
    "rms_normalization",
    "selu",
    "separable_conv",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "space_to_depth",
    "sparse_categorical_crossentropy",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh_shrink",
    "threshold",
    "unfold",
]
