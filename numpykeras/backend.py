"""Numerical settings, variables and the random state shared by numpykeras.

Everything is NumPy: a weight is a :class:`Variable` wrapping a float32 ``np.ndarray``.
"""

from __future__ import annotations

import copy
import threading

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx() -> str:
    """The default float type, ``"float32"`` as in Keras."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(
            f"Unknown `floatx` value: {value}. Expected one of {{'float16', 'float32', 'float64'}}"
        )
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor used in numeric expressions, ``1e-7`` as in Keras."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def standardize_dtype(dtype) -> str:
    """Return a NumPy dtype name for ``dtype`` (``None`` means floatx).

    Accepts strings, NumPy dtypes and Keras's DTypePolicy config dicts.
    """
    if dtype is None:
        return floatx()
    if isinstance(dtype, dict):  # {"class_name": "DTypePolicy", "config": {"name": "float32"}}
        dtype = dtype.get("config", {}).get("name", floatx())
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name
    dtype = str(dtype)
    if dtype.startswith("mixed_"):
        return floatx()
    return np.dtype(dtype).name


# --------------------------------------------------------------------------- random state


class _RandomState(threading.local):
    def __init__(self):
        self.generator = np.random.default_rng()


_random = _RandomState()
_global_lock = threading.Lock()


def set_seed(seed: int) -> None:
    """Reseed the global generator that initializers, shuffling and dropout draw from."""
    _random.generator = np.random.default_rng(seed)


def global_generator() -> np.random.Generator:
    return _random.generator


def get_random_state() -> dict:
    """The state of the global generator, as a dict ``set_random_state`` takes back.

    It is NumPy's ``bit_generator.state`` (a copy): restoring it makes the global generator
    repeat exactly the draws (initializers, shuffling, dropout) it made after this call.
    """
    return copy.deepcopy(_random.generator.bit_generator.state)


def set_random_state(state) -> None:
    """Put the global generator back in ``state`` (from :func:`get_random_state`).

    The generator object is kept (its state is set in place) when ``state`` is of its kind of
    bit generator, so references to it stay valid; otherwise a new generator replaces it.

    Raises:
        TypeError: ``state`` is not a dict.
        ValueError: ``state`` is not a NumPy bit generator state.
    """
    if not isinstance(state, dict):
        raise TypeError(
            f"The random state must be a dict from `get_random_state()`. Received: {type(state)}"
        )
    kind = state.get("bit_generator")
    bit_generator = _random.generator.bit_generator
    try:
        if type(bit_generator).__name__ != kind:
            cls = getattr(np.random, str(kind), None)
            if not (isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)):
                raise ValueError(f"unknown bit generator {kind!r}")
            bit_generator = cls()
            bit_generator.state = state
            _random.generator = np.random.Generator(bit_generator)
        else:
            bit_generator.state = state
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"Invalid random state: {e}. Received: {state!r}") from None


def make_generator(seed=None) -> np.random.Generator:
    """A generator for ``seed``: its own stream for an int, the global one for ``None``."""
    if seed is None:
        return global_generator()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- variables


class ArrayProperties:
    """``shape``, ``dtype`` (a name, as Keras gives it), ``ndim`` and ``size`` of an object
    holding its array in ``_value`` (variables and recorded tensors)."""

    __slots__ = ()

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self) -> str:
        return self._value.dtype.name

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size


class Variable(ArrayProperties):
    """A named, mutable weight: a NumPy array plus the metadata Keras keeps with it.

    Attributes:
        name: short name, e.g. ``"kernel"``.
        path: the full path Keras would give it, e.g. ``"sequential/conv2d/kernel"``.
        trainable: whether optimizers update it.
    """

    # True for a placeholder made while a loader builds the model (``skip_initializers``): the
    # first loaded value replaces its array (``_adopt``) instead of being copied into it
    _adopt_on_load = False

    def __init__(self, value, name="variable", trainable=True, dtype=None, path=None, copy=True):
        # copy=False adopts `value` when it already has the dtype (the caller gives it up)
        dtype = standardize_dtype(dtype)
        self._value = np.array(value, dtype=dtype) if copy else np.asarray(value, dtype=dtype)
        self.name = name
        self.path = path or name
        self.trainable = bool(trainable)

    # -- value access -------------------------------------------------------------------
    @property
    def value(self) -> np.ndarray:
        return self._value

    def numpy(self) -> np.ndarray:
        """A copy of the value, so callers can't change the weight by accident."""
        return self._value.copy()

    def assign(self, value) -> Variable:
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                "The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={self._value.shape}, "
                f"Received: value.shape={value.shape}. Target variable: {self!r}"
            )
        self._value[...] = value
        return self

    def _adopt(self, value) -> None:
        """Take ``value`` (of this variable's shape) as the value array itself, without a copy
        when it is already a C-contiguous, writeable array of the dtype that owns its memory
        (as arrays just read from a file are). For loaders only: nothing may keep ``value``."""
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Cannot adopt a value of shape {value.shape} for {self!r}: the shapes differ."
            )
        if not (
            value.dtype == self._value.dtype
            and value.flags.c_contiguous
            and value.flags.writeable
            and value.flags.owndata
        ):
            value = np.array(value, dtype=self._value.dtype)
        self._value = value
        self._adopt_on_load = False

    def assign_add(self, delta) -> Variable:
        self._value += np.asarray(delta, dtype=self._value.dtype)
        return self

    def assign_sub(self, delta) -> Variable:
        self._value -= np.asarray(delta, dtype=self._value.dtype)
        return self

    # -- array protocol -----------------------------------------------------------------

    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self._value if not copy else self._value.copy()
        return self._value.astype(dtype)

    def __len__(self):
        return len(self._value)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def to_float_array(x, dtype=None) -> np.ndarray:
    """Convert ``x`` to an ndarray of floatx (or ``dtype``) without copying when possible."""
    dtype = standardize_dtype(dtype)
    if isinstance(x, Variable):
        x = x.value
    return np.asarray(x, dtype=dtype)


# --------------------------------------------------------------------------- variable operators


def _variable_operator(op_name, reflected=False):
    def method(self, other):
        from numpykeras.ops import numpy as numpy_ops  # ops import this module

        op = getattr(numpy_ops, op_name)
        return op(other, self) if reflected else op(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{op_name}__"
    return method


def _variable_unary(op_name):
    def method(self, *args):
        from numpykeras.ops import numpy as numpy_ops

        return getattr(numpy_ops, op_name)(self, *args)

    method.__name__ = f"__{op_name}__"
    return method


# Arithmetic on a Variable runs the ops (and records under a GradientTape), like tf.Variable.
# `==`, `!=` and hashing stay by identity: variables are dict keys throughout the code base.
# `__array_priority__` makes `ndarray + variable` defer to the variable's reflected operator.
for _dunder, _op in (
    ("add", "add"),
    ("sub", "subtract"),
    ("mul", "multiply"),
    ("truediv", "divide"),
    ("floordiv", "floor_divide"),
    ("mod", "mod"),
    ("pow", "power"),
    ("matmul", "matmul"),
):
    setattr(Variable, f"__{_dunder}__", _variable_operator(_op))
    setattr(Variable, f"__r{_dunder}__", _variable_operator(_op, reflected=True))
for _dunder, _op in (
    ("lt", "less"),
    ("le", "less_equal"),
    ("gt", "greater"),
    ("ge", "greater_equal"),
):
    setattr(Variable, f"__{_dunder}__", _variable_operator(_op))
Variable.__neg__ = _variable_unary("negative")
Variable.__abs__ = _variable_unary("abs")
Variable.__getitem__ = _variable_unary("get_item")
Variable.__pos__ = lambda self: self
Variable.__array_priority__ = 1000
del _dunder, _op


# --------------------------------------------------------------------------- session state


def clear_session(free_memory=True) -> None:
    """Reset the global state numpykeras keeps between models, as ``keras.backend.clear_session``.

    The automatic names start again (the next ``Dense`` is ``"dense"``, the next model
    ``"sequential"`` or ``"functional"``; losses, metrics, optimizers and seed generators too),
    and ``utils.get_random_seed()`` returns None until ``utils.set_random_seed`` is called again.
    The global random generator keeps its state (so a seeded program stays reproducible), and so
    do ``floatx()`` and ``epsilon()``, as in Keras.

    Example:

    >>> layers = [keras.layers.Dense(10) for _ in range(10)]
    >>> keras.layers.Dense(10).name
    'dense_10'
    >>> keras.backend.clear_session()
    >>> keras.layers.Dense(10).name
    'dense'

    Args:
        free_memory: whether to run Python's garbage collector afterwards, releasing old models
            at once (it can take a moment: pass False inside a short loop).
    """
    import gc
    import itertools
    import sys

    # Only modules already imported hold counters; the others start from zero anyway.
    modules = sys.modules
    if "numpykeras.layers.layer" in modules:
        modules["numpykeras.layers.layer"].clear_session()  # layers and models
    if "numpykeras.losses" in modules:
        modules["numpykeras.losses"]._NAME_UIDS.clear()  # losses and metrics
    if "numpykeras.optimizers.optimizer" in modules:
        optimizer = modules["numpykeras.optimizers.optimizer"]
        with optimizer._name_lock:
            optimizer._name_uids.clear()
    if "numpykeras.random.seed_generator" in modules:
        modules["numpykeras.random.seed_generator"]._names = itertools.count()
    if "numpykeras.utils.rng_utils" in modules:
        modules["numpykeras.utils.rng_utils"]._GLOBAL_RANDOM_SEED = None
    if free_memory:
        gc.collect()
