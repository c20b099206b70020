"""``DataAdapter``: the one interface ``fit``, ``evaluate`` and ``predict`` read data through."""

from __future__ import annotations


class DataAdapter:
    """Base class of the data adapters.

    An adapter turns one kind of input (NumPy arrays, a generator, a ``PyDataset``, a
    ``tf.data.Dataset``, a torch ``DataLoader``) into batches of NumPy arrays. Every batch is a
    tuple ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` whose elements are arrays or
    lists, tuples or dicts of arrays.
    """

    def get_numpy_iterator(self):
        """A new iterator over one pass of the data, yielding batch tuples of NumPy arrays."""
        raise NotImplementedError

    def first_batch(self):
        """The first batch, for building a model and checking its targets.

        It does not advance any iterator returned by :meth:`get_numpy_iterator` and draws no
        random numbers; it may read the data source once more.
        """
        return next(iter(self.get_numpy_iterator()))

    @property
    def num_batches(self):
        """The number of batches in one pass, or ``None`` when it is not known."""
        raise NotImplementedError

    @property
    def batch_size(self):
        """The batch size, or ``None`` when it is not known."""
        raise NotImplementedError

    @property
    def has_partial_batch(self):
        """Whether the last batch is smaller than the others (``None`` when not known)."""
        return None

    @property
    def partial_batch_size(self):
        """The size of the last, partial batch, or ``None`` when there is none or it is not
        known."""
        return None

    def on_epoch_begin(self):
        """Called before each epoch."""

    def on_epoch_end(self):
        """Called after each epoch."""
