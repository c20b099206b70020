"""Helpers shared by the data adapters: nested structures, batch packing, array conversion,
cardinality checks, class weights and the ``validation_split`` split.

A *structure* is an array (a leaf), ``None``, or a list, tuple or dict of structures, as in
Keras's ``tree`` module; lists and tuples keep their type when mapped, dicts their key order.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from numpykeras import backend

__all__ = [
    "can_convert_arrays",
    "check_data_cardinality",
    "class_weight_to_sample_weights",
    "convert_to_numpy",
    "flatten",
    "is_array_like",
    "list_to_tuple",
    "map_structure",
    "pack_x_y_sample_weight",
    "standardize_batch",
    "train_validation_split",
    "unpack_x_y_sample_weight",
    "validate_class_weight",
]


# --------------------------------------------------------------------------- structures


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def flatten(structure) -> list:
    """The leaves of ``structure`` in order (``None`` leaves included).

    Args:
        structure: an array, ``None``, or a list, tuple or dict of structures.

    Returns:
        A flat list of the leaves.
    """
    if isinstance(structure, (list, tuple)):
        out = []
        for item in structure:
            out.extend(flatten(item))
        return out
    if isinstance(structure, dict):
        out = []
        for value in structure.values():
            out.extend(flatten(value))
        return out
    return [structure]


def map_structure(fn, structure):
    """``structure`` with ``fn`` applied to every leaf that is not ``None``.

    Args:
        fn: a function of one leaf.
        structure: an array, ``None``, or a list, tuple or dict of structures.

    Returns:
        The same structure (same container types, same dict key order) of ``fn``'s results;
        ``None`` leaves stay ``None``.
    """
    if structure is None:
        return None
    if _is_namedtuple(structure):
        return type(structure)(*(map_structure(fn, s) for s in structure))
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def _is_nested(structure) -> bool:
    return isinstance(structure, (list, tuple, dict))


# --------------------------------------------------------------------------- batch tuples


def unpack_x_y_sample_weight(data):
    """Unpacks a batch given as ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    Args:
        data: the batch; a list is read as a tuple.

    Returns:
        ``(x, y, sample_weight)``, with ``None`` for what the batch does not hold.

    Raises:
        ValueError: for a tuple of more than 3 elements.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, "
        f"or `(x, y, sample_weight)`, found: {data}"
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """Packs ``x``, ``y`` and ``sample_weight`` as ``Model.fit`` reads them (Keras's rules).

    Args:
        x: the inputs.
        y: the targets, or ``None``.
        sample_weight: the sample weights, or ``None`` (dropped when ``y`` is ``None``).

    Returns:
        ``x`` itself when ``y`` is ``None`` and ``x`` is not a list or tuple, ``(x,)`` when it
        is one; otherwise ``(x, y)`` or ``(x, y, sample_weight)``.
    """
    if y is None:
        if not isinstance(x, (tuple, list)):
            return x
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def list_to_tuple(maybe_list):
    """A list as a tuple; anything else unchanged."""
    if isinstance(maybe_list, list):
        return tuple(maybe_list)
    return maybe_list


# --------------------------------------------------------------------------- arrays


def _short_repr(value, limit=200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def is_array_like(value) -> bool:
    """Whether ``value`` is a leaf the array adapter slices.

    NumPy arrays, objects with ``__array__`` (pandas objects, TensorFlow, JAX and torch
    tensors) and objects with a ``numpy()`` method count; lists, tuples, dicts, strings, bytes
    and Python numbers do not.
    """
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple, dict, str, bytes, numbers.Number)):
        return False
    return hasattr(value, "__array__") or callable(getattr(value, "numpy", None))


def can_convert_arrays(arrays) -> bool:
    """Whether every leaf of ``arrays`` is array-like or ``None``."""
    return all(leaf is None or is_array_like(leaf) for leaf in flatten(arrays))


def _is_torch_tensor(value) -> bool:
    return any(
        cls.__name__ == "Tensor" and cls.__module__.startswith("torch")
        for cls in type(value).__mro__
    )


def convert_to_numpy(value, dtype=None):
    """One leaf as a NumPy array.

    Tensors are converted with ``numpy()`` (torch tensors are detached and moved to the CPU
    first), other array-likes with ``np.asarray``. With ``dtype`` the array is cast to it;
    without, ``float64`` becomes ``backend.floatx()`` and every other dtype is kept.

    Args:
        value: the leaf, or ``None``.
        dtype: the dtype to cast to, or ``None``.

    Returns:
        The array (``None`` for ``None``); no copy when nothing changes.
    """
    if value is None:
        return None
    if not isinstance(value, np.ndarray):
        if _is_torch_tensor(value):
            value = value.detach().cpu().numpy()
        elif callable(getattr(value, "numpy", None)):
            value = value.numpy()
    array = np.asarray(value)
    if dtype is not None:
        return array.astype(dtype, copy=False)
    if array.dtype == np.float64:
        return array.astype(backend.floatx(), copy=False)
    return array


def _convert_structure(structure, name, dtype=None):
    """``structure`` with every leaf a NumPy array with a batch axis (see
    :func:`convert_to_numpy`); ``name`` is the argument named in errors."""

    def convert(leaf):
        if not is_array_like(leaf):
            hint = ""
            if isinstance(structure, (list, tuple)) and isinstance(leaf, numbers.Number):
                hint = (
                    f" A Python list of numbers is not accepted: pass `np.asarray({name})` "
                    "for one array, or a list of arrays for several inputs or outputs."
                )
            raise ValueError(
                f"Unrecognized data type: {name}={_short_repr(structure)} "
                f"(of type {type(structure)}).{hint}"
            )
        array = convert_to_numpy(leaf, dtype)
        if array.ndim == 0:
            raise ValueError(
                f"Argument `{name}` must be an array with a batch axis (one entry per sample). "
                f"Received a scalar: {name}={_short_repr(structure)} (of type {type(leaf)})"
            )
        return array

    return map_structure(convert, structure)


def standardize_batch(batch, source, class_weight=None):
    """One batch from a generator, a ``PyDataset``, a ``tf.data.Dataset`` or a ``DataLoader`` as
    a tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of NumPy structures.

    A batch that is not a tuple or list (an array, a dict) is ``x`` alone; a list is read as a
    tuple. Sample weights are cast to ``backend.floatx()``.

    Args:
        batch: the batch as produced by the data source.
        source: the data source's description for error messages, e.g. ``"a generator"``.
        class_weight: ``{class index: weight}`` turned into sample weights for a batch
            ``(x, y)``, or ``None``.

    Returns:
        The batch tuple.

    Raises:
        ValueError: for a tuple of the wrong length, a leaf that is not an array, or
            ``class_weight`` with a batch that has sample weights.
    """
    # A list, and a namedtuple, unpack as tuples (as in Keras's unpack_x_y_sample_weight).
    batch = tuple(batch) if isinstance(batch, (list, tuple)) else (batch,)
    if not 1 <= len(batch) <= 3:
        raise ValueError(
            f"Each batch of {source} must be `x`, or a tuple ordered either (inputs,) or "
            "(inputs, targets) or (inputs, targets, sample_weights). "
            f"Received a tuple of {len(batch)} elements: {_short_repr(batch, 100)}"
        )
    names = ("x", "y", "sample_weight")
    out = []
    for i, part in enumerate(batch):
        leaves = flatten(part)
        if any(leaf is not None and not is_array_like(leaf) for leaf in leaves):
            raise ValueError(
                f"Each batch of {source} must hold arrays or tensors. Received a batch whose "
                f"`{names[i]}` is {_short_repr(part, 100)} (of type {type(part)})."
            )
        dtype = backend.floatx() if i == 2 else None
        out.append(map_structure(lambda a, dtype=dtype: convert_to_numpy(a, dtype), part))
    if class_weight is not None:
        if len(out) == 3 and out[2] is not None:
            raise ValueError(
                "You cannot specify `class_weight` and `sample_weight` at the same time."
            )
        if len(out) >= 2 and out[1] is not None:
            out = [out[0], out[1], class_weight_to_sample_weights(out[1], class_weight)]
    return tuple(out)


# --------------------------------------------------------------------------- checks


def check_data_cardinality(data):
    """Checks that every array in ``data`` has the same number of samples.

    Args:
        data: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    Returns:
        The number of samples (0 when there are no arrays).

    Raises:
        ValueError: with Keras's "Data cardinality is ambiguous" message, listing the sizes.
    """
    data = data if isinstance(data, tuple) else (data,)
    sizes = {int(a.shape[0]) for a in flatten(data) if a is not None}
    if len(sizes) > 1:
        msg = (
            "Data cardinality is ambiguous. Make sure all arrays contain the same number of "
            "samples."
        )
        for label, part in zip(("x", "y", "sample_weight"), data):
            part_sizes = [str(a.shape[0]) for a in flatten(part) if a is not None]
            if part_sizes:
                msg += f"'{label}' sizes: {', '.join(part_sizes)}\n"
        raise ValueError(msg)
    return sizes.pop() if sizes else 0


def _class_index(key):
    """A ``class_weight`` key as an int, or ``None`` if it is not an integer."""
    if isinstance(key, (bool, np.bool_)):
        return None
    if isinstance(key, (int, np.integer)):
        return int(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)  # {1.0: w} matches label 1 in Keras's dict lookup too
    return None


def validate_class_weight(class_weight, num_classes=None) -> dict:
    """Checks ``class_weight`` and returns it as ``{int class index: float weight}``.

    Args:
        class_weight: a dict from class indices (ints, or floats with an integer value) to
            finite numbers.
        num_classes: when given, keys must lie in ``[0, num_classes)`` (the model's output
            size; 2 for a single sigmoid unit). Otherwise they must be non-negative.

    Returns:
        The normalized dict.

    Raises:
        TypeError: ``class_weight`` is not a dict, or a value is not a number.
        ValueError: a key is not a valid class index, or a value is not finite.
    """
    if not isinstance(class_weight, dict):
        raise TypeError(
            "Argument `class_weight` must be a dict mapping class indices to weights. "
            f"Received: class_weight={_short_repr(class_weight)} (of type "
            f"{type(class_weight).__name__})"
        )
    upper = math.inf if num_classes is None else num_classes
    bad = [k for k in class_weight if _class_index(k) is None or not 0 <= _class_index(k) < upper]
    if bad:
        if num_classes is None:
            where = "non-negative integers"
        else:
            where = (
                f"integers in [0, {num_classes}) for this model (its output has "
                f"{1 if num_classes == 2 else num_classes} unit(s))"
            )
        raise ValueError(
            f"Invalid `class_weight` key(s) {bad}: keys must be class indices, {where}. "
            f"Received: class_weight={_short_repr(class_weight)}"
        )
    table = {}
    for key, weight in class_weight.items():
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real):
            raise TypeError(
                f"`class_weight` values must be numbers. Received: class_weight[{key!r}]="
                f"{weight!r} (of type {type(weight).__name__})"
            )
        if not math.isfinite(weight):
            raise ValueError(
                f"`class_weight` values must be finite. Received: class_weight[{key!r}]={weight}"
            )
        table[_class_index(key)] = float(weight)
    return table


def class_weight_to_sample_weights(y, class_weight, num_classes=None):
    """One weight per sample from ``class_weight`` (``{class index: weight}``), as Keras.

    The class of a sample is the argmax of a one-hot row (``y`` of shape ``(n, k)``, ``k > 1``)
    or its rounded label otherwise (``(n,)`` or ``(n, 1)``). A class not in ``class_weight``
    (or a label outside the classes) weighs 1.

    Args:
        y: the targets of one output (an array, or a list or tuple holding one).
        class_weight: the dict, checked by :func:`validate_class_weight`.
        num_classes: passed on to :func:`validate_class_weight`.

    Returns:
        A ``backend.floatx()`` array of shape ``(n,)``.

    Raises:
        ValueError: ``y`` holds several outputs, or ``class_weight`` is invalid.
        TypeError: ``class_weight`` is not a dict of numbers.
    """
    if isinstance(y, (list, tuple)) and len(y) == 1:
        y = y[0]
    if _is_nested(y):
        raise ValueError("`class_weight` is only supported for Models with a single output.")
    table = validate_class_weight(class_weight, num_classes)
    y = convert_to_numpy(y)
    if y.ndim == 2 and y.shape[1] > 1:
        classes = np.argmax(y, axis=1)
    else:
        classes = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    weights = np.ones(len(y), dtype=backend.floatx())
    for index, weight in table.items():
        weights[classes == index] = weight
    return weights


# --------------------------------------------------------------------------- validation_split


def train_validation_split(arrays, validation_split):
    """Splits array data into training and validation parts: the last samples validate.

    Args:
        arrays: a structure of arrays or array-likes, for example ``(x, y, sample_weight)``;
            ``None`` leaves stay ``None``.
        validation_split: the fraction of samples to validate on, a float in ``(0, 1)``.

    Returns:
        ``(train_arrays, validation_arrays)``: structures like ``arrays`` of NumPy arrays
        (converted as :func:`convert_to_numpy` does) sliced along the first axis (views).

    Raises:
        ValueError: ``validation_split`` is outside ``(0, 1)``, a leaf is not an array or has
            no batch axis, the arrays disagree on the number of samples, or the split leaves
            no training or no validation sample.
    """
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise ValueError(
            "`validation_split` must be a float between 0 and 1. "
            f"Received: validation_split={validation_split!r}"
        )
    if not 0 < validation_split < 1:
        raise ValueError(
            "`validation_split` must be a float between 0 and 1. "
            f"Received: validation_split={validation_split}"
        )
    leaves = flatten(arrays)
    unsplittable = [type(a) for a in leaves if a is not None and not is_array_like(a)]
    if unsplittable:
        raise ValueError(
            "Argument `validation_split` is only supported for tensors or NumPy arrays. "
            f"Found incompatible type in the input: {unsplittable}"
        )
    arrays = map_structure(convert_to_numpy, arrays)
    if any(a is not None and a.ndim == 0 for a in flatten(arrays)):
        raise ValueError(
            "Argument `validation_split` needs arrays with a batch axis (one entry per "
            "sample); the data holds a scalar."
        )
    n = check_data_cardinality(arrays if isinstance(arrays, tuple) else (arrays,))
    if all(a is None for a in leaves):
        return arrays, arrays
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0:
        raise ValueError(
            f"`validation_split={validation_split}` leaves no training data: "
            f"{n} sample(s) in total, 0 for training. Use a smaller `validation_split`."
        )
    if split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            "validation and training set as specified by "
            f"`validation_split={validation_split}`. Either provide more data, or a "
            "different value for the `validation_split` argument."
        )
    return (
        map_structure(lambda a: a[:split_at], arrays),
        map_structure(lambda a: a[split_at:], arrays),
    )
