"""Keras 3 weight constraints: projections applied to a weight after each optimizer update.

``constraint(w)`` returns the projected array (``w``'s shape and float dtype); the caller assigns
it back to the variable.
"""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.saving.object_registration import (
    deserialize_object,
    serialize_object,
    to_snake_case,
)

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "serialize",
]


def _as_array(w) -> np.ndarray:
    w = np.asarray(w.value if isinstance(w, backend.Variable) else w)
    if not np.issubdtype(w.dtype, np.floating):
        w = w.astype(backend.floatx())
    return w


def _axis(axis):
    """Keras 2 files store multi-axis norms as lists; NumPy wants a tuple."""
    return tuple(axis) if isinstance(axis, list) else axis


def _norms(w: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (the identity here)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales slices whose L2 norm along ``axis`` exceeds ``max_value``.

    ``w * clip(norm, 0, max_value) / (epsilon + norm)``.

    Args:
        max_value: The largest allowed norm.
        axis: Axis (or axes) the norm is taken over; 0 for a Dense kernel's incoming weights,
            ``[0, 1, 2]`` for an HWIO conv kernel.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm along ``axis`` towards ``[min_value, max_value]``.

    ``desired = rate * clip(norm, min_value, max_value) + (1 - rate) * norm`` and
    ``w * desired / (epsilon + norm)``.

    Args:
        min_value: Smallest allowed norm.
        max_value: Largest allowed norm.
        rate: How far to move per application (1.0 projects exactly).
        axis: Axis (or axes) the norm is taken over.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value)
        desired = desired + (1 - self.rate) * norms
        return (w * (desired / (backend.epsilon() + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Clamps negative weights to zero."""

    def __call__(self, w):
        w = _as_array(w)
        return np.maximum(w, 0).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Scales each slice to unit L2 norm along ``axis``: ``w / (epsilon + norm)``.

    Args:
        axis: Axis (or axes) the norm is taken over.
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_array(w)
        return (w / (backend.epsilon() + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


# --------------------------------------------------------------------------- (de)serialization

_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
_OBJECTS = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})  # "max_norm", ...
_OBJECTS.update({"maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm})  # Keras 2 aliases


def serialize(constraint):
    """Keras 3's config dict, e.g. ``{"module": "keras.constraints", "class_name": "MaxNorm",
    "config": {"max_value": 2, "axis": 0}, "registered_name": None}`` (``None`` stays ``None``)."""
    return serialize_object(constraint, "keras.constraints", _OBJECTS)


def deserialize(config, custom_objects=None):
    """A constraint from a Keras 3 or Keras 2 config dict, or a name (``"max_norm"``).

    Raises:
        ValueError: if the class or name is unknown.
    """
    return deserialize_object(config, "constraint", _OBJECTS, custom_objects)


def get(identifier):
    """A constraint from ``None`` (returns ``None``), a name, a dict, a class or a callable.

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
    raise ValueError(f"Could not interpret constraint identifier: {identifier}")
