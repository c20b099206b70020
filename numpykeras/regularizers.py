"""Keras 3 weight regularizers: a penalty added to the loss, and its gradient.

``reg(w)`` returns the penalty as a Python float and ``reg.gradient(w)`` the array
``d penalty / d w`` (shaped and typed like ``w``) that training adds to the weight's gradient.
While a ``GradientTape`` records and ``w`` is tracked by it (a recorded Tensor, a watched
Variable or array), a built-in's ``reg(w)`` is instead a recorded scalar whose gradient is
``reg.gradient``: a subclass whose ``__call__`` scales or adds to ``super().__call__(w)`` is then
differentiated through its ops, as its Keras twin is.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from numpykeras import backend
from numpykeras.ops import autodiff
from numpykeras.saving.object_registration import (
    deserialize_object,
    serialize_object,
    to_snake_case,
)

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "serialize",
]


def _validate_float_arg(value, name: str) -> float:
    """``value`` as a float, if it is a finite non-negative number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value}"
        )
    return float(value)


def _as_array(x) -> np.ndarray:
    x = np.asarray(x.value if isinstance(x, backend.Variable) else x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    return x


@autodiff.primitive
def _recorded_penalty(x, regularizer=None, call=None):
    """``call(regularizer, x)`` (a built-in's NumPy ``__call__``) as a 0-d array of ``x``'s
    float dtype."""
    x = _as_array(x)
    return np.asarray(call(regularizer, x), dtype=x.dtype)


@_recorded_penalty.defvjp
def _recorded_penalty_vjp(g, ans, x, regularizer=None, call=None):
    x = _as_array(autodiff.unwrap(x))
    return (np.asarray(regularizer.gradient(x), dtype=x.dtype) * autodiff.unwrap(g),)


def _recordable(call):
    """Decorates a built-in's NumPy ``__call__``: under a recording ``GradientTape`` the penalty
    goes through ``_recorded_penalty`` (a Tensor where the tape tracks ``x``, with
    ``regularizer.gradient`` as its derivative; a float otherwise)."""

    @functools.wraps(call)
    def wrapper(self, x):
        if not autodiff.is_recording():
            return call(self, x)
        penalty = _recorded_penalty(x, regularizer=self, call=call)
        return penalty if type(penalty) is autodiff.Tensor else float(penalty)

    return wrapper


class Regularizer:
    """Base class: ``__call__(x)`` is the penalty, ``gradient(x)`` its derivative.

    A subclass (as in Keras) writes ``__call__`` with ``keras.ops``, and training differentiates
    it; its ``gradient`` is used instead only where the class that defines it also defines (or
    inherits from the class defining) ``__call__``: a subclass of ``L2`` that overrides only
    ``__call__`` is differentiated through its ops, not given ``L2.gradient``.
    """

    def __call__(self, x) -> float:
        return 0.0

    def gradient(self, x) -> np.ndarray:
        """``d penalty / d x``, shaped and typed like ``x``."""
        return np.zeros_like(_as_array(x))

    def get_config(self) -> dict:
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)``.

    Args:
        l1: Non-negative L1 factor (``None`` means 0).
        l2: Non-negative L2 factor (``None`` means 0).
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = _validate_float_arg(0.0 if l2 is None else l2, name="l2")

    @_recordable
    def __call__(self, x) -> float:
        x = _as_array(x)
        penalty = x.dtype.type(0)
        if self.l1:
            penalty += x.dtype.type(self.l1) * np.sum(np.abs(x))
        if self.l2:
            penalty += x.dtype.type(self.l2) * np.sum(np.square(x))
        return float(penalty)

    def gradient(self, x) -> np.ndarray:
        x = _as_array(x)
        grad = np.zeros_like(x)
        if self.l1:
            grad += self.l1 * np.sign(x)
        if self.l2:
            grad += (2 * self.l2) * x
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Args:
        l1: Non-negative factor (``None`` means 0.01).
    """

    def __init__(self, l1=0.01):
        l1 = _validate_float_arg(0.01 if l1 is None else l1, name="l1")
        self.l1 = float(np.float32(l1))  # Keras 3 keeps this factor as a float32 tensor

    @_recordable
    def __call__(self, x) -> float:
        x = _as_array(x)
        return float(x.dtype.type(self.l1) * np.sum(np.abs(x)))

    def gradient(self, x) -> np.ndarray:
        x = _as_array(x)
        return (self.l1 * np.sign(x)).astype(x.dtype)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x^2)``.

    Args:
        l2: Non-negative factor (``None`` means 0.01).
    """

    def __init__(self, l2=0.01):
        self.l2 = _validate_float_arg(0.01 if l2 is None else l2, name="l2")

    @_recordable
    def __call__(self, x) -> float:
        x = _as_array(x)
        return float(x.dtype.type(self.l2) * np.sum(np.square(x)))

    def gradient(self, x) -> np.ndarray:
        x = _as_array(x)
        return ((2 * self.l2) * x).astype(x.dtype)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalises non-orthogonal rows (or columns) of a 2D weight.

    With ``U`` the rows of ``x`` scaled to unit norm (``mode="rows"``; columns for
    ``"columns"``) and ``P = U U^T`` (``n x n``), the penalty is
    ``factor * 0.5 * sum_{i != j} |P_ij| / (n (n - 1) / 2)``.

    Args:
        factor: Non-negative strength.
        mode: ``"rows"`` or ``"columns"``.
    """

    def __init__(self, factor=0.01, mode="rows"):
        factor = _validate_float_arg(factor, name="factor")
        self.factor = float(np.float32(factor))  # Keras 3 keeps this factor as a float32 tensor
        if mode not in ("rows", "columns"):
            raise ValueError(
                "Invalid value for argument `mode`. Expected one of "
                f'{{"rows", "columns"}}. Received: mode={mode}'
            )
        self.mode = mode

    def _rows(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. "
                f"Received: inputs.shape={x.shape}"
            )
        return x if self.mode == "rows" else x.T

    @staticmethod
    def _normalize(w):
        # inv_norm = min(1 / ||w_i||, 1 / epsilon), as keras.ops.normalize
        sq = np.sum(w * w, axis=1, keepdims=True)  # (n, 1)
        with np.errstate(divide="ignore"):
            inv = np.minimum(1 / np.sqrt(sq), 1 / backend.epsilon())
        return w * inv, inv

    def _coefficient(self, n: int) -> float:
        return self.factor * 0.5 / (n * (n - 1.0) / 2.0)

    @_recordable
    def __call__(self, x) -> float:
        x = _as_array(x)
        w = self._rows(x)  # (n, m)
        u, _ = self._normalize(w)
        p = u @ u.T  # (n, n)
        n = w.shape[0]
        off_diagonal = np.abs(p).sum() - np.abs(np.diag(p)).sum()
        return float(self._coefficient(n) * off_diagonal)

    def gradient(self, x) -> np.ndarray:
        x = _as_array(x)
        w = self._rows(x)  # (n, m)
        n = w.shape[0]
        u, inv = self._normalize(w)
        s = np.sign(u @ u.T)  # d|P|/dP, (n, n), symmetric
        np.fill_diagonal(s, 0)
        g_u = 2 * self._coefficient(n) * (s @ u)  # dL/dU = c (S + S^T) U
        # U = W * inv: project out the radial part where the norm was not clamped by epsilon.
        radial = np.sum(g_u * u, axis=1, keepdims=True) * (inv < 1 / backend.epsilon())
        g_w = inv * (g_u - u * radial)
        g_w = g_w if self.mode == "rows" else g_w.T
        return g_w.astype(x.dtype)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras 3's function-style names: aliases of the classes (``l1_l2(l1=0.01, l2=0.01)`` is an
# ``L1L2``; like the class, and as in Keras 3, its factors default to 0).
l1 = L1
l2 = L2
l1_l2 = L1L2


# --------------------------------------------------------------------------- (de)serialization

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_OBJECTS = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})  # "l1", "l1l2", ...
_OBJECTS["l1_l2"] = L1L2


def serialize(regularizer):
    """Keras 3's config dict, e.g. ``{"module": "keras.regularizers", "class_name": "L2",
    "config": {"l2": 0.01}, "registered_name": None}`` (``None`` stays ``None``)."""
    return serialize_object(regularizer, "keras.regularizers", _OBJECTS)


def deserialize(config, custom_objects=None):
    """A regularizer from a Keras 3 or Keras 2 config dict, or a name (``"l2"``, ``"L1L2"``).

    Raises:
        ValueError: if the class or name is unknown.
    """
    return deserialize_object(config, "regularizer", _OBJECTS, custom_objects)


def get(identifier):
    """A regularizer from ``None`` (returns ``None``), a name, a dict, a class or a callable.

    Raises:
        ValueError: if ``identifier`` cannot be interpreted.
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier}")
