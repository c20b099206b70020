"""``ArrayDataAdapter``: batches of NumPy arrays and array-likes (pandas objects, tensors,
anything with ``__array__``), nested in lists, tuples and dicts.

Shuffling draws from ``backend.global_generator()`` (reseeded by ``utils.set_random_seed``):
``shuffle=True`` draws one ``permutation(num_samples)`` per pass, when the pass's first batch
is taken, and batch ``i`` is ``permutation[i * batch_size:(i + 1) * batch_size]``;
``shuffle="batch"`` keeps the batches in order and draws ``permutation(len(batch))`` for each
batch as it is taken.
"""

from __future__ import annotations

import math

import numpy as np

from numpykeras import backend
from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter


class ArrayDataAdapter(DataAdapter):
    """Adapter for arrays and nested structures of arrays.

    Args:
        x: the inputs: an array-like, or a list, tuple or dict of them.
        y: the targets, the same way, or ``None``.
        sample_weight: the sample weights, the same way, or ``None``; cast to
            ``backend.floatx()``.
        batch_size: samples per batch; by default ``ceil(num_samples / steps)`` when
            ``steps`` is given, else 32 (as Keras).
        steps: the number of steps per epoch, used only for the default ``batch_size``.
        shuffle: ``True`` (shuffle the samples every pass), ``False``, or ``"batch"``
            (shuffle within each batch).
        class_weight: ``{class index: weight}``, turned into sample weights from ``y``.

    Raises:
        ValueError: a leaf is not an array, an array has no batch axis, the arrays disagree
            on the number of samples, ``x`` holds no array, ``class_weight`` is given with
            ``sample_weight`` or with several outputs, or ``batch_size``/``steps``/``shuffle``
            are invalid.
        TypeError: ``batch_size`` or ``steps`` is not an integer, ``class_weight`` not a dict.
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=None,
        steps=None,
        shuffle=False,
        class_weight=None,
    ):
        batch_size = _optional_positive_int(batch_size, "batch_size")
        steps = _optional_positive_int(steps, "steps")
        if not (isinstance(shuffle, bool) or shuffle == "batch" or shuffle is None):
            if isinstance(shuffle, str):
                raise ValueError(
                    "Argument `shuffle` must be True, False or 'batch'. "
                    f"Received: shuffle={shuffle!r}"
                )
            shuffle = bool(shuffle)
        x = data_adapter_utils._convert_structure(x, "x")
        y = data_adapter_utils._convert_structure(y, "y")
        sample_weight = data_adapter_utils._convert_structure(
            sample_weight, "sample_weight", backend.floatx()
        )
        if all(a is None for a in data_adapter_utils.flatten(x)):
            raise ValueError(f"Received no input data: x={x!r}.")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            if y is None:
                raise ValueError(
                    "`class_weight` needs targets: `y` must be given with `class_weight`."
                )
            sample_weight = data_adapter_utils.class_weight_to_sample_weights(y, class_weight)
        self._x, self._y, self._sample_weight = x, y, sample_weight
        data = (x,) if y is None and sample_weight is None else (x, y, sample_weight)
        self._num_samples = data_adapter_utils.check_data_cardinality(data)
        if not batch_size:
            batch_size = int(math.ceil(self._num_samples / steps)) if steps else 32
            batch_size = max(batch_size, 1)
        self._batch_size = batch_size
        self._size = int(math.ceil(self._num_samples / batch_size))
        self._partial_batch_size = self._num_samples % batch_size
        self._shuffle = shuffle or False

    @property
    def arrays(self):
        """``(x, y, sample_weight)`` as NumPy structures (``sample_weight`` includes the
        weights made from ``class_weight``)."""
        return self._x, self._y, self._sample_weight

    @property
    def num_samples(self):
        """The number of samples."""
        return self._num_samples

    def _pack(self, take):
        x = data_adapter_utils.map_structure(take, self._x)
        if self._y is None and self._sample_weight is None:
            return (x,)
        y = data_adapter_utils.map_structure(take, self._y)
        if self._sample_weight is None:
            return (x, y)
        return (x, y, data_adapter_utils.map_structure(take, self._sample_weight))

    def get_numpy_iterator(self):
        """A new pass over the data; see the module docstring for the random draws."""
        n, batch_size, shuffle = self._num_samples, self._batch_size, self._shuffle
        order = None
        if shuffle and shuffle != "batch":
            order = backend.global_generator().permutation(n)
        for i in range(self._size):
            start = i * batch_size
            stop = min(start + batch_size, n)
            if shuffle == "batch":
                index = backend.global_generator().permutation(stop - start) + start
            elif order is not None:
                index = order[start:stop]
            else:
                index = slice(start, stop)
            yield self._pack(lambda a, index=index: a[index])

    def first_batch(self):
        """The first ``batch_size`` samples, in order (no random draw)."""
        return self._pack(lambda a: a[: self._batch_size])

    @property
    def num_batches(self):
        return self._size

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def has_partial_batch(self):
        return self._partial_batch_size > 0

    @property
    def partial_batch_size(self):
        return self._partial_batch_size or None


def _optional_positive_int(value, name):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise TypeError(
            f"Argument `{name}` must be a positive integer (or None). Received: {name}="
            f"{value!r} (of type {type(value).__name__})"
        )
    value = int(value.__index__())
    if value < 1:
        raise ValueError(
            f"Argument `{name}` must be a positive integer (or None). Received: {name}={value}"
        )
    return value
