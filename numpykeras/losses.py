"""Keras 3 losses in NumPy, with the gradients the training loop needs.

Every loss exists twice, as in Keras: a function returning one value per sample
(``categorical_crossentropy(y_true, y_pred)``) and a :class:`Loss` object that also applies
sample weights and a reduction (``CategoricalCrossentropy()(y_true, y_pred)``).

Training uses :meth:`Loss.value_and_grad`, which returns the reduced loss and its gradient with
respect to ``y_pred``. For the three crossentropies it can instead work on the *logits* of a final
softmax/sigmoid layer, exactly as Keras's TensorFlow backend does in ``fit`` (see
:meth:`Loss.value_and_grad` and :attr:`Loss.supports_logits`).

Internally each loss function has an implementation returning ``(values, vjp, mask)``: the
per-sample values, a function mapping ``d(loss)/d(values)`` to ``d(loss)/d(y_pred)``, and the
Keras mask Keras attaches to the values (only ``ignore_class`` sets one).
"""

from __future__ import annotations

import collections
import inspect
import re
import warnings

import numpy as np

from numpykeras import backend
from numpykeras.ops import autodiff
from numpykeras.ops.autodiff import Tensor
from numpykeras.ops.autodiff import _stack as _tapes
from numpykeras.saving import object_registration

_REDUCTIONS = (
    "sum_over_batch_size",
    "sum",
    None,
    "none",
    "mean",
    "mean_with_sample_weight",
)

# --------------------------------------------------------------------------- naming helpers

_NAME_UIDS: collections.defaultdict = collections.defaultdict(int)


def _to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(prefix: str) -> str:
    """Snake-case ``prefix`` and make it unique in this process, as Keras's ``auto_name``."""
    prefix = _to_snake_case(prefix)
    count = _NAME_UIDS[prefix]
    _NAME_UIDS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _object_name(obj) -> str:
    """The name Keras gives an object in logs (``get_object_name``)."""
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return _to_snake_case(obj.__name__)
    return _to_snake_case(type(obj).__name__)


# --------------------------------------------------------------------------- array helpers


def _as_float(x, dtype=None) -> np.ndarray:
    """``x`` as a float array: ``dtype`` if given, else its own float dtype, else floatx."""
    if isinstance(x, backend.Variable):
        x = x.value
    x = np.asarray(x)
    if dtype is not None:
        return x.astype(backend.standardize_dtype(dtype), copy=False)
    if np.issubdtype(x.dtype, np.floating):
        return x
    return x.astype(backend.floatx())


def _shape_str(shape) -> str:
    return str(tuple(int(d) for d in shape))


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Squeeze or expand the last axis of one array when the ranks differ by exactly one.

    Mirrors Keras: an array whose last dimension is 1 and whose rank is one more than the
    other's is squeezed, except that a rank-1 partner is expanded instead when
    ``expand_rank_1`` is true.
    """
    x1_rank, x2_rank = np.ndim(x1), np.ndim(x2)
    if x1_rank == x2_rank:
        return x1, x2
    if x1_rank == x2_rank + 1 and np.shape(x1)[-1] == 1:
        if x2_rank == 1 and expand_rank_1:
            x2 = np.expand_dims(x2, -1)
        else:
            x1 = np.squeeze(x1, -1)
    if x2_rank == x1_rank + 1 and np.shape(x2)[-1] == 1:
        if x1_rank == 1 and expand_rank_1:
            x1 = np.expand_dims(x1, -1)
        else:
            x2 = np.squeeze(x2, -1)
    return x1, x2


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Bring a gradient back to ``shape``: undo a squeeze/expand or sum a broadcast away."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    if grad.size == int(np.prod(shape, dtype=np.int64)):
        return grad.reshape(shape)
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _scalar(value, dtype):
    """``value`` as a NumPy scalar of ``dtype`` (keeps float32 math float32 under NEP 50)."""
    return np.dtype(dtype).type(value)


def _check_same_shape(target, output):
    """Keras's TensorFlow-backend check for crossentropies taking two same-shaped tensors."""
    if target.ndim != output.ndim:
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). Received: "
            f"target.shape={_shape_str(target.shape)}, output.shape={_shape_str(output.shape)}"
        )
    if target.shape != output.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={_shape_str(target.shape)}, output.shape={_shape_str(output.shape)}"
        )


def _log_softmax(z: np.ndarray, axis: int) -> tuple:
    """``(log_softmax(z), softmax(z))`` along ``axis``, computed stably."""
    shifted = z - z.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=axis, keepdims=True)
    return shifted - np.log(total), exp / total


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def _inside(x, low, high) -> np.ndarray:
    """Where ``clip(x, low, high)`` lets the gradient through (TensorFlow: inclusive bounds)."""
    return (x >= low) & (x <= high)


# --------------------------------------------------------------------------- loss implementations
#
# Each ``_impl`` takes float arrays and returns ``(values, vjp, mask)``. ``vjp(d_values)``
# returns the gradient with respect to the ``y_pred`` it received (same shape).


def _check_broadcastable(y_true, y_pred, original_true_shape=None):
    """A clear ``ValueError`` naming both shapes when targets and predictions cannot be
    combined elementwise (NumPy would raise its own broadcast error mid-computation)."""
    try:
        np.broadcast_shapes(np.shape(y_true), np.shape(y_pred))
    except ValueError:
        shape = np.shape(y_true) if original_true_shape is None else original_true_shape
        raise ValueError(
            "Arguments `target` and `output` must have compatible shapes: the same shape (a "
            "trailing axis of size 1 may be added or dropped), or shapes that broadcast. "
            f"Received: target.shape={_shape_str(shape)}, "
            f"output.shape={_shape_str(np.shape(y_pred))}"
        ) from None


def _prepare(y_true, y_pred, squeeze=True):
    y_pred = _as_float(y_pred)
    y_true = _as_float(y_true, y_pred.dtype)
    true_shape = y_true.shape
    if squeeze:
        y_true, y_pred_sq = squeeze_or_expand_to_same_rank(y_true, y_pred)
    else:
        y_pred_sq = y_pred
    _check_broadcastable(y_true, y_pred_sq, true_shape)
    return y_true, y_pred_sq, y_pred.shape


def _mean_last(elementwise, grad_elementwise, pred_shape):
    """Values ``mean(e, -1)`` with the vjp of an elementwise loss ``e`` of derivative ``de``."""
    n = elementwise.shape[-1]
    values = np.mean(elementwise, axis=-1)

    def vjp(d_values):
        g = np.expand_dims(d_values, -1) * grad_elementwise() / _scalar(n, elementwise.dtype)
        return _unbroadcast(g.astype(elementwise.dtype, copy=False), pred_shape)

    return values, vjp


def _mse_impl(y_true, y_pred):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    diff = y_true - y_pred  # (..., n)
    values, vjp = _mean_last(np.square(diff), lambda: -2 * diff, shape)
    return values, vjp, None


def _mae_impl(y_true, y_pred):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    diff = y_true - y_pred
    values, vjp = _mean_last(np.abs(diff), lambda: -np.sign(diff), shape)
    return values, vjp, None


def _mape_impl(y_true, y_pred):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    dtype = y_pred.dtype
    denom = np.maximum(np.abs(y_true), _scalar(backend.epsilon(), dtype))
    ratio = (y_true - y_pred) / denom  # (..., n)
    hundred = _scalar(100.0, dtype)
    values, vjp = _mean_last(np.abs(ratio), lambda: -np.sign(ratio) / denom, shape)
    return hundred * values, (lambda d: vjp(d * hundred)), None


def _msle_impl(y_true, y_pred):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    dtype = y_pred.dtype
    eps, one = _scalar(backend.epsilon(), dtype), _scalar(1.0, dtype)
    pred_plus_one = np.maximum(y_pred, eps) + one
    diff = np.log(pred_plus_one) - np.log(np.maximum(y_true, eps) + one)

    def grad():
        # TF's maximum passes the gradient where y_pred >= eps.
        return 2 * diff / pred_plus_one * (y_pred >= eps)

    values, vjp = _mean_last(np.square(diff), grad, shape)
    return values, vjp, None


def _huber_impl(y_true, y_pred, delta=1.0):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    dtype = y_pred.dtype
    delta = _scalar(delta, dtype)
    half = _scalar(0.5, dtype)
    error = y_pred - y_true
    abs_error = np.abs(error)
    small = abs_error <= delta
    elementwise = np.where(small, half * np.square(error), delta * abs_error - half * delta**2)
    values, vjp = _mean_last(
        elementwise, lambda: np.where(small, error, delta * np.sign(error)), shape
    )
    return values, vjp, None


def _log_cosh_impl(y_true, y_pred):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    x = y_pred - y_true
    log2 = _scalar(np.log(2.0), x.dtype)
    # log(cosh(x)) = x + softplus(-2x) - log(2); its derivative is tanh(x).
    elementwise = x + np.logaddexp(_scalar(0.0, x.dtype), -2 * x) - log2
    values, vjp = _mean_last(elementwise, lambda: np.tanh(x), shape)
    return values, vjp, None


def _cosine_similarity_impl(y_true, y_pred, axis=-1):
    y_true, y_pred, shape = _prepare(y_true, y_pred)
    dtype = y_pred.dtype
    inv_eps = _scalar(1.0 / backend.epsilon(), dtype)

    def inv_norm(x):
        # x * min(rsqrt(sum(x^2)), 1/eps), as keras.ops.normalize(order=2)
        with np.errstate(divide="ignore"):
            raw = 1 / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
        return np.minimum(raw, inv_eps), raw <= inv_eps

    inv_true, _ = inv_norm(y_true)
    inv_pred, pred_not_clamped = inv_norm(y_pred)
    true_hat = y_true * inv_true
    dot = np.sum(true_hat * y_pred, axis=axis, keepdims=True)  # (..., 1)
    values = -np.squeeze(dot * inv_pred, axis=axis)

    def vjp(d_values):
        d = np.expand_dims(d_values, axis)
        # d/dp of -(t_hat . p) * inv(p), inv(p) = |p|^-1 unless clamped
        g = -true_hat * inv_pred + dot * y_pred * inv_pred**3 * pred_not_clamped
        return _unbroadcast((d * g).astype(dtype, copy=False), shape)

    return values, vjp, None


def _kl_divergence_impl(y_true, y_pred):
    y_pred = _as_float(y_pred)
    dtype = y_pred.dtype
    eps, one = _scalar(backend.epsilon(), dtype), _scalar(1.0, dtype)
    y_true = _as_float(y_true, dtype)
    _check_broadcastable(y_true, y_pred)
    t = np.clip(y_true, eps, one)
    p = np.clip(y_pred, eps, one)
    values = np.sum(t * np.log(t / p), axis=-1)

    def vjp(d_values):
        g = np.expand_dims(d_values, -1) * (-t / p) * _inside(y_pred, eps, one)
        return _unbroadcast(g.astype(dtype, copy=False), y_pred.shape)

    return values, vjp, None


def _poisson_impl(y_true, y_pred):
    y_pred = _as_float(y_pred)
    dtype = y_pred.dtype
    y_true = _as_float(y_true, dtype)
    _check_broadcastable(y_true, y_pred)
    shifted = y_pred + _scalar(backend.epsilon(), dtype)
    values, vjp = _mean_last(
        y_pred - y_true * np.log(shifted), lambda: 1 - y_true / shifted, y_pred.shape
    )
    return values, vjp, None


def _convert_binary_labels_to_hinge(y_true):
    """Labels in {0, 1} become {-1, 1}; anything else is left alone (Keras's rule)."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


def _hinge_impl(y_true, y_pred):
    y_pred = _as_float(y_pred)
    y_true = _convert_binary_labels_to_hinge(_as_float(y_true, y_pred.dtype))
    _check_broadcastable(y_true, y_pred)
    margin = 1 - y_true * y_pred
    active = margin >= 0  # TF's maximum passes the gradient on ties
    values, vjp = _mean_last(np.maximum(margin, 0), lambda: -y_true * active, y_pred.shape)
    return values, vjp, None


def _squared_hinge_impl(y_true, y_pred):
    y_pred = _as_float(y_pred)
    y_true = _convert_binary_labels_to_hinge(_as_float(y_true, y_pred.dtype))
    _check_broadcastable(y_true, y_pred)
    clipped = np.maximum(1 - y_true * y_pred, 0)
    values, vjp = _mean_last(np.square(clipped), lambda: -2 * clipped * y_true, y_pred.shape)
    return values, vjp, None


def _categorical_hinge_impl(y_true, y_pred):
    y_pred = _as_float(y_pred)
    y_true = _as_float(y_true, y_pred.dtype)
    _check_broadcastable(y_true, y_pred)
    pos = np.sum(y_true * y_pred, axis=-1)
    others = (1 - y_true) * y_pred
    neg = np.max(others, axis=-1)
    margin = neg - pos + 1
    values = np.maximum(margin, 0)

    def vjp(d_values):
        # reduce_max splits its gradient evenly between tied maxima, as TensorFlow does.
        is_max = others == neg[..., None]
        share = is_max / is_max.sum(axis=-1, keepdims=True)
        g = (share * (1 - y_true) - y_true) * (d_values * (margin >= 0))[..., None]
        return _unbroadcast(g.astype(y_pred.dtype, copy=False), y_pred.shape)

    return values, vjp, None


def _categorical_crossentropy_impl(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    if isinstance(axis, bool):
        raise ValueError(
            f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}"
        )
    y_pred = _as_float(y_pred)
    dtype = y_pred.dtype
    y_true = _as_float(y_true, dtype)
    if y_pred.ndim >= 1 and y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be "
            f"(batch_size, num_classes) with num_classes > 1. Received: "
            f"y_pred.shape={_shape_str(y_pred.shape)}. Consider using 'binary_crossentropy' "
            "if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=3,
        )
    if label_smoothing and y_true.ndim >= 1:
        smoothing = _scalar(label_smoothing, dtype)
        y_true = y_true * (1 - smoothing) + smoothing / _scalar(y_true.shape[-1], dtype)
    if y_true.ndim < 1:
        raise ValueError(
            "Arguments `target` and `output` must be at least rank 1. Received: "
            f"target.shape={_shape_str(y_true.shape)}, output.shape={_shape_str(y_pred.shape)}"
        )
    _check_same_shape(y_true, y_pred)

    if from_logits:
        log_probs, probs = _log_softmax(y_pred, axis)
        values = -np.sum(y_true * log_probs, axis=axis)

        def grad():
            # d/dz of -sum(t * log_softmax(z)) = softmax(z) * sum(t) - t
            return probs * np.sum(y_true, axis=axis, keepdims=True) - y_true

    else:
        eps = _scalar(backend.epsilon(), dtype)
        total = np.sum(y_pred, axis=axis, keepdims=True)
        q = y_pred / total  # renormalised probabilities, as Keras does
        q_clipped = np.clip(q, eps, 1 - eps)
        values = -np.sum(y_true * np.log(q_clipped), axis=axis)

        def grad():
            g_q = -y_true / q_clipped * _inside(q, eps, 1 - eps)
            # dq_i/dp_j = (delta_ij - q_i) / total
            return (g_q - np.sum(g_q * q, axis=axis, keepdims=True)) / total

    def vjp(d_values):
        return (np.expand_dims(d_values, axis) * grad()).astype(dtype, copy=False)

    return values, vjp, None


def _sparse_categorical_crossentropy_impl(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1
):
    y_pred = _as_float(y_pred)
    dtype = y_pred.dtype
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[axis] == 1:
        y_true = np.squeeze(y_true, axis=axis)
    if axis != -1 and axis != y_pred.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = np.where(valid, y_true, 0)
    if y_pred.ndim < 1:
        raise ValueError(
            f"Argument `output` must be at least rank 1. Received: output.shape={y_pred.shape}"
        )
    if y_true.ndim != y_pred.ndim - 1:
        raise ValueError(
            "Argument `output` must have rank (ndim) `target.ndim - 1`. Received: "
            f"target.shape={_shape_str(y_true.shape)}, output.shape={_shape_str(y_pred.shape)}"
        )
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={_shape_str(y_true.shape)}, "
            f"output.shape={_shape_str(y_pred.shape)}"
        )
    if y_true.dtype.kind == "f" and not np.all(np.isfinite(y_true)):
        raise ValueError(
            "Sparse labels must be finite class indices in [0, num_classes); received "
            f"{y_true[~np.isfinite(y_true)].flat[0]} in labels of shape {_shape_str(y_true.shape)}."
        )
    labels = y_true.astype(np.int64)  # TensorFlow casts to int64 (truncating floats)
    num_classes = y_pred.shape[-1]
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"Received a label value of {labels[bad].flat[0]} which is outside the valid range "
            f"of [0, {num_classes}). Sparse labels must be class indices in [0, num_classes); "
            f"got labels with shape {_shape_str(labels.shape)} for y_pred with shape "
            f"{_shape_str(y_pred.shape)}."
        )

    if from_logits:
        logits = y_pred
    else:
        eps = _scalar(backend.epsilon(), dtype)
        clipped = np.clip(y_pred, eps, 1 - eps)
        logits = np.log(clipped)
    log_probs, probs = _log_softmax(logits, -1)
    index = labels[..., None]
    values = -np.take_along_axis(log_probs, index, axis=-1)[..., 0]
    if valid is not None:
        values = np.where(valid, values, _scalar(0.0, dtype))

    def vjp(d_values):
        g = probs.copy()  # d/dlogits = softmax(logits) - one_hot(labels)
        np.put_along_axis(g, index, np.take_along_axis(g, index, axis=-1) - 1, axis=-1)
        scale = d_values if valid is None else d_values * valid
        g *= scale[..., None]
        if not from_logits:
            g = g / clipped * _inside(y_pred, eps, 1 - eps)
        return g.astype(dtype, copy=False)

    return values, vjp, valid


def _binary_crossentropy_impl(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = _as_float(y_pred)
    dtype = y_pred.dtype
    y_true = _as_float(y_true, dtype)
    if label_smoothing:
        smoothing = _scalar(label_smoothing, dtype)
        y_true = y_true * (1 - smoothing) + _scalar(0.5, dtype) * smoothing
    _check_same_shape(y_true, y_pred)
    if from_logits:
        # max(z, 0) - z * t + log(1 + exp(-|z|)), as tf.nn.sigmoid_cross_entropy_with_logits
        elementwise = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))

        def grad():
            return _sigmoid(y_pred) - y_true

    else:
        eps = _scalar(backend.epsilon(), dtype)
        p = np.clip(y_pred, eps, 1 - eps)
        elementwise = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))

        def grad():
            return (-y_true / p + (1 - y_true) / (1 - p)) * _inside(y_pred, eps, 1 - eps)

    n = _scalar(elementwise.shape[axis], dtype) if elementwise.ndim else _scalar(1, dtype)
    values = np.mean(elementwise, axis=axis)

    def vjp(d_values):
        return (np.expand_dims(d_values, axis) * grad() / n).astype(dtype, copy=False)

    return values, vjp, None


# --------------------------------------------------------------------------- public functions


def _per_sample(impl, y_true, y_pred, *args, **kwargs):
    """``impl``'s per-sample values; under a recording ``GradientTape`` with a recorded
    ``y_pred``, recorded with ``impl``'s hand-written gradient (targets are constants)."""
    recorded = _recorded(y_pred)
    if recorded is None:
        return impl(autodiff.unwrap(y_true), autodiff.unwrap(y_pred), *args, **kwargs)[0]
    y_pred = recorded
    fusable = _keras_logits(y_pred) if impl in _LOGIT_IMPLEMENTATIONS else None
    if fusable is not None and args and not args[0] and not kwargs.get("from_logits"):
        # Probabilities from a final softmax/sigmoid: compute from its logits (Keras's
        # TensorFlow backend does), differentiating with respect to them.
        y_pred = _recorded(fusable[0])
        args = (True,) + tuple(args[1:])
    prediction = np.asarray(y_pred.value)
    values, vjp, _ = impl(np.asarray(autodiff.unwrap(y_true)), prediction, *args, **kwargs)
    values = np.asarray(values)
    live = {t._id for t in _tapes.tapes}
    tapes = y_pred._node.tapes & live
    if not tapes or values.dtype.kind != "f":
        return values

    def per_sample_vjp(g, ans, pred):
        grad = np.asarray(vjp(np.asarray(autodiff.unwrap(g), dtype=values.dtype)))
        return (_unbroadcast(grad, prediction.shape).astype(prediction.dtype, copy=False),)

    return Tensor(values, autodiff.Node(per_sample_vjp, (y_pred,), {}, frozenset(tapes)))


def mean_squared_error(y_true, y_pred):
    """Mean squared error per sample: ``mean(square(y_true - y_pred), axis=-1)``.

    Args:
        y_true: ground truth, shape ``(batch_size, d0, ... dN)``.
        y_pred: predictions, same shape.

    Returns:
        Array of shape ``(batch_size, d0, ... dN-1)``.
    """
    return _per_sample(_mse_impl, y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Mean absolute error per sample: ``mean(abs(y_true - y_pred), axis=-1)``."""
    return _per_sample(_mae_impl, y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)``."""
    return _per_sample(_mape_impl, y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)``."""
    return _per_sample(_msle_impl, y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Huber loss per sample: quadratic for ``|error| <= delta``, linear beyond.

    Args:
        y_true: ground truth.
        y_pred: predictions.
        delta: the threshold where the loss turns from quadratic to linear.
    """
    return _per_sample(_huber_impl, y_true, y_pred, delta=delta)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed stably."""
    return _per_sample(_log_cosh_impl, y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Negative cosine similarity along ``axis``.

    ``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``; 1 means opposite directions.
    """
    return _per_sample(_cosine_similarity_impl, y_true, y_pred, axis=axis)


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis=-1)``.

    Both arguments are clipped to ``[epsilon, 1]`` first.
    """
    return _per_sample(_kl_divergence_impl, y_true, y_pred)


def poisson(y_true, y_pred):
    """Poisson loss ``mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)``."""
    return _per_sample(_poisson_impl, y_true, y_pred)


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; labels in {0, 1} become {-1, 1}."""
    return _per_sample(_hinge_impl, y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``; {0, 1} labels become {-1, 1}."""
    return _per_sample(_squared_hinge_impl, y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """``maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample."""
    return _per_sample(_categorical_hinge_impl, y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Categorical crossentropy per sample between one-hot (or soft) labels and predictions.

    Args:
        y_true: one-hot labels, same shape as ``y_pred``.
        y_pred: probabilities (renormalised to sum to 1 and clipped to
            ``[epsilon, 1 - epsilon]``) or, with ``from_logits=True``, logits.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: in ``[0, 1]``; labels become ``y * (1 - s) + s / num_classes``.
        axis: the class axis.

    Returns:
        The loss with the class axis reduced away.
    """
    return _per_sample(
        _categorical_crossentropy_impl, y_true, y_pred, from_logits, label_smoothing, axis
    )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Categorical crossentropy per sample with integer labels.

    Args:
        y_true: class indices in ``[0, num_classes)``, shape ``y_pred.shape[:-1]`` (a trailing
            axis of size 1 is allowed).
        y_pred: probabilities (clipped to ``[epsilon, 1 - epsilon]``) or logits.
        from_logits: whether ``y_pred`` holds logits.
        ignore_class: a label value whose entries get a loss of 0 (and are masked out of the
            ``Loss`` object's reduction).
        axis: the class axis; only the last axis is supported.
    """
    return _per_sample(
        _sparse_categorical_crossentropy_impl, y_true, y_pred, from_logits, ignore_class, axis
    )


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary crossentropy averaged over ``axis``.

    Args:
        y_true: labels in [0, 1], same shape as ``y_pred``.
        y_pred: probabilities (clipped to ``[epsilon, 1 - epsilon]``) or logits.
        from_logits: whether ``y_pred`` holds logits.
        label_smoothing: labels become ``y * (1 - s) + 0.5 * s``.
        axis: the axis the mean is taken over.
    """
    return _per_sample(
        _binary_crossentropy_impl, y_true, y_pred, from_logits, label_smoothing, axis
    )


# Short names (Keras's legacy aliases).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh

# Loss function -> implementation returning (values, vjp, mask).
_IMPLEMENTATIONS = {
    mean_squared_error: _mse_impl,
    mean_absolute_error: _mae_impl,
    mean_absolute_percentage_error: _mape_impl,
    mean_squared_logarithmic_error: _msle_impl,
    huber: _huber_impl,
    log_cosh: _log_cosh_impl,
    cosine_similarity: _cosine_similarity_impl,
    kl_divergence: _kl_divergence_impl,
    poisson: _poisson_impl,
    hinge: _hinge_impl,
    squared_hinge: _squared_hinge_impl,
    categorical_hinge: _categorical_hinge_impl,
    categorical_crossentropy: _categorical_crossentropy_impl,
    sparse_categorical_crossentropy: _sparse_categorical_crossentropy_impl,
    binary_crossentropy: _binary_crossentropy_impl,
}

_LOGIT_IMPLEMENTATIONS = (
    _categorical_crossentropy_impl,
    _sparse_categorical_crossentropy_impl,
    _binary_crossentropy_impl,
)


def _both_masks(a, b):
    """The AND of two optional boolean masks (``None`` where neither is given)."""
    if a is None:
        return b
    if b is None:
        return a
    return np.logical_and(a, b)


def _recorded(x):
    """``x`` as a recorded Tensor when a live tape tracks it (a Tensor, or a watched Variable or
    array), else ``None``."""
    x = autodiff.tracked_value(x)
    return x if type(x) is Tensor else None


def _keras_logits(y):
    from numpykeras.layers.layer import keras_logits

    return keras_logits(y)


# Crossentropies and the activation Keras's TF backend looks through to find logits.
_LOGIT_LOSSES = {
    categorical_crossentropy: "softmax",
    sparse_categorical_crossentropy: "softmax",
    binary_crossentropy: "sigmoid",
}


# --------------------------------------------------------------------------- reduction


def standardize_reduction(reduction):
    """Check ``reduction`` is one Keras 3 accepts and return it."""
    if reduction not in _REDUCTIONS:
        allowed = "{" + ", ".join(repr(r) for r in _REDUCTIONS) + "}"
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {allowed}. "
            f"Received: reduction={reduction}"
        )
    return reduction


def _mask_to_weights(mask, sample_weight, dtype, reduction):
    """Fold a boolean mask into the sample weights, as Keras's ``apply_mask``."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=bool)
    if reduction in ("mean", "sum_over_batch_size"):
        # Valid entries weigh total/valid so that the mean runs over valid entries only.
        valid = mask.sum()
        ratio = mask.size / valid if valid else 0.0
        float_mask = np.where(mask, _scalar(ratio, dtype), _scalar(0.0, dtype))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_weighted_values(
    values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None
):
    """Weight per-sample loss values and reduce them (Keras 3 semantics).

    Returns:
        ``(loss, d_values)``: the reduced loss (a 0-d array unless nothing is reduced) and
        ``d(sum of loss)/d(values)``, an array of ``values``'s shape.
    """
    reduction = standardize_reduction(reduction)
    dtype = backend.standardize_dtype(dtype)
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = _as_float(sample_weight, dtype)
    weights = _mask_to_weights(mask, sample_weight, dtype, reduction)

    if weights is not None:
        weights = np.asarray(weights, dtype=dtype)
        expanded, weights = squeeze_or_expand_to_same_rank(values, weights)
        try:
            np.broadcast_shapes(expanded.shape, weights.shape)
        except ValueError:
            raise ValueError(
                "Argument `sample_weight` must have a shape that broadcasts to the loss values "
                "(one weight per sample, or per loss entry). Received: sample_weight.shape="
                f"{_shape_str(np.shape(sample_weight))}, loss values shape="
                f"{_shape_str(values.shape)}"
            ) from None
        weighted = expanded * weights
    else:
        weighted = values

    if reduction in (None, "none") or weighted.shape in ((), (0,)):
        loss, scale = weighted, _scalar(1.0, dtype)
    else:
        loss = np.sum(weighted, dtype=dtype)
        scale = _scalar(1.0, dtype)
        if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
            if reduction == "mean_with_sample_weight" and sample_weight is not None:
                divisor = np.sum(weights, dtype=dtype)
            else:
                divisor = _scalar(weighted.size, dtype)
            # divide_no_nan
            loss = loss / divisor if divisor != 0 else _scalar(0.0, dtype)
            scale = 1 / divisor if divisor != 0 else _scalar(0.0, dtype)
    loss = np.asarray(loss, dtype=dtype)

    if weights is None:
        d_values = np.full(values.shape, scale, dtype=dtype)
    else:
        d_weighted = np.broadcast_to(weights * scale, weighted.shape)
        d_values = _unbroadcast(np.ascontiguousarray(d_weighted), values.shape).astype(dtype)
    return loss, d_values


def _reduce_recorded(values, sample_weight, reduction, dtype):
    """``reduce_weighted_values`` written with ops, for loss values recorded on a tape."""
    from numpykeras import ops

    if sample_weight is not None:
        weights = _as_float(sample_weight, dtype)
        rank = len(values.shape)
        while weights.ndim > rank and weights.shape[-1] == 1:
            weights = weights[..., 0]
        weights = np.reshape(weights, weights.shape + (1,) * (rank - weights.ndim))
        values = values * weights
    if reduction in (None, "none"):
        return values
    loss = ops.sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = float(np.sum(np.broadcast_to(weights, values.shape)))
        else:
            divisor = float(np.prod(values.shape))
        loss = loss / np.asarray(divisor, dtype=dtype) if divisor else ops.zeros((), dtype)
    return loss


# --------------------------------------------------------------------------- Loss classes


class Loss:
    """Base class of losses, as ``keras.losses.Loss``.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values. To be trainable
    they also implement ``call_and_vjp(y_true, y_pred)`` returning ``(values, vjp)``, where
    ``vjp(d_values)`` maps the gradient with respect to the values to the gradient with respect
    to ``y_pred``.

    Args:
        name: name of the instance (also the default log key in ``compile``).
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``,
            ``"mean_with_sample_weight"``, ``"none"`` or ``None``.
        dtype: computation dtype, ``floatx()`` by default.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = backend.standardize_dtype(dtype)

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def supports_logits(self) -> bool:
        """Whether :meth:`value_and_grad` uses ``logits=`` (the crossentropies)."""
        return False

    # -- forward -------------------------------------------------------------------------
    def call(self, y_true, y_pred):
        raise NotImplementedError

    def call_and_vjp(self, y_true, y_pred):
        """Per-sample values and their vector-Jacobian product; override to make it trainable."""
        raise ValueError(
            f"The loss {self.name!r} ({type(self).__name__}) has no gradient in numpykeras, so a "
            "model can't be trained with it. Use one of the built-in losses (for example "
            "loss='mse' or keras.losses.mean_squared_error), or subclass `Loss` and implement "
            "`call_and_vjp(y_true, y_pred)` returning `(values, vjp)`."
        )

    def _forward(self, y_true, y_pred, need_grad):
        """``(values, vjp or None, mask or None)`` for already-converted arrays."""
        if need_grad:
            values, vjp = self.call_and_vjp(y_true, y_pred)
            return values, vjp, None
        return self.call(y_true, y_pred), None, None

    def _convert(self, y_true, y_pred):
        return _as_float(y_true, self.dtype), _as_float(y_pred, self.dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss: a ``dtype`` scalar (an array for ``reduction="none"``).

        Under a recording ``GradientTape`` with a recorded ``y_pred`` the loss is recorded too:
        built-in losses as one op with their hand-written gradient, a subclass's ``call``
        written with ``keras.ops`` op by op.
        """
        in_mask = autodiff.get_keras_mask(y_pred)  # an output's mask (Keras's _keras_mask)
        if _tapes.tapes:
            recorded = _recorded(y_pred)
            if recorded is not None or type(y_true) is Tensor:
                y_pred = y_pred if recorded is None else recorded
                return self._recorded_call(y_true, y_pred, sample_weight, in_mask)
        y_true, y_pred = self._convert(y_true, y_pred)
        values, _, mask = self._forward(y_true, y_pred, need_grad=False)
        mask = _both_masks(in_mask, mask)
        loss, _ = reduce_weighted_values(values, sample_weight, mask, self.reduction, self.dtype)
        return loss[()] if loss.ndim == 0 else loss

    def _has_kernel_gradient(self) -> bool:
        return type(self).call_and_vjp is not Loss.call_and_vjp

    def _recorded_call(self, y_true, y_pred, sample_weight, in_mask=None):
        """``__call__`` on a tape. A built-in loss is one recorded op whose gradient with respect
        to ``y_pred`` is its hand-written one (targets are constants: a recorded ``y_true``
        gets no gradient); any other loss runs its ``call`` on the recorded tensors."""
        from numpykeras import ops

        sample_weight = autodiff.unwrap(sample_weight)
        if not self._has_kernel_gradient():
            if type(y_pred) is not Tensor:
                y_pred = _as_float(y_pred, self.dtype)
            elif y_pred.dtype != self.dtype:
                y_pred = ops.cast(y_pred, self.dtype)
            if type(y_true) is not Tensor:
                y_true = _as_float(y_true, self.dtype)
            values = self.call(y_true, y_pred)
            return _reduce_recorded(values, sample_weight, self.reduction, self.dtype)
        true, pred = self._convert(autodiff.unwrap(y_true), autodiff.unwrap(y_pred))
        fusable = _keras_logits(y_pred) if self.supports_logits else None
        if fusable is not None:
            # y_pred came from a final softmax/sigmoid: compute from its logits and
            # differentiate with respect to them, as Keras's TensorFlow backend does.
            logits_tensor, activation = fusable
            logits_tensor = _recorded(logits_tensor)
            logits = self._checked_logits(np.asarray(logits_tensor.value), pred)
            values, vjp, mask = self._forward_logits(true, pred, logits, activation)
            y_pred = logits_tensor
        else:
            values, vjp, mask = self._forward(true, pred, need_grad=True)
        mask = _both_masks(in_mask, mask)
        loss, d_values = reduce_weighted_values(
            values, sample_weight, mask, self.reduction, self.dtype
        )
        if type(y_pred) is not Tensor:
            return loss[()] if loss.ndim == 0 else loss
        live = {t._id for t in _tapes.tapes}
        tapes = y_pred._node.tapes & live
        if not tapes:
            return loss[()] if loss.ndim == 0 else loss
        if y_pred.dtype != self.dtype:
            y_pred = ops.cast(y_pred, self.dtype)

        def loss_vjp(g, ans, prediction):
            g = np.asarray(autodiff.unwrap(g), dtype=self.dtype)
            if g.shape != d_values.shape:
                g = np.reshape(g, g.shape + (1,) * (d_values.ndim - g.ndim))
            return (np.asarray(vjp(g * d_values), dtype=self.dtype),)

        return Tensor(np.asarray(loss), autodiff.Node(loss_vjp, (y_pred,), {}, frozenset(tapes)))

    # -- training ------------------------------------------------------------------------
    def value_and_grad(self, y_true, y_pred, sample_weight=None, logits=None, *, activation=None):
        """The reduced loss and its gradient, for the training loop.

        Args:
            y_true: targets.
            y_pred: the model's predictions.
            sample_weight: optional weights, as in ``__call__``.
            logits: optional pre-activation of a final softmax/sigmoid layer (same shape as
                ``y_pred``). Used only when :attr:`supports_logits` is true; then, as Keras's
                TensorFlow backend does in ``fit``, the loss is computed *from the logits* and
                **the returned gradient is with respect to ``logits``**, so the caller must skip
                that activation's backward pass. For other losses it is ignored.
            activation: ``"softmax"`` or ``"sigmoid"``, the activation that turned ``logits``
                into ``y_pred``. Only needed in the rare cases where Keras itself cannot see
                through the activation (``ignore_class``, or ``y_pred`` squeezed to match
                ``y_true``): the loss is then computed from ``y_pred`` and the gradient is
                chained through this activation so that it is still with respect to
                ``logits``. Defaults to softmax for the categorical losses and sigmoid for
                binary crossentropy.

        Returns:
            ``(loss, grad)``: ``loss`` a ``dtype`` scalar (for ``reduction="none"`` the sum of
            the per-sample losses, which is what differentiating it means); ``grad`` the
            gradient of ``loss`` with respect to ``y_pred`` — or ``logits`` when they were
            used, see above — with that array's shape and ``dtype``.
        """
        y_true, y_pred = self._convert(y_true, y_pred)
        if logits is not None and self.supports_logits:
            logits = self._checked_logits(logits, y_pred)
            values, vjp, mask = self._forward_logits(y_true, y_pred, logits, activation)
        else:
            values, vjp, mask = self._forward(y_true, y_pred, need_grad=True)
        loss, d_values = reduce_weighted_values(
            values, sample_weight, mask, self.reduction, self.dtype
        )
        grad = np.asarray(vjp(d_values), dtype=self.dtype)
        return np.asarray(np.sum(loss), dtype=self.dtype)[()], grad

    def _checked_logits(self, logits, y_pred):
        logits = _as_float(logits, self.dtype)
        if logits.shape != y_pred.shape:
            raise ValueError(
                "Arguments `logits` and `y_pred` must have the same shape. Received: "
                f"logits.shape={_shape_str(logits.shape)}, "
                f"y_pred.shape={_shape_str(y_pred.shape)}"
            )
        return logits

    def call_from_logits(self, y_true, y_pred, logits, activation=None, sample_weight=None):
        """The reduced loss, as ``__call__`` returns it, computed from ``logits`` as
        :meth:`value_and_grad` computes it in training (Keras's TensorFlow backend uses the
        logits of a final softmax/sigmoid in ``evaluate`` as in ``fit``).

        Args:
            y_true: targets.
            y_pred: the predictions, ``activation(logits)``.
            logits: the pre-activation values, ``y_pred``'s shape.
            activation: ``"softmax"`` or ``"sigmoid"`` (see :meth:`value_and_grad`).
            sample_weight: optional weights, as in ``__call__``.

        Returns:
            What ``__call__`` returns; losses that do not use logits (see
            :attr:`supports_logits`) compute from ``y_pred``.
        """
        if not self.supports_logits:
            return self(y_true, y_pred, sample_weight=sample_weight)
        y_true, y_pred = self._convert(y_true, y_pred)
        logits = self._checked_logits(logits, y_pred)
        values, _, mask = self._forward_logits(y_true, y_pred, logits, activation)
        loss, _ = reduce_weighted_values(values, sample_weight, mask, self.reduction, self.dtype)
        return loss[()] if loss.ndim == 0 else loss

    def _forward_logits(self, y_true, y_pred, logits, activation):
        raise NotImplementedError

    # -- config --------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _chain_activation(grad, y_pred, activation):
    """Gradient w.r.t. the logits of ``y_pred = activation(logits)``, given ``d/dy_pred``."""
    if activation == "softmax":
        # dz = p * (dp - sum(dp * p))
        return y_pred * (grad - np.sum(grad * y_pred, axis=-1, keepdims=True))
    if activation == "sigmoid":
        return grad * y_pred * (1 - y_pred)
    raise ValueError(
        f"Argument `activation` must be 'softmax' or 'sigmoid'. Received: activation={activation}"
    )


class LossFunctionWrapper(Loss):
    """Wrap a per-sample loss function ``fn(y_true, y_pred, **kwargs)`` into a :class:`Loss`.

    The built-in loss functions of this module are trainable; any other function can be used
    for evaluation but raises a clear error when a model tries to train with it.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    @property
    def supports_logits(self) -> bool:
        return self.fn in _LOGIT_LOSSES

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def call_and_vjp(self, y_true, y_pred):
        values, vjp, _ = self._forward(y_true, y_pred, need_grad=True)
        return values, vjp

    def _has_kernel_gradient(self) -> bool:
        return self.fn in _IMPLEMENTATIONS

    def _forward(self, y_true, y_pred, need_grad):
        impl = _IMPLEMENTATIONS.get(self.fn)
        shape = y_pred.shape
        true_shape = np.shape(y_true)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if impl is not None and self.fn not in _LOGIT_LOSSES:
            _check_broadcastable(y_true, y_pred, true_shape)
        if impl is None:
            if need_grad:
                Loss.call_and_vjp(self, y_true, y_pred)  # raises the explanatory error
            return self.fn(y_true, y_pred, **self._fn_kwargs), None, None
        values, vjp, mask = impl(y_true, y_pred, **self._fn_kwargs)
        return values, (lambda d: _unbroadcast(vjp(d), shape)), mask

    def _forward_logits(self, y_true, y_pred, logits, activation):
        kwargs = dict(self._fn_kwargs)
        activation = activation or _LOGIT_LOSSES[self.fn]
        squeezed_true, squeezed_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        keras_sees_logits = squeezed_pred.shape == y_pred.shape and (
            kwargs.get("ignore_class") is None
        )
        if not keras_sees_logits:
            # Keras computes this case from the probabilities; chain through the activation.
            values, vjp, mask = self._forward(y_true, y_pred, need_grad=True)
            return (
                values,
                (lambda d: _chain_activation(vjp(d), y_pred, activation)),
                mask,
            )
        if kwargs.get("from_logits"):
            warnings.warn(
                f'"`{self.fn.__name__}` received `from_logits=True`, but the `output` argument '
                f"was produced by a {activation} activation and thus does not represent "
                'logits. Was this intended?"',
                stacklevel=3,
            )
        kwargs["from_logits"] = True
        impl = _IMPLEMENTATIONS[self.fn]
        return impl(squeezed_true, logits, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config["fn"] = serialize(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _BuiltinLoss(LossFunctionWrapper):
    """A Keras loss class: a wrapper of a fixed function whose config is its own arguments."""

    _fn = None
    _config_keys: tuple = ()

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        config = Loss.get_config(self)
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config


class MeanSquaredError(_BuiltinLoss):
    """Mean of squares of errors between labels and predictions."""

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors between labels and predictions."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinLoss):
    """Mean absolute percentage error between labels and predictions."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_absolute_percentage_error",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinLoss):
    """Mean squared logarithmic error between labels and predictions."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_squared_logarithmic_error",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(_BuiltinLoss):
    """Negative cosine similarity between labels and predictions along ``axis``."""

    _fn = staticmethod(cosine_similarity)
    _config_keys = ("axis",)

    def __init__(
        self,
        axis=-1,
        reduction="sum_over_batch_size",
        name="cosine_similarity",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(_BuiltinLoss):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond."""

    _fn = staticmethod(huber)
    _config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(_BuiltinLoss):
    """Logarithm of the hyperbolic cosine of the prediction error."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Hinge(_BuiltinLoss):
    """Hinge loss; labels in {0, 1} are converted to {-1, 1}."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_BuiltinLoss):
    """Squared hinge loss; labels in {0, 1} are converted to {-1, 1}."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinLoss):
    """Categorical hinge loss between one-hot labels and predictions."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_BuiltinLoss):
    """Kullback-Leibler divergence between labels and predictions."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class Poisson(_BuiltinLoss):
    """Poisson loss between labels and predictions."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(_BuiltinLoss):
    """Binary crossentropy between labels in [0, 1] and predicted probabilities (or logits)."""

    _fn = staticmethod(binary_crossentropy)
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(_BuiltinLoss):
    """Crossentropy between one-hot labels and predicted class probabilities (or logits)."""

    _fn = staticmethod(categorical_crossentropy)
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Crossentropy between integer labels and predicted class probabilities (or logits)."""

    _fn = staticmethod(sparse_categorical_crossentropy)
    _config_keys = ("from_logits", "ignore_class")

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )


# --------------------------------------------------------------------------- get / serialize

_ALL_CLASSES = (
    Loss,
    LossFunctionWrapper,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCosh,
    Huber,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _ALL_CLASSES}
ALL_OBJECTS_DICT.update({fn.__name__: fn for fn in _IMPLEMENTATIONS})
ALL_OBJECTS_DICT.update(
    {
        "bce": binary_crossentropy,
        "BCE": binary_crossentropy,
        "kld": kl_divergence,
        "KLD": kl_divergence,
        "mae": mean_absolute_error,
        "MAE": mean_absolute_error,
        "mse": mean_squared_error,
        "MSE": mean_squared_error,
        "mape": mean_absolute_percentage_error,
        "MAPE": mean_absolute_percentage_error,
        "msle": mean_squared_logarithmic_error,
        "MSLE": mean_squared_logarithmic_error,
    }
)


def serialize(loss):
    """Keras 3 config dict of a ``Loss`` instance or a loss function."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        registered = object_registration.get_registered_name(type(loss))
        builtin = type(loss).__name__ in ALL_OBJECTS_DICT and (
            ALL_OBJECTS_DICT[type(loss).__name__] is type(loss)
        )
        return {
            "module": "keras.losses" if builtin else type(loss).__module__,
            "class_name": type(loss).__name__,
            "config": loss.get_config(),
            "registered_name": None if builtin else registered,
        }
    if inspect.isfunction(loss) or callable(loss):
        return {
            "module": "builtins",
            "class_name": "function",
            "config": object_registration.get_registered_name(loss),
            "registered_name": "function",
        }
    raise ValueError(f"Could not serialize loss: {loss}")


def _lookup(name, custom_objects=None):
    return object_registration.get_registered_object(
        name, custom_objects=custom_objects, module_objects=ALL_OBJECTS_DICT
    )


def deserialize(name, custom_objects=None):
    """A ``Loss`` instance or loss function from a config dict or a name."""
    if name is None:
        return None
    if isinstance(name, str):
        obj = _lookup(name, custom_objects)
        if obj is None:
            raise ValueError(f"Could not interpret loss identifier: {name}")
        return obj
    if isinstance(name, dict):
        class_name = name.get("class_name")
        config = name.get("config")
        if class_name == "function":
            obj = _lookup(config, custom_objects)
            if obj is None:
                raise ValueError(
                    f"Could not locate function '{config}'. Make sure custom functions are "
                    "decorated with `@keras.saving.register_keras_serializable()`. "
                    f"Full object config: {name}"
                )
            return obj
        cls = _lookup(name.get("registered_name") or class_name, custom_objects)
        if cls is None and class_name:
            cls = _lookup(class_name, custom_objects)
        if not isinstance(cls, type):
            raise ValueError(
                f"Could not locate class '{class_name}'. Make sure custom classes are decorated "
                f"with `@keras.saving.register_keras_serializable()`. Full object config: {name}"
            )
        return cls.from_config(config or {})
    raise ValueError(f"Could not interpret loss identifier: {name}")


def get(identifier):
    """A loss function or ``Loss`` instance from a name, config dict, class, function or instance.

    Strings name functions (``"mse"``, ``"categorical_crossentropy"``) or classes
    (``"CategoricalCrossentropy"``, instantiated with defaults).
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _lookup(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret loss identifier: {identifier}")


def is_binary_or_sparse_categorical(y_true, y_pred):
    """Keras's compile-time guess from shapes: ``(is_binary, is_sparse_categorical)``."""
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    true_last = true_shape[-1] if true_shape else None
    pred_last = pred_shape[-1] if pred_shape else None
    is_binary = pred_last == 1
    is_sparse = len(true_shape) < len(pred_shape) or (
        true_last == 1 and pred_last is not None and pred_last > 1
    )
    return is_binary, is_sparse


def resolve_loss(identifier, y_true, y_pred):
    """The ``Loss`` object ``compile(loss=identifier)`` uses, as Keras 3's ``get_loss``.

    ``"crossentropy"``/``"ce"`` pick binary, sparse or categorical crossentropy from the shapes
    of ``y_true`` and ``y_pred``; functions are wrapped in :class:`LossFunctionWrapper` named
    after the string the user gave (or the function's name).

    Returns:
        A ``Loss``, or ``None`` when ``identifier`` is ``None``.
    """
    if identifier is None:
        return None
    if str(identifier).lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true, y_pred)
        if is_binary:
            loss_obj = binary_crossentropy
        elif is_sparse:
            loss_obj = sparse_categorical_crossentropy
        else:
            loss_obj = categorical_crossentropy
    else:
        loss_obj = get(identifier)
    if not isinstance(loss_obj, Loss):
        name = identifier if isinstance(identifier, str) else _object_name(loss_obj)
        loss_obj = LossFunctionWrapper(loss_obj, name=name)
    return loss_obj
