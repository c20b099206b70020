"""Label and array helpers: ``to_categorical`` and ``normalize``, as in ``keras.utils``."""

from __future__ import annotations

import numpy as np

__all__ = ["normalize", "to_categorical"]


def to_categorical(x, num_classes=None):
    """Convert a class vector (integers) to a one-hot matrix.

    As in Keras, a trailing axis of size 1 is dropped first, so labels of shape ``(N, 1)`` give
    ``(N, num_classes)``; the result is a float64 NumPy array (what Keras returns for NumPy
    input), and float labels are truncated to integers.

    Args:
        x: array-like of class indices in ``[0, num_classes)``.
        num_classes: number of classes; ``None`` (or 0) means ``max(x) + 1``.

    Returns:
        An array of shape ``x.shape + (num_classes,)`` (without the trailing 1).

    Raises:
        ValueError: for an empty input without ``num_classes``, a negative ``num_classes``, or
            labels outside ``[0, num_classes)``.
    """
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    x = x.reshape(-1)

    if not num_classes:
        if x.size == 0:
            raise ValueError(
                "`to_categorical` cannot infer `num_classes` from an empty input. "
                f"Pass `num_classes` explicitly. Received: x with shape {input_shape}"
            )
        num_classes = int(x.max()) + 1
    num_classes = int(num_classes)
    if num_classes < 0:
        raise ValueError(
            f"`num_classes` must be a positive integer. Received: num_classes={num_classes}"
        )
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        bad = x[(x < 0) | (x >= num_classes)][0]
        raise ValueError(
            f"`to_categorical` expects class indices in [0, {num_classes}) for "
            f"num_classes={num_classes}. Received: a label of {bad}"
        )

    categorical = np.zeros((x.shape[0], num_classes))  # (N, num_classes), float64 as in Keras
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(input_shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Normalize an array to unit ``order``-norm along ``axis``.

    Slices whose norm is 0 are left unchanged.

    Args:
        x: array-like to normalize.
        axis: axis along which to take the norm.
        order: the norm order (2 for L2), as in ``np.linalg.norm``.

    Returns:
        ``x / ||x||`` with the norm broadcast along ``axis`` (the dtype NumPy's division gives:
        that of a float ``x``, float64 for integer input, as Keras).
    """
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis, keepdims=True))  # size 1 along `axis`
    norm[norm == 0] = 1
    return x / norm
