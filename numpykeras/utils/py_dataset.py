"""``keras.utils.PyDataset`` (also ``keras.utils.Sequence``): a dataset of batches written in
Python, which ``fit``, ``evaluate`` and ``predict`` can read with several threads or processes.
"""

from __future__ import annotations

import itertools
import warnings

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """Base class for a dataset of batches defined in Python.

    A subclass implements ``__getitem__(index)``, returning one whole batch (``x``, ``(x,)``,
    ``(x, y)`` or ``(x, y, sample_weight)``), and ``__len__()``, the number of batches; or,
    for a dataset without a fixed length, a ``num_batches`` property that returns ``None``
    (then ``__getitem__`` is called with 0, 1, 2, ... for as long as the model asks).
    ``on_epoch_begin()`` and ``on_epoch_end()`` are called around every epoch, e.g. to
    reshuffle the samples.

    Args:
        workers: the number of threads (or processes) that compute batches ahead of the
            model. With 1 (and no multiprocessing) batches are computed in the calling thread.
        use_multiprocessing: compute batches in worker processes instead of threads. The
            workers are started for every pass over the data, with a copy of the dataset (it
            is pickled where processes are not forked, so its class must then be importable,
            defined at a module's top level).
        max_queue_size: how many batches may be computed ahead of the one the model uses.

    Example:

    ```python
    class Batches(numpykeras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, index):
            low = index * self.batch_size
            high = min(low + self.batch_size, len(self.x))
            return self.x[low:high], self.y[low:high]
    ```
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = _check_int(workers, "workers", minimum=0)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _check_int(max_queue_size, "max_queue_size", minimum=1)

    def _warn_if_super_not_called(self):
        missing = False
        for name, default in (
            ("_workers", 1),
            ("_use_multiprocessing", False),
            ("_max_queue_size", 10),
        ):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.",
                stacklevel=3,
            )

    @property
    def workers(self):
        """The number of worker threads or processes."""
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = _check_int(value, "workers", minimum=0)

    @property
    def use_multiprocessing(self):
        """Whether the workers are processes."""
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self):
        """How many batches may be computed ahead."""
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = _check_int(value, "max_queue_size", minimum=1)

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError

    def __iter__(self):
        """The batches in order (no parallelism)."""
        try:
            num_batches = self.num_batches
        except NotImplementedError:
            num_batches = None
        indices = itertools.count() if num_batches is None else range(num_batches)
        for index in indices:
            yield self[index]

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or ``None`` for a dataset without end."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ..."
        )

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(
            f"Argument `{name}` must be an integer. Received: {name}={value!r} (of type "
            f"{type(value).__name__})"
        )
    value = int(value.__index__())
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be >= {minimum}. Received: {name}={value}")
    return value
