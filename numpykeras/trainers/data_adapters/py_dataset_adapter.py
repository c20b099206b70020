"""``PyDatasetAdapter``: reads a ``keras.utils.PyDataset`` (or ``Sequence``), in the calling
thread or with worker threads or processes.

With ``workers > 1``, or ``use_multiprocessing=True`` and ``workers >= 1``, each pass over the
dataset starts a pool of that many workers (``concurrent.futures``), keeps up to
``max_queue_size`` batches requested ahead of the one being used and yields them in index order.
Worker processes use the platform's default ``multiprocessing`` start method: forked, they
inherit the dataset as it is when the pass starts; otherwise it is pickled to them. The pool is
shut down when the pass ends or its iterator is closed or discarded.

``shuffle`` shuffles the order of the batch indices, drawing one
``backend.global_generator().permutation(num_batches)`` per pass (in the thread that reads the
batches), so ``utils.set_random_seed`` makes it repeatable.
"""

from __future__ import annotations

import collections
import itertools

from numpykeras import backend
from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter

_SOURCE = "a PyDataset (from `__getitem__`)"


def is_py_dataset(x) -> bool:
    """Whether ``x`` is a numpykeras ``PyDataset``, or a ``PyDataset``/``Sequence`` of Keras,
    tf.keras or tf_keras (read the same way).

    The classes are recognised by name and module, so that ``numpykeras.utils`` is not
    imported with the trainer.
    """
    for cls in type(x).__mro__:
        if cls.__name__ == "PyDataset" and cls.__module__ == "numpykeras.utils.py_dataset":
            return True
        if cls.__name__ in ("PyDataset", "Sequence") and cls.__module__.split(".")[0] in (
            "keras",
            "tf_keras",
            "tensorflow",
        ):
            return True
    return False


def dataset_num_batches(dataset):
    """``dataset.num_batches`` (``None`` for a dataset without end), or ``len(dataset)`` for
    a class that has only ``__len__`` (the older ``Sequence`` API)."""
    try:
        return dataset.num_batches
    except (AttributeError, NotImplementedError):
        if hasattr(dataset, "__len__"):
            return len(dataset)
        raise


# Worker processes keep the dataset here (set by the pool's initializer).
_WORKER_DATASET = None


def _init_worker(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _get_batch_in_worker(index):
    return _WORKER_DATASET[index]


class PyDatasetAdapter(DataAdapter):
    """Adapter for ``PyDataset`` instances.

    Args:
        x: the ``PyDataset``.
        class_weight: ``{class index: weight}``, turned into sample weights for batches
            ``(x, y)``; a batch with sample weights is then an error.
        shuffle: shuffle the batch order on every pass (finite datasets only).

    Raises:
        TypeError: ``class_weight`` is not a dict of numbers.
        ValueError: ``class_weight`` has invalid keys or values.
    """

    def __init__(self, x, class_weight=None, shuffle=False):
        self.py_dataset = x
        if class_weight is not None:
            data_adapter_utils.validate_class_weight(class_weight)
        self._class_weight = class_weight
        # A dataset standing in for a tf.data.Dataset of Keras (timeseries_dataset_from_array's)
        # keeps its own order: Keras's fit ignores `shuffle` for those.
        self._shuffle = bool(shuffle) and not getattr(x, "_ignores_fit_shuffle", False)
        self._workers = int(getattr(x, "workers", 1))
        self._use_multiprocessing = bool(getattr(x, "use_multiprocessing", False))
        self._max_queue_size = max(1, int(getattr(x, "max_queue_size", 10)))
        self._parallel = self._workers > 1 or (self._workers > 0 and self._use_multiprocessing)
        self._within_epoch = False
        self._first = None

    def _standardize(self, batch):
        return data_adapter_utils.standardize_batch(batch, _SOURCE, self._class_weight)

    def get_numpy_iterator(self):
        """A new pass over the dataset (the shuffled order is drawn when it starts)."""
        num_batches = self.num_batches
        if num_batches is None:
            indices = itertools.count()
        elif self._shuffle:
            indices = backend.global_generator().permutation(num_batches).tolist()
        else:
            indices = range(num_batches)
        if self._parallel:
            yield from self._parallel_batches(indices)
        else:
            for index in indices:
                yield self._standardize(self.py_dataset[index])

    def _parallel_batches(self, indices):
        if self._use_multiprocessing:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context(),
                initializer=_init_worker,
                initargs=(self.py_dataset,),
            )
            fetch = _get_batch_in_worker
        else:
            from concurrent.futures import ThreadPoolExecutor

            executor = ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="numpykeras_py_dataset"
            )
            fetch = self.py_dataset.__getitem__
        indices = iter(indices)
        pending = collections.deque()
        try:
            for index in itertools.islice(indices, self._max_queue_size):
                pending.append(executor.submit(fetch, index))
            while pending:
                batch = pending.popleft().result()
                for index in itertools.islice(indices, 1):
                    pending.append(executor.submit(fetch, index))
                yield self._standardize(batch)
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    def first_batch(self):
        """``dataset[0]`` (read once and kept)."""
        if self._first is None:
            if self.num_batches == 0:
                raise ValueError("The PyDataset has length 0")
            self._first = self._standardize(self.py_dataset[0])
        return self._first

    def on_epoch_begin(self):
        if self._within_epoch:
            raise ValueError(
                "`on_epoch_begin` was called twice without `on_epoch_end` having been called."
            )
        self._within_epoch = True
        hook = getattr(self.py_dataset, "on_epoch_begin", None)
        if hook is not None:
            hook()

    def on_epoch_end(self):
        self._within_epoch = False
        hook = getattr(self.py_dataset, "on_epoch_end", None)
        if hook is not None:
            hook()

    @property
    def num_batches(self):
        return dataset_num_batches(self.py_dataset)

    @property
    def batch_size(self):
        return None
