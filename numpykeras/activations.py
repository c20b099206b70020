"""Activation functions on NumPy arrays, with their gradients.

Each activation has Keras 3's name, signature and defaults and returns an array of the input's float
dtype (float32 in, float32 out; integer inputs are computed in floatx). Training uses
:func:`backward`, which maps an activation and the upstream gradient ``dy = dL/dy`` to ``dL/dx``.

Identifiers resolve as in ``keras.activations``: :func:`get` accepts ``None`` (linear), a name
such as ``"relu"``, a config dict or a callable; :func:`serialize` returns the name Keras 3 writes
in layer configs (``"silu"`` for swish, ``"hard_silu"`` for hard_swish).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from numpykeras import backend
from numpykeras.ops.autodiff import _stack
from numpykeras.saving.object_registration import (
    get_registered_name,
    get_registered_object,
)

__all__ = [
    "backward",
    "deserialize",
    "elu",
    "erf",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "is_sigmoid",
    "is_softmax",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


def _as_float(x) -> np.ndarray:
    """``x`` as an array of a float dtype: its own if it has one, floatx otherwise."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    return x


def _cast_like(value, x: np.ndarray) -> np.ndarray:
    return np.asarray(value).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- on a GradientTape


def _on_tape(ops_form):
    """Decorator: under a recording ``GradientTape``, a recorded input (a Tensor, or a Variable or
    array the tape tracks) goes through ``ops_form``, the same activation written with
    ``numpykeras.ops``, so that its gradient (of any order) is recorded. Plain arrays keep the
    NumPy function."""

    def decorate(fn):
        @functools.wraps(fn)
        def activation(x, *args, **kwargs):
            if _stack.tapes and _recorded(x):
                return ops_form(x, *args, **kwargs)
            return fn(x, *args, **kwargs)

        return activation

    return decorate


def _recorded(x) -> bool:
    from numpykeras.ops import autodiff

    return type(autodiff.tracked_value(x)) is autodiff.Tensor


def _ops():
    from numpykeras import ops

    return ops


def _relu_ops(x, negative_slope=0.0, max_value=None, threshold=0.0):
    # Keras 3's ReLU.static_call, op for op.
    ops = _ops()
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    negative_part = ops.relu(ops.subtract(threshold, x)) if negative_slope != 0.0 else None
    if threshold != 0:
        y = ops.multiply(x, ops.cast(ops.greater(x, threshold), ops.dtype(x)))
    else:
        y = ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0.0, max_value)
    if negative_part is not None:
        y = ops.subtract(y, ops.multiply(negative_slope, negative_part))
    return y


def _gelu_ops(x, approximate=False):  # keras.ops.gelu defaults to approximate=True
    return _ops().gelu(x, approximate=approximate)


def _mish_ops(x):
    ops = _ops()
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


def _named_op(name):
    return lambda x, *args, **kwargs: getattr(_ops(), name)(x, *args, **kwargs)


# --------------------------------------------------------------------------- erf


def erf(x) -> np.ndarray:
    """The error function, vectorised and accurate to about 1e-15 (computed in float64).

    ``|x| < 2`` uses the everywhere-positive series
    ``erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (2n+1)!!`` (no cancellation);
    ``2 <= |x| < 6`` uses the continued fraction of ``erfc``; beyond that ``erf`` is ``+-1`` in
    float64. Returns an array of ``x``'s float dtype.
    """
    x = _as_float(x)
    a = np.abs(x.astype(np.float64))
    out = np.ones_like(a)

    series = a < 2.0
    xs = a[series]
    z = 2.0 * xs * xs
    term = xs.copy()
    total = xs.copy()
    for n in range(1, 30):  # term_n = term_{n-1} * 2x^2 / (2n+1)
        term *= z / (2 * n + 1)
        total += term
    out[series] = (2.0 * _INV_SQRT_PI) * np.exp(-xs * xs) * total

    tail = (~series) & (a < 6.0)
    xt = a[tail]
    k = np.zeros_like(xt)
    for n in range(40, 0, -1):  # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + (2/2)/(x + ...)))
        k = (0.5 * n) / (xt + k)
    out[tail] = 1.0 - np.exp(-xt * xt) * _INV_SQRT_PI / (xt + k)

    return _cast_like(np.copysign(out, x), x)


# --------------------------------------------------------------------------- activations


@_on_tape(_relu_ops)
def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, with Keras's optional leak, cap and threshold.

    With the defaults this is ``max(x, 0)``. In general, following Keras 3:
    ``y = clip(where(x > threshold, x, 0), 0, max_value) - negative_slope * relu(threshold - x)``.

    Args:
        x: Input array.
        negative_slope: Slope for values below ``threshold``.
        max_value: Saturation value (``None`` means no cap).
        threshold: Values at or below this are damped (or zeroed).

    Returns:
        An array of ``x``'s shape and float dtype.
    """
    x = _as_float(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return leaky_relu(x, negative_slope=negative_slope)
    if threshold != 0:
        y = np.where(x > threshold, x, 0).astype(x.dtype, copy=False)
    else:
        y = np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value).astype(x.dtype, copy=False)
    if negative_slope != 0.0:
        y = y - negative_slope * np.maximum(threshold - x, 0)
    return _cast_like(y, x)


def _relu_grad(dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return _leaky_relu_grad(dy, x, y, negative_slope=negative_slope)
    if threshold != 0:
        passes = x > threshold
        if max_value is not None:  # the clip passes gradient on [0, max_value]
            passes &= (x >= 0) & (x <= max_value)
    elif max_value == 6:  # Keras uses relu6 here
        passes = (x > 0) & (x < 6)
    elif max_value is not None:  # relu, then a clip that passes gradient on [0, max_value]
        passes = (x > 0) & (x <= max_value)
    else:
        passes = x > 0
    slope = passes.astype(x.dtype)
    if negative_slope != 0.0:
        slope = slope + negative_slope * (x < threshold)  # d/dx of -a * relu(t - x)
    return dy * slope


@_on_tape(_named_op("leaky_relu"))
def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: ``x`` for ``x > 0``, ``negative_slope * x`` otherwise."""
    x = _as_float(x)
    return _cast_like(np.where(x > 0, x, negative_slope * x), x)


def _leaky_relu_grad(dy, x, y, negative_slope=0.2):
    return np.where(x > 0, dy, negative_slope * dy)


@_on_tape(_named_op("relu6"))
def relu6(x):
    """ReLU capped at 6: ``min(max(x, 0), 6)``."""
    x = _as_float(x)
    return _cast_like(np.clip(x, 0, 6), x)


def _relu6_grad(dy, x, y):
    return dy * ((x > 0) & (x < 6))


@_on_tape(_named_op("sigmoid"))
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow."""
    x = _as_float(x)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return _cast_like(np.where(x >= 0, 1 / (1 + e), e / (1 + e)), x)


def _sigmoid_grad(dy, x, y):
    return dy * y * (1 - y)


@_on_tape(_named_op("softmax"))
def softmax(x, axis=-1):
    """Softmax along ``axis`` (an int, a tuple of ints, or ``None`` for all axes).

    ``y = exp(x - max(x)) / sum(exp(x - max(x)))``: subtracting the max keeps ``exp`` finite.
    """
    x = _as_float(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return _cast_like(e / np.sum(e, axis=axis, keepdims=True), x)


def _softmax_grad(dy, x, y, axis=-1):
    # dx_i = y_i * (dy_i - sum_j dy_j y_j)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


@_on_tape(_named_op("log_softmax"))
def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed as ``x - max - log(sum(exp(x - max)))``."""
    x = _as_float(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return _cast_like(shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True)), x)


def _log_softmax_grad(dy, x, y, axis=-1):
    # dx_i = dy_i - softmax_i * sum_j dy_j, with softmax = exp(y)
    return dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True)


@_on_tape(_named_op("tanh"))
def tanh(x):
    """Hyperbolic tangent."""
    x = _as_float(x)
    return np.tanh(x)


def _tanh_grad(dy, x, y):
    return dy * (1 - y * y)


def linear(x):
    """The identity: returns ``x`` unmodified."""
    return x


def _linear_grad(dy, x, y):
    return dy


@_on_tape(_named_op("elu"))
def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    x = _as_float(x)
    negative = alpha * np.expm1(np.minimum(x, 0))  # min() keeps exp from overflowing
    return _cast_like(np.where(x > 0, x, negative), x)


def _elu_grad(dy, x, y, alpha=1.0):
    return np.where(x > 0, dy, dy * (alpha * np.exp(np.minimum(x, 0))))


@_on_tape(_named_op("selu"))
def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalising constants."""
    x = _as_float(x)
    negative = _SELU_ALPHA * np.expm1(np.minimum(x, 0))
    return _cast_like(_SELU_SCALE * np.where(x > 0, x, negative), x)


def _selu_grad(dy, x, y):
    slope = np.where(x > 0, _SELU_SCALE, _SELU_SCALE * _SELU_ALPHA * np.exp(np.minimum(x, 0)))
    return dy * _cast_like(slope, dy)


@_on_tape(_named_op("softplus"))
def softplus(x):
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))``."""
    x = _as_float(x)
    return _cast_like(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), x)


def _softplus_grad(dy, x, y):
    return dy * sigmoid(x)


@_on_tape(_named_op("softsign"))
def softsign(x):
    """``x / (1 + |x|)``."""
    x = _as_float(x)
    return _cast_like(x / (1 + np.abs(x)), x)


def _softsign_grad(dy, x, y):
    d = 1 + np.abs(x)
    return dy / (d * d)


@_on_tape(_named_op("silu"))
def silu(x):
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    x = _as_float(x)
    return _cast_like(x * sigmoid(x), x)


swish = silu


def _silu_grad(dy, x, y):
    s = sigmoid(x)
    return dy * (s * (1 + x * (1 - s)))


@_on_tape(_gelu_ops)
def gelu(x, approximate=False):
    """Gaussian error linear unit.

    Exact: ``0.5 * x * (1 + erf(x / sqrt(2)))``. With ``approximate=True``:
    ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``.
    """
    x = _as_float(x)
    if approximate:
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
        return _cast_like(0.5 * x * (1 + t), x)
    return _cast_like(0.5 * x * (1 + erf(x / _SQRT_2)), x)


def _gelu_grad(dy, x, y, approximate=False):
    if approximate:
        u = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)
        t = np.tanh(u)
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    # d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
    cdf = 0.5 * (1 + erf(x / _SQRT_2))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return dy * (cdf + x * pdf)


@_on_tape(_named_op("exp"))
def exponential(x):
    """``exp(x)``."""
    x = _as_float(x)
    return np.exp(x)


def _exponential_grad(dy, x, y):
    return dy * y


@_on_tape(_named_op("hard_sigmoid"))
def hard_sigmoid(x):
    """Piecewise-linear sigmoid (Keras 3): ``relu6(x + 3) / 6``."""
    x = _as_float(x)
    return _cast_like(np.clip(x + 3, 0, 6) / 6, x)


def _hard_sigmoid_grad(dy, x, y):
    return dy * (((x > -3) & (x < 3)) / 6).astype(dy.dtype, copy=False)


def _hard_sigmoid_keras2_ops(x):
    ops = _ops()
    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


@_on_tape(_hard_sigmoid_keras2_ops)
def keras2_hard_sigmoid(x):
    """Keras 2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3 uses ``x / 6 + 0.5``).

    What a ``"hard_sigmoid"`` in a file written by Keras 2 (or tf.keras / tf_keras) computed;
    the legacy HDF5 loader maps it here so that the model predicts what Keras 2 predicted.
    """
    x = _as_float(x)
    return _cast_like(np.clip(0.2 * x + 0.5, 0.0, 1.0), x)


def _keras2_hard_sigmoid_grad(dy, x, y):
    return dy * (((x > -2.5) & (x < 2.5)) * 0.2).astype(dy.dtype, copy=False)


@_on_tape(_named_op("hard_silu"))
def hard_silu(x):
    """Hard SiLU (hard swish): ``x * hard_sigmoid(x)``."""
    x = _as_float(x)
    return _cast_like(x * hard_sigmoid(x), x)


hard_swish = hard_silu


def _hard_silu_grad(dy, x, y):
    inside = ((x > -3) & (x < 3)).astype(x.dtype)
    return dy * (hard_sigmoid(x) + x * inside / 6)


@_on_tape(_mish_ops)
def mish(x):
    """Mish: ``x * tanh(softplus(x))``."""
    x = _as_float(x)
    return _cast_like(x * np.tanh(softplus(x)), x)


def _mish_grad(dy, x, y):
    t = np.tanh(softplus(x))
    return dy * (t + x * (1 - t * t) * sigmoid(x))


# --------------------------------------------------------------------------- registry

# Name -> function, as in keras.activations.ALL_OBJECTS_DICT (with its aliases).
_ACTIVATIONS = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "gelu": gelu,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "exponential": exponential,
    "hard_sigmoid": hard_sigmoid,
    "keras2_hard_sigmoid": keras2_hard_sigmoid,
    "hard_silu": hard_silu,
    "linear": linear,
    "mish": mish,
}
_ALIASES = {
    "swish": silu,
    "hard_swish": hard_silu,
    "softmax_v2": softmax,  # what tf.keras wrote for `activation=tf.nn.softmax`
}
_NAMES = {fn: name for name, fn in _ACTIVATIONS.items()}

# Function -> gradient(dy, x, y, **params); the set says which gradients read y.
_GRADIENTS = {
    relu: _relu_grad,
    leaky_relu: _leaky_relu_grad,
    relu6: _relu6_grad,
    softmax: _softmax_grad,
    log_softmax: _log_softmax_grad,
    elu: _elu_grad,
    selu: _selu_grad,
    softplus: _softplus_grad,
    softsign: _softsign_grad,
    silu: _silu_grad,
    gelu: _gelu_grad,
    tanh: _tanh_grad,
    sigmoid: _sigmoid_grad,
    exponential: _exponential_grad,
    hard_sigmoid: _hard_sigmoid_grad,
    keras2_hard_sigmoid: _keras2_hard_sigmoid_grad,
    hard_silu: _hard_silu_grad,
    linear: _linear_grad,
    mish: _mish_grad,
}
_NEEDS_OUTPUT = {softmax, log_softmax, tanh, sigmoid, exponential}


def _unwrap(activation):
    """``(function, keyword arguments)`` for an activation, a name or a ``functools.partial``."""
    if isinstance(activation, str):
        activation = get(activation)
    if isinstance(activation, functools.partial) and not activation.args:
        inner, params = _unwrap(activation.func)
        return inner, {**params, **activation.keywords}
    return activation, {}


def _gradient_of(fn):
    try:
        return _GRADIENTS.get(fn)
    except TypeError:  # an unhashable callable object
        return None


def backward(activation, dy, x=None, y=None, **params):
    """The gradient ``dL/dx`` of an activation given ``dy = dL/dy``.

    Args:
        activation: A built-in activation function (or its name, or a ``functools.partial`` of one
            with keyword arguments).
        dy: Upstream gradient, shaped like the output.
        x: The activation's input. Needed by every activation except those computed from the
            output (sigmoid, tanh, softmax, log_softmax, exponential) when ``y`` is given.
        y: The activation's output, if available; recomputed from ``x`` when needed and missing.
        **params: The activation's keyword arguments, e.g. ``axis`` for softmax or ``alpha`` for
            elu, when they differ from the defaults.

    Returns:
        ``dL/dx``, shaped like ``dy``.

    Raises:
        ValueError: if the activation has no known gradient (e.g. a user's own function).
    """
    fn, partial_params = _unwrap(activation)
    params = {**partial_params, **params}
    grad = _gradient_of(fn)
    if grad is None:
        raise ValueError(
            f"The activation {activation!r} has no known gradient, so a layer using it cannot be "
            "trained by numpykeras. Use one of the built-in activations "
            f"({', '.join(sorted(_ACTIVATIONS))}), or use it only for inference."
        )
    dy = _as_float(dy)
    if x is not None:
        x = np.asarray(x, dtype=dy.dtype)
    if fn in _NEEDS_OUTPUT and y is None:
        if x is None:
            raise ValueError(f"backward({_NAMES[fn]!r}) needs the input `x` or the output `y`.")
        y = fn(x, **params)
    elif fn not in _NEEDS_OUTPUT and fn is not linear and x is None:
        raise ValueError(f"backward({_NAMES[fn]!r}) needs the activation's input `x`.")
    if y is not None:
        y = np.asarray(y, dtype=dy.dtype)
    return _cast_like(grad(dy, x, y, **params), dy)


def has_gradient(activation) -> bool:
    """Whether :func:`backward` knows the gradient of ``activation``."""
    try:
        fn, _ = _unwrap(activation)
    except ValueError:
        return False
    return _gradient_of(fn) is not None


def is_softmax(activation) -> bool:
    """Whether ``activation`` is softmax (a name, the function, or a partial of it)."""
    try:
        return _unwrap(activation)[0] is softmax
    except ValueError:
        return False


def is_sigmoid(activation) -> bool:
    """Whether ``activation`` is the sigmoid (a name, the function, or a partial of it)."""
    try:
        return _unwrap(activation)[0] is sigmoid
    except ValueError:
        return False


# --------------------------------------------------------------------------- (de)serialization


def as_ops(activation):
    """``activation`` written with ``numpykeras.ops`` (differentiable on a ``GradientTape``, to any
    order), or ``None`` when it has no such form. A user's own function is returned as it is
    (written with ops, it is differentiable already)."""
    from numpykeras import ops

    fn, params = _unwrap(activation)
    name = _NAMES.get(fn)
    if name is None:
        return None if params else activation
    if name == "linear":
        return lambda x: x
    if name == "swish":
        name = "silu"
    op = getattr(ops, name, None)
    if op is None:
        return None
    return (lambda x: op(x, **params)) if params else op


def _interpret_error(identifier) -> ValueError:
    return ValueError(f"Could not interpret activation function identifier: {identifier}")


def serialize(activation):
    """What Keras 3 stores for an activation in a layer config.

    Built-ins become their name (``"relu"``; swish is stored as ``"silu"``). Other functions become
    Keras's function dict ``{"module": ..., "class_name": "function", "config": <registered name>,
    "registered_name": "function"}``; callable objects with ``get_config`` become a class dict.
    """
    fn, params = _unwrap(activation)
    if fn in _NAMES and not params:
        return _NAMES[fn]
    if isinstance(activation, functools.partial):
        raise TypeError(
            f"Activation {activation!r} cannot be serialized: a partial with arguments has no "
            "Keras name. Use a layer such as `ReLU(...)` or register a function with "
            "`@register_keras_serializable()`."
        )
    if hasattr(activation, "get_config") and not isinstance(activation, type):
        return {
            "module": type(activation).__module__,
            "class_name": type(activation).__name__,
            "config": activation.get_config(),
            "registered_name": get_registered_name(type(activation)),
        }
    if callable(activation) and hasattr(activation, "__name__"):
        return {
            "module": getattr(activation, "__module__", None) or "builtins",
            "class_name": "function",
            "config": get_registered_name(activation),
            "registered_name": "function",
        }
    raise ValueError(f"Unknown activation function '{activation}' cannot be serialized.")


def _lookup(name, custom_objects=None):
    """A function or class for ``name``: custom objects, built-ins, then the global registry."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    if name in _ALIASES:
        return _ALIASES[name]
    return get_registered_object(name, custom_objects)


def deserialize(config, custom_objects=None):
    """An activation from a name or a config dict (Keras 3 or Keras 2 format).

    Args:
        config: A name such as ``"relu"``, or a dict with ``"class_name"`` and ``"config"``
            (``"class_name": "function"`` dicts name the function in ``"config"``).
        custom_objects: Optional ``{name: function_or_class}`` for user activations.

    Returns:
        A callable.

    Raises:
        ValueError: if nothing of that name is known.
    """
    if isinstance(config, str):
        obj = _lookup(config, custom_objects)
        if obj is None or not callable(obj):
            raise _interpret_error(config)
        return obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise _interpret_error(config)

    class_name = config["class_name"]
    inner = config.get("config")
    registered = config.get("registered_name")
    if class_name == "function":
        if not isinstance(inner, str):
            raise _interpret_error(config)
        return deserialize(inner, custom_objects)

    obj = None
    if registered and registered != class_name:
        obj = _lookup(registered, custom_objects)
    if obj is None:
        obj = _lookup(class_name, custom_objects)
    if obj is None:
        raise _interpret_error(config)
    if isinstance(obj, type):
        inner = inner or {}
        if hasattr(obj, "from_config"):
            return obj.from_config(inner)
        return obj(**inner)
    return obj


def get(identifier):
    """An activation function from ``identifier``.

    Args:
        identifier: ``None`` (linear), a name, a config dict or a callable (returned as is).

    Returns:
        A callable.

    Raises:
        ValueError: if ``identifier`` cannot be interpreted.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise _interpret_error(identifier)
