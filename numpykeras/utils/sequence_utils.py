"""``keras.utils.pad_sequences`` (also ``keras.preprocessing.sequence.pad_sequences``), as in
Keras 3's ``keras/src/utils/sequence_utils.py``."""

from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(
    sequences,
    maxlen=None,
    dtype="int32",
    padding="pre",
    truncating="pre",
    value=0.0,
):
    """Pads sequences to the same length.

    Turns a list of ``num_samples`` sequences (lists or arrays whose items may themselves be
    arrays of one common shape) into an array of shape ``(num_samples, num_timesteps) +
    item_shape``. ``num_timesteps`` is ``maxlen`` if given, else the length of the longest
    sequence. Shorter sequences are padded with ``value``; longer ones are truncated. Empty
    sequences become rows of ``value``.

    Example:

    ```python
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post")
    array([[1, 0],
           [2, 3],
           [5, 6]], dtype=int32)
    ```

    Args:
        sequences: a list (or any sized iterable) of sequences.
        maxlen: the length of the output sequences; by default the length of the longest
            sequence.
        dtype: the dtype of the output. Use ``object`` (or a NumPy string dtype) to pad
            sequences of strings.
        padding: ``"pre"`` or ``"post"``: pad before or after each sequence.
        truncating: ``"pre"`` or ``"post"``: drop the values at the beginning or at the end of
            sequences longer than ``maxlen``.
        value: the padding value (a number, or a string with an ``object`` or string dtype).

    Returns:
        A NumPy array of shape ``(len(sequences), maxlen) + item_shape`` and dtype ``dtype``,
        where ``item_shape`` is the shape of the items of the first non-empty sequence
        (``()`` for sequences of scalars).

    Raises:
        ValueError: ``sequences`` has no length or holds something that is not a sequence;
            ``sequences`` is empty and ``maxlen`` is not given; ``value`` is a string and
            ``dtype`` is neither ``object`` nor a string dtype; ``padding`` or ``truncating``
            is not ``"pre"`` or ``"post"`` (checked at the first non-empty sequence); or a
            sequence's items do not have the shape of the first non-empty sequence's items.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    num_samples = len(sequences)

    lengths = []
    sample_shape = ()
    found_sample_shape = False
    # The item shape is taken from the first non-empty sequence and checked for every other.
    for x in sequences:
        try:
            lengths.append(len(x))
            if not found_sample_shape and len(x):
                sample_shape = np.asarray(x).shape[1:]
                found_sample_shape = True
        except TypeError as e:
            raise ValueError(
                f"`sequences` must be a list of iterables. Found non-iterable: {str(x)}"
            ) from e

    if maxlen is None:
        if not lengths:
            raise ValueError(
                "`sequences` is empty, so `maxlen` cannot be inferred: pass `maxlen` to pad an "
                "empty list of sequences."
            )
        maxlen = np.max(lengths)

    is_dtype_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_dtype_str:
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
            "You should set `dtype=object` for variable length strings."
        )

    x = np.full((num_samples, maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue  # an empty sequence stays all padding
        if truncating == "pre":
            trunc = s[-maxlen:]
        elif truncating == "post":
            trunc = s[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')

        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {trunc.shape[1:]} of sequence at position {idx} is different "
                f"from expected shape {sample_shape}"
            )

        if padding == "post":
            x[idx, : len(trunc)] = trunc
        elif padding == "pre":
            x[idx, -len(trunc) :] = trunc
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
    return x
