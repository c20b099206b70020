"""``keras.utils.timeseries_dataset_from_array`` (also
``keras.preprocessing.timeseries_dataset_from_array``), as in Keras 3's
``keras/src/utils/timeseries_dataset_utils.py``, returning a :class:`PyDataset` of NumPy batches
instead of a ``tf.data.Dataset``."""

from __future__ import annotations

import math

import numpy as np

from numpykeras.utils.py_dataset import PyDataset

__all__ = ["TimeseriesDataset", "timeseries_dataset_from_array"]


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
):
    """Creates a dataset of sliding windows over a timeseries given as an array.

    The window starting at position ``i`` (counted from ``start_index``) holds the timesteps
    ``data[start_index + i + k * sampling_rate]`` for ``k`` in ``range(sequence_length)``, and its
    target is ``targets[start_index + i]``. Windows start every ``sequence_stride`` positions;
    only windows that end before ``end_index`` (and that have a target) are made.

    The windows, their order without ``shuffle``, and the batches are Keras's. With ``shuffle``,
    the start positions are shuffled once with ``np.random.RandomState(seed)`` exactly as Keras
    does, and every pass then shuffles them locally with a buffer of ``batch_size * 8``
    windows (1024 without batching), a different order per pass as Keras's
    ``Dataset.shuffle``. Each pass yields the same set of windows as Keras; the local order
    cannot match TensorFlow's random generator. With ``seed``, the passes are repeatable.

    The result is a :class:`~numpykeras.utils.PyDataset`: ``fit``, ``evaluate`` and
    ``predict`` read it for any number of epochs, and it can be iterated, indexed and
    ``len()``-ed. Note that ``fit(..., shuffle=True)`` (its default) shuffles the batch order
    of a ``PyDataset``, where Keras ignores ``shuffle`` for its ``tf.data.Dataset``: pass
    ``shuffle=False`` to ``fit`` to keep this dataset's own order.

    Example:

    ```python
    data = np.arange(100)
    dataset = timeseries_dataset_from_array(
        data[:-10], targets=data[10:], sequence_length=10, batch_size=32
    )
    inputs, targets = next(iter(dataset))
    # inputs[0] is data[0:10] and targets[0] is data[10].
    ```

    Args:
        data: an array (or array-like) of consecutive timesteps, time along axis 0.
        targets: the targets, ``targets[i]`` being the target of the window that starts at
            index ``i``; or ``None`` for a dataset of inputs only.
        sequence_length: the number of timesteps in each window.
        sequence_stride: the step between the starts of successive windows.
        sampling_rate: the step between the timesteps of a window.
        batch_size: the number of windows per batch (the last batch may be smaller), or
            ``None`` for a dataset of single windows.
        shuffle: shuffle the windows instead of yielding them in chronological order.
        seed: an int seed for the shuffling; by default one is drawn from NumPy's global
            random state (so ``utils.set_random_seed`` makes it repeatable).
        start_index: data points before this index are not used.
        end_index: data points from this index on are not used.

    Returns:
        A :class:`TimeseriesDataset` yielding ``(inputs, targets)`` batches, or ``inputs``
        batches when ``targets`` is ``None``. ``inputs`` has shape ``(batch, sequence_length)
        + data.shape[1:]``. NumPy data keeps its dtype; a Python list becomes ``int32`` or
        ``float32``, as TensorFlow converts it.

    Raises:
        TypeError: an integer argument is not an integer.
        ValueError: with Keras's messages: ``start_index`` is negative or not below the data
            length; ``end_index`` is not above ``start_index``, not below the data length or
            negative; ``sampling_rate`` or ``sequence_stride`` is not positive or not below the
            data length. Also ``batch_size`` is not positive, or ``targets`` is too short
            for the windows (Keras fails on iteration then).
    """
    for name, value in (
        ("sequence_length", sequence_length),
        ("sequence_stride", sequence_stride),
        ("sampling_rate", sampling_rate),
    ):
        _check_int(name, value)
    for name, value in (
        ("batch_size", batch_size),
        ("seed", seed),
        ("start_index", start_index),
        ("end_index", end_index),
    ):
        if value is not None:
            _check_int(name, value)
    if batch_size is not None and batch_size <= 0:
        raise ValueError(
            f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size}"
        )
    if not hasattr(data, "__len__"):
        raise TypeError(
            "`data` must be an array (or array-like) with the timesteps along axis 0. "
            f"Received: data of type {type(data).__name__}"
        )

    if start_index:
        if start_index < 0:
            raise ValueError(
                f"`start_index` must be 0 or greater. Received: start_index={start_index}"
            )
        if start_index >= len(data):
            raise ValueError(
                "`start_index` must be lower than the length of the data. Received: "
                f"start_index={start_index}, for data of length {len(data)}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                "`end_index` must be higher than `start_index`. Received: "
                f"start_index={start_index}, and end_index={end_index} "
            )
        if end_index >= len(data):
            raise ValueError(
                "`end_index` must be lower than the length of the data. Received: "
                f"end_index={end_index}, for data of length {len(data)}"
            )
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(
            f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}"
        )
    if sampling_rate >= len(data):
        raise ValueError(
            "`sampling_rate` must be lower than the length of the data. Received: "
            f"sampling_rate={sampling_rate}, for data of length {len(data)}"
        )
    if sequence_stride <= 0:
        raise ValueError(
            f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}"
        )
    if sequence_stride >= len(data):
        raise ValueError(
            "`sequence_stride` must be lower than the length of the data. Received: "
            f"sequence_stride={sequence_stride}, for data of length {len(data)}"
        )

    if start_index is None:
        start_index = 0
    if end_index is None:
        end_index = len(data)

    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    start_positions = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        # Keras's global shuffle of the start positions, reproduced exactly (it shuffles an
        # int32 array; the permutation depends only on the length).
        np.random.RandomState(seed).shuffle(start_positions)

    data_slice = _as_tf_array(data)[start_index:end_index]
    window_offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
    target_slice = None
    if targets is not None:
        target_slice = _as_tf_array(targets)[start_index:end_index]
        if len(start_positions) and int(start_positions.max()) >= len(target_slice):
            raise ValueError(
                f"`targets` is too short: the window starting at index "
                f"{start_index + int(start_positions.max())} has no target (`targets` has "
                f"length {len(targets)}, and `start_index`={start_index}, "
                f"`end_index`={end_index})."
            )

    return TimeseriesDataset(
        data_slice,
        target_slice,
        start_positions,
        window_offsets,
        batch_size=batch_size,
        shuffle=bool(shuffle),
        seed=None if not shuffle else int(seed),
    )


class TimeseriesDataset(PyDataset):
    """The dataset :func:`timeseries_dataset_from_array` returns: a ``PyDataset`` of windows.

    ``dataset[i]`` is batch ``i`` of the current pass; ``len(dataset)`` the number of batches.
    A shuffled dataset draws a new local order after every epoch of ``fit`` (its
    ``on_epoch_end``) and at the start of every new ``for`` loop over it, once the current
    order has been read.

    Args:
        data: the timesteps between ``start_index`` and ``end_index``.
        targets: the targets from ``start_index`` on, or ``None``.
        start_positions: the window start positions (already globally shuffled).
        window_offsets: the offsets of a window's timesteps from its start.
        batch_size: windows per batch, or ``None`` for single windows.
        shuffle: shuffle the windows locally on each pass.
        seed: the seed of the local shuffles (with ``shuffle``).
    """

    # Keras returns a tf.data.Dataset, whose order fit's `shuffle` does not change; nor here.
    _ignores_fit_shuffle = True

    def __init__(self, data, targets, start_positions, window_offsets, batch_size, shuffle, seed):
        super().__init__()
        self._data = data
        self._targets = targets
        self._start_positions = start_positions
        self._window_offsets = window_offsets
        self._batch_size = batch_size
        self._shuffle = shuffle
        self._rng = np.random.default_rng(seed) if shuffle else None
        self._order = start_positions
        self._order_read = False
        if shuffle:
            self._draw_order()

    @property
    def batch_size(self):
        """Windows per batch, or ``None`` when the dataset yields single windows."""
        return self._batch_size

    def _draw_order(self):
        """A new local shuffle of the start positions, as ``tf.data.Dataset.shuffle`` makes it:
        each output is drawn uniformly from a buffer of the next ``buffer_size`` inputs."""
        buffer_size = 1024 if self._batch_size is None else self._batch_size * 8
        positions = self._start_positions
        n = len(positions)
        order = np.empty_like(positions)
        buffer = list(positions[: min(buffer_size, n)])
        next_input = len(buffer)
        for i in range(n):
            j = int(self._rng.integers(len(buffer)))
            order[i] = buffer[j]
            if next_input < n:
                buffer[j] = positions[next_input]
                next_input += 1
            else:
                buffer[j] = buffer[-1]
                buffer.pop()
        self._order = order
        self._order_read = False

    def __len__(self):
        n = len(self._start_positions)
        if self._batch_size is None:
            return n
        return math.ceil(n / self._batch_size)

    def __getitem__(self, index):
        """Batch ``index`` of the current pass (a single window without batching)."""
        if isinstance(index, bool) or not hasattr(index, "__index__"):
            raise TypeError(
                f"Index must be an integer. Received: {index!r} (of type {type(index).__name__})"
            )
        index = int(index.__index__())
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"Batch index out of range: {index} (the dataset has {length}).")
        self._order_read = True
        if self._batch_size is None:
            starts = self._order[index : index + 1]
        else:
            starts = self._order[index * self._batch_size : (index + 1) * self._batch_size]
        inputs = self._data[starts[:, None] + self._window_offsets]
        if self._batch_size is None:
            inputs = inputs[0]
        if self._targets is None:
            return inputs
        targets = self._targets[starts]
        if self._batch_size is None:
            targets = targets[0]
        return inputs, targets

    def __iter__(self):
        """The batches of a pass (a shuffled dataset draws a new order if this one was read)."""
        if self._shuffle and self._order_read:
            self._draw_order()
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        """Draws a new order for the next epoch (shuffled datasets only)."""
        if self._shuffle:
            self._draw_order()


def _check_int(name, value):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(
            f"`{name}` must be an integer. Received: {name}={value!r} (of type "
            f"{type(value).__name__})"
        )


def _as_tf_array(x):
    """``x`` as a NumPy array with the dtype TensorFlow gives it: arrays keep theirs, Python
    lists of ints become ``int32`` and of floats ``float32``."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and not isinstance(x, (list, tuple)):
        return np.asarray(x.numpy())
    array = np.asarray(x)
    if array.dtype == np.int64:
        array = array.astype(np.int32)
    elif array.dtype == np.float64:
        array = array.astype(np.float32)
    return array
