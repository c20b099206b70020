"""Keras 3's dtype promotion rules (``keras.backend.result_type``), compactly.

Keras promotes on a lattice adapted from JAX: ``bool < int (weak) < uint8/int8 < ... < int64 <
float (weak) < float16 < float32 < float64``. Python scalars are *weak*: ``float32 * 2.0`` stays
float32 and ``int8 + 1`` stays int8, while an int array meets a Python float in floatx. An int64
array with a float32 one gives float32 (the lattice puts every int below every float). These are
the TensorFlow backend's rules (int64 and float64 are kept), which the conformance tests compare
against.
"""

from __future__ import annotations

import functools

import numpy as np

from numpykeras import backend

# each dtype -> the dtypes directly above it on the promotion lattice ("int"/"float" are weak)
_LATTICE = {
    "bool": ("int",),
    "int": ("uint8", "int8", "complex64"),
    "uint8": ("int16", "uint16"),
    "uint16": ("int32", "uint32"),
    "uint32": ("int64", "uint64"),
    "uint64": ("float",),
    "int8": ("int16",),
    "int16": ("int32",),
    "int32": ("int64",),
    "int64": ("float",),
    "float": ("float16", "bfloat16"),
    "bfloat16": ("float32",),
    "float16": ("float32",),
    "float32": ("float64", "complex64"),
    "float64": ("complex128",),
    "complex64": ("complex128",),
    "complex128": (),
}


def _upper_bounds():
    bounds = {}
    for node in _LATTICE:
        seen, todo = {node}, [node]
        while todo:
            for above in _LATTICE[todo.pop()]:
                if above not in seen:
                    seen.add(above)
                    todo.append(above)
        bounds[node] = frozenset(seen)
    return bounds


_UPPER = _upper_bounds()


@functools.lru_cache(512)
def _least_upper_bound(nodes: frozenset) -> str:
    common = frozenset.intersection(*(_UPPER[n] for n in nodes))
    least = [c for c in common if common <= _UPPER[c]]
    if len(least) != 1:
        raise ValueError(
            f"Input dtypes {tuple(sorted(nodes))} have no available implicit dtype promotion "
            "path. Try explicitly casting inputs to the desired output type."
        )
    return least[0]


_NAMES: dict = {}  # dtype-like -> Keras name, filled on first use (np.dtype.name is slow)


def standardize_dtype(dtype) -> str:
    """The dtype's name as Keras spells it (``"float32"``); ``None`` gives floatx.

    Python ``int``/``float``/``bool`` map to int32/float32/bool, like ``convert_to_tensor``.
    """
    if dtype is None:
        return backend.floatx()
    if dtype is int or dtype is float or dtype is bool:  # before the table: np.float64 == float
        return _standardize(dtype)
    try:
        return _NAMES[dtype]
    except (KeyError, TypeError):  # TypeError: an unhashable dtype-like
        pass
    name = _standardize(dtype)
    try:
        _NAMES[dtype] = name
    except TypeError:
        pass
    return name


def _standardize(dtype) -> str:
    if dtype is int:
        return "int32"
    if dtype is float:
        return "float32"
    if dtype is bool:
        return "bool"
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name
    if not isinstance(dtype, str):
        dtype = np.dtype(dtype).name
    if dtype == "bfloat16":
        raise ValueError("dtype='bfloat16' is not supported by NumPy.")
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}") from None


def _node(dtype) -> str:
    """A lattice node for a dtype or a Python scalar type (weak)."""
    if dtype is bool:
        return "bool"
    if dtype is int:
        return "int"
    if dtype is float:
        return "float"
    if dtype is complex:
        return "complex128"
    return standardize_dtype(dtype)


def result_type(*dtypes) -> str:
    """The dtype of an operation on values of ``dtypes`` under Keras's promotion rules.

    Args:
        *dtypes: dtype names, NumPy dtypes, or the Python types ``bool``/``int``/``float`` for
            Python scalars (weakly typed). ``None`` stands for floatx.

    Returns:
        A dtype name such as ``"float32"``.
    """
    try:
        return _result_type(backend.floatx(), dtypes)
    except TypeError:  # an unhashable dtype-like: no caching
        return _result_type.__wrapped__(backend.floatx(), dtypes)


@functools.lru_cache(1024)
def _result_type(floatx, dtypes) -> str:
    if not dtypes:
        return floatx
    nodes = frozenset(_node(floatx if d is None else d) for d in dtypes)
    out = next(iter(nodes)) if len(nodes) == 1 else _least_upper_bound(nodes)
    if out == "int":
        return "int32"
    if out == "float":
        return floatx
    return out


def dtype_of(x):
    """The lattice entry of a value: a dtype name, or the Python type of a Python scalar."""
    if isinstance(x, bool):
        return bool
    if isinstance(x, int):
        return int
    if isinstance(x, float):
        return float
    if isinstance(x, complex):
        return complex
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return standardize_dtype(np.asarray(x).dtype)
    return dtype if isinstance(dtype, str) else standardize_dtype(dtype)


def is_float(dtype) -> bool:
    """True for floating dtypes (the differentiable ones)."""
    return "float" in standardize_dtype(dtype)
