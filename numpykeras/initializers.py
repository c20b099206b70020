"""Keras 3 weight initializers, as NumPy arrays.

An initializer is called as ``init(shape, dtype=None)`` and returns an ``np.ndarray`` of ``dtype``
(floatx by default). Random initializers take a ``seed``: an int gives the same values on every call
(Keras 3's stateless behaviour); ``None`` draws from :func:`numpykeras.backend.global_generator`, so
``utils.set_random_seed`` makes a whole model reproducible.

Names resolve as in ``keras.initializers``: class names (``"GlorotUniform"``), their snake-case
forms (``"glorot_uniform"``) and Keras's legacy aliases (``"zero"``, ``"one"``, ``"normal"``,
``"uniform"``).
"""

from __future__ import annotations

import math

import numpy as np

from numpykeras import backend
from numpykeras.saving.object_registration import (
    deserialize_object,
    serialize_object,
    to_snake_case,
)

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

# stddev of a standard normal truncated to [-2, 2]: dividing by it restores the target stddev.
_TRUNCATED_STDDEV = 0.87962566103423978


def _standardize_shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"Cannot convert '{shape}' to a shape.") from None
    for dim in shape:
        if dim is None or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(
                "An initializer needs a fully defined shape of non-negative integers. "
                f"Received: shape={shape}"
            )
    return tuple(int(d) for d in shape)


def _float_dtype(dtype) -> str:
    dtype = backend.standardize_dtype(dtype)
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(
            f"Random initializers only produce floating-point values. Received: dtype={dtype}"
        )
    return dtype


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config()``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- constants


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(_standardize_shape(shape), dtype=backend.standardize_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(_standardize_shape(shape), dtype=backend.standardize_dtype(dtype))


def _plain_value(value):
    """A JSON-friendly form of a constant (arrays become nested lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Constant(Initializer):
    """Every element equals ``value`` (a scalar, or an array that broadcasts to the shape).

    Args:
        value: The constant.
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = backend.standardize_dtype(dtype)
        shape = _standardize_shape(shape)
        value = np.asarray(self.value, dtype=dtype)
        try:
            return np.array(np.broadcast_to(value, shape), dtype=dtype)
        except ValueError:
            raise ValueError(
                f"The value of `Constant` with shape {value.shape} cannot be broadcast to the "
                f"requested shape {shape}."
            ) from None

    def get_config(self):
        return {"value": _plain_value(self.value)}

    @classmethod
    def from_config(cls, config):
        value = config.get("value", 0.0)
        if isinstance(value, dict):  # Keras's {"class_name": "__numpy__", "config": {"value": ...}}
            value = value.get("config", {}).get("value", value)
        return cls(value)


class Identity(Initializer):
    """``gain`` times the identity matrix (2D shapes only; rectangular allowed).

    Args:
        gain: Multiplier of the identity.
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _standardize_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = backend.standardize_dtype(dtype)
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        # Keras 3 returns {} here (dropping the gain); keeping it makes the round trip exact.
        return {"gain": self.gain}


# --------------------------------------------------------------------------- random


class RandomInitializer(Initializer):
    """Base of the seeded initializers.

    Args:
        seed: ``None`` (draw from the global generator), an int (same values on every call), or
            an ``np.random.Generator`` (its stream is consumed).
    """

    def __init__(self, seed=None):
        if isinstance(seed, dict):  # a serialized Keras SeedGenerator: {"config": {"seed": 1}}
            seed = seed.get("config", {}).get("seed")
        if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)):
            raise ValueError(
                "`seed` argument should be an integer, an `np.random.Generator` or None. "
                f"Received: seed={seed}"
            )
        self.seed = int(seed) if isinstance(seed, np.integer) else seed

    def _generator(self) -> np.random.Generator:
        # A fresh generator per call for int seeds: the same seed gives the same values.
        return backend.make_generator(self.seed)

    def _normal(self, shape, mean, stddev, dtype):
        z = self._generator().standard_normal(shape, dtype=_draw_dtype(dtype))
        z *= stddev
        z += mean
        return z.astype(dtype, copy=False)

    def _truncated_normal(self, shape, mean, stddev, dtype):
        """Normal draws with every value beyond 2 stddev redrawn, as TensorFlow does."""
        rng = self._generator()
        draw = _draw_dtype(dtype)
        z = rng.standard_normal(shape, dtype=draw)
        outside = np.abs(z) > 2.0
        while outside.any():
            z[outside] = rng.standard_normal(int(outside.sum()), dtype=draw)
            outside = np.abs(z) > 2.0
        z *= stddev
        z += mean
        return z.astype(dtype, copy=False)

    def _uniform(self, shape, minval, maxval, dtype):
        # Drawn directly in float32 for float32 weights: no float64 copy of a large kernel.
        u = self._generator().random(shape, dtype=_draw_dtype(dtype))
        u *= maxval - minval
        u += minval
        return u.astype(dtype, copy=False)

    def get_config(self):
        seed = self.seed if not isinstance(self.seed, np.random.Generator) else None
        return {"seed": seed}


def _draw_dtype(dtype):
    """The dtype NumPy's generator draws in: float32 for float32 (and smaller) weights."""
    return np.float64 if np.dtype(dtype).itemsize > 4 else np.float32


class RandomNormal(RandomInitializer):
    """Normal draws with ``mean`` and ``stddev``.

    Args:
        mean: Mean of the distribution.
        stddev: Standard deviation.
        seed: See :class:`RandomInitializer`.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _float_dtype(dtype)
        return self._normal(shape, self.mean, self.stddev, dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws with values further than 2 ``stddev`` from ``mean`` redrawn.

    Args:
        mean: Mean of the (untruncated) distribution.
        stddev: Standard deviation of the (untruncated) distribution.
        seed: See :class:`RandomInitializer`.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _float_dtype(dtype)
        return self._truncated_normal(shape, self.mean, self.stddev, dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)``.

    Args:
        minval: Lower bound.
        maxval: Upper bound.
        seed: See :class:`RandomInitializer`.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _float_dtype(dtype)
        return self._uniform(shape, self.minval, self.maxval, dtype)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    Dense ``(in, out)`` gives ``(in, out)``; a conv kernel ``(*spatial, in, out)`` (HWIO) gives
    ``(in * prod(spatial), out * prod(spatial))``; a vector gives its length twice; a scalar 1.
    Explicit ``input_axes`` / ``output_axes`` multiply those dimensions instead.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[axis] for axis in input_axes)
        fan_out = math.prod(shape[axis] for axis in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


class VarianceScaling(RandomInitializer):
    """Draws scaled to the weight's fans: variance ``scale / n``.

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``mode``). ``"truncated_normal"`` uses stddev
    ``sqrt(scale / n) / 0.8796...`` (so the truncated draws have the intended variance),
    ``"untruncated_normal"`` stddev ``sqrt(scale / n)``, and ``"uniform"`` the range
    ``[-sqrt(3 scale / n), sqrt(3 scale / n)]``.

    Args:
        scale: Positive scaling factor.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (``"normal"`` is an alias), ``"untruncated_normal"``
            or ``"uniform"``.
        seed: See :class:`RandomInitializer`.
        input_axes: Optional axes whose sizes multiply to ``fan_in`` (with ``output_axes``).
        output_axes: Optional axes whose sizes multiply to ``fan_out``.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        if not isinstance(scale, (int, float, np.number)) or scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        allowed_modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in allowed_modes:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Expected one of {set(allowed_modes)}."
            )
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        allowed_distributions = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in allowed_distributions:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. "
                f"Expected one of {set(allowed_distributions)}."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def _variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        if self.mode == "fan_in":
            n = fan_in
        elif self.mode == "fan_out":
            n = fan_out
        else:
            n = (fan_in + fan_out) / 2.0
        return self.scale / max(1.0, n)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _float_dtype(dtype)
        variance = self._variance(shape)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
            return self._truncated_normal(shape, 0.0, stddev, dtype)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, 0.0, math.sqrt(variance), dtype)
        limit = math.sqrt(3.0 * variance)
        return self._uniform(shape, -limit, limit, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset: only ``seed`` and the optional fan axes are arguments."""

    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(
            scale=self._scale,
            mode=self._mode,
            distribution=self._distribution,
            seed=seed,
            input_axes=input_axes,
            output_axes=output_axes,
        )

    def get_config(self):
        return {
            "seed": RandomInitializer.get_config(self)["seed"],
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    _mode, _distribution = "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))`` (before truncation)."""

    _mode, _distribution = "fan_avg", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    _mode, _distribution = "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(1 / fan_in)`` (before truncation)."""

    _mode, _distribution = "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / fan_in)`` (before truncation)."""

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; the Q factor of a normal matrix's
    QR decomposition (signs fixed by ``diag(R)`` so it is uniformly distributed) fills it, with
    orthonormal columns when rows >= columns and orthonormal rows otherwise.

    Args:
        gain: Multiplier of the orthogonal matrix.
        seed: See :class:`RandomInitializer`.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _float_dtype(dtype)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        num_rows = math.prod(shape[:-1])
        num_cols = shape[-1]
        a = self._generator().standard_normal((max(num_rows, num_cols), min(num_rows, num_cols)))
        q, r = np.linalg.qr(a)  # q: (max, min) with orthonormal columns
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # make the distribution uniform
        if num_rows < num_cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# --------------------------------------------------------------------------- (de)serialization


_CLASSES = (
    Constant,
    Identity,
    Ones,
    Zeros,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)
_OBJECTS = {cls.__name__: cls for cls in _CLASSES}
_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_OBJECTS.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)


def serialize(initializer):
    """Keras 3's config dict for an initializer, e.g.
    ``{"module": "keras.initializers", "class_name": "GlorotUniform",
    "config": {"seed": None, "input_axes": None, "output_axes": None}, "registered_name": None}``.
    """
    return serialize_object(initializer, "keras.initializers", _OBJECTS)


def deserialize(config, custom_objects=None):
    """An initializer from a Keras 3 dict, a Keras 2 ``{"class_name", "config"}`` dict or a name.

    Raises:
        ValueError: if the class or name is unknown.
    """
    return deserialize_object(config, "initializer", _OBJECTS, custom_objects)


def get(identifier):
    """An initializer from ``identifier``.

    Args:
        identifier: ``None`` (returns ``None``), a name (``"glorot_uniform"``), a config dict, an
            initializer class (instantiated with defaults), a callable ``fn(shape, dtype=None)``
            (returned as is), or an array whose value is used for a weight of its shape.

    Returns:
        A callable ``init(shape, dtype=None)``, or ``None``.

    Raises:
        ValueError: if ``identifier`` cannot be interpreted.
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, (np.ndarray, np.generic)):
        array = identifier

        def initialize_fn(shape, dtype=None):
            if _standardize_shape(shape) != array.shape:
                raise ValueError(
                    f"Expected `shape` to be {array.shape} for direct tensor as initializer. "
                    f"Received shape={shape}"
                )
            return np.array(array, dtype=backend.standardize_dtype(dtype))

        return initialize_fn
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")
