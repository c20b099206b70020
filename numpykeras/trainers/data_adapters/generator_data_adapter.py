"""``GeneratorDataAdapter``: Python generators and iterators that yield whole batches."""

from __future__ import annotations

import types

from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter

_SOURCE = "a Python generator"


def is_generator(x) -> bool:
    """Whether ``x`` is a generator or another iterator (``__next__`` and ``__iter__``).

    Arrays and containers are not iterators; ``iter(dataset)`` of a ``tf.data.Dataset`` is.
    """
    if isinstance(x, types.GeneratorType):
        return True
    return callable(getattr(x, "__next__", None)) and callable(getattr(x, "__iter__", None))


class GeneratorDataAdapter(DataAdapter):
    """Adapter for a generator (or iterator) yielding batches.

    Each batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a list is read as a
    tuple; an array or a dict is ``x``), of arrays or tensors, converted to NumPy.

    The first batch is read at construction to check its structure, and yielded first by the
    first pass. A generator is consumed once: after it is exhausted, a new pass yields nothing.
    An infinite generator never ends a pass, so ``fit`` needs ``steps_per_epoch`` with one.

    Args:
        generator: the generator or iterator.

    Raises:
        ValueError: the generator yields nothing, or its first batch is not a valid batch.
    """

    def __init__(self, generator):
        if not is_generator(generator):
            raise ValueError(
                f"Expected a Python generator or iterator. Received: {generator!r} (of type "
                f"{type(generator)})"
            )
        self._generator = generator
        try:
            first = next(generator)
        except StopIteration:
            raise ValueError(
                "When passing a Python generator to a Keras model, the generator must yield "
                "at least one batch. Received an empty generator."
            ) from None
        self._first_raw = first
        self._first = data_adapter_utils.standardize_batch(first, _SOURCE)
        self._first_pending = True

    def get_numpy_iterator(self):
        """The rest of the generator (its first pass starts with the peeked batch)."""
        if self._first_pending:
            self._first_pending = False
            yield self._first
        for batch in self._generator:
            yield data_adapter_utils.standardize_batch(batch, _SOURCE)

    def first_batch(self):
        """The first batch the generator yielded."""
        return self._first

    @property
    def num_batches(self):
        return None

    @property
    def batch_size(self):
        return None
