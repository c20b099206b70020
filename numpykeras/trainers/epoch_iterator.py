"""``EpochIterator``: the batches of each epoch, as Keras 3's ``trainers/epoch_iterator.py``
hands them to ``fit``, ``evaluate`` and ``predict``.

How many steps an epoch has:

- Without ``steps_per_epoch``, an epoch is one full pass: every epoch starts a new pass over
  the data (for arrays a new shuffle). A source of unknown size (a generator, a dataset of
  unknown cardinality) ends the epoch when it runs out, and its size is then known; a
  generator is consumed once, so a later epoch finds it empty and warns.
- With ``steps_per_epoch``, one pass continues across epochs: an epoch takes the next
  ``steps_per_epoch`` batches. When a pass of known size is used up the epoch stops early with
  Keras's "Your input ran out of data" warning (so ``steps_per_epoch`` larger than the data
  gives shorter epochs, not repeated data) and the next epoch starts a new pass. A source that
  runs out before ``steps_per_epoch`` batches warns and stops the same way.
"""

from __future__ import annotations

import warnings
import weakref

from numpykeras.trainers import data_adapters


class EpochIterator:
    """Iterates over the data of ``fit``, ``evaluate`` or ``predict``, epoch by epoch.

    Args:
        x: the inputs (anything :func:`data_adapters.get_data_adapter` accepts).
        y: the targets, for array data.
        sample_weight: the sample weights, for array data.
        batch_size: the batch size, for array data.
        steps_per_epoch: the number of steps per epoch, or ``None`` for one pass over the
            data per epoch.
        shuffle: ``True``, ``False`` or ``"batch"`` (see the adapters).
        class_weight: ``{class index: weight}``.

    Raises:
        TypeError: ``steps_per_epoch`` is not an integer.
        ValueError: ``steps_per_epoch`` is not positive, or the adapter rejects the data.
    """

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=None,
        steps_per_epoch=None,
        shuffle=False,
        class_weight=None,
    ):
        if steps_per_epoch is not None:
            if isinstance(steps_per_epoch, bool) or not hasattr(steps_per_epoch, "__index__"):
                raise TypeError(
                    "Argument `steps_per_epoch` must be a positive integer (or None). "
                    f"Received: steps_per_epoch={steps_per_epoch!r} (of type "
                    f"{type(steps_per_epoch).__name__})"
                )
            steps_per_epoch = int(steps_per_epoch.__index__())
            if steps_per_epoch < 1:
                raise ValueError(
                    "Argument `steps_per_epoch` must be a positive integer (or None). "
                    f"Received: steps_per_epoch={steps_per_epoch}"
                )
        self.steps_per_epoch = steps_per_epoch
        self.data_adapter = data_adapters.get_data_adapter(
            x=x,
            y=y,
            sample_weight=sample_weight,
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch,
            shuffle=shuffle,
            class_weight=class_weight,
        )
        self._num_batches = self.data_adapter.num_batches
        self._iterator = None  # the current pass
        self._steps_seen = 0  # batches taken from the current pass
        self._epoch = None  # weak reference to the last enumerate_epoch() generator

    @staticmethod
    def _interrupted_warning():
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset "
            "or generator can generate at least `steps_per_epoch * epochs` batches. You may "
            "need to use the `.repeat()` function when building your dataset.",
            stacklevel=3,
        )

    def _close_iterator(self):
        iterator, self._iterator = self._iterator, None
        self._steps_seen = 0
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # e.g. shuts a PyDataset's worker pool down now

    def _new_iterator(self):
        self._close_iterator()
        self._iterator = iter(self.data_adapter.get_numpy_iterator())

    def enumerate_epoch(self):
        """Yields ``(step, batch)`` for one epoch; ``batch`` is a tuple ``(x,)``, ``(x, y)`` or
        ``(x, y, sample_weight)`` of NumPy structures.

        The adapter's ``on_epoch_begin`` runs when the first batch is asked for and its
        ``on_epoch_end`` when the epoch ends, also when the caller stops early (``break``,
        an exception) and the generator is closed or discarded.
        """
        self._close_epoch()
        epoch = self._run_epoch()
        self._epoch = weakref.ref(epoch)
        return epoch

    def _close_epoch(self):
        epoch = self._epoch() if self._epoch is not None else None
        self._epoch = None
        if epoch is not None:
            epoch.close()

    def _run_epoch(self):
        self.data_adapter.on_epoch_begin()
        try:
            if self._iterator is None or self.steps_per_epoch is None:
                self._new_iterator()
            steps = self.steps_per_epoch or self._num_batches
            step = 0
            while steps is None or step < steps:
                if self._num_batches is not None and self._steps_seen >= self._num_batches:
                    # A pass of known size is used up.
                    if self.steps_per_epoch or step == 0:
                        self._interrupted_warning()
                    break
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    if self.steps_per_epoch or step == 0 or self._num_batches is not None:
                        self._interrupted_warning()
                    if self._num_batches is None and self._steps_seen:
                        self._num_batches = self._steps_seen
                    self._close_iterator()
                    break
                self._steps_seen += 1
                yield step, batch
                step += 1
            if self._num_batches is not None and self._steps_seen >= self._num_batches:
                self._close_iterator()
        finally:
            self.data_adapter.on_epoch_end()

    def first_batch(self):
        """The first batch, for building the model before training (see
        ``DataAdapter.first_batch``: no random draw, the epochs are not advanced)."""
        return self.data_adapter.first_batch()

    def reset(self):
        """Forgets the current pass and epoch: the next epoch starts a new pass."""
        self._close_epoch()
        self._close_iterator()
        self._num_batches = self.data_adapter.num_batches

    @property
    def num_batches(self):
        """The number of steps per epoch: ``steps_per_epoch`` if given, else the number of
        batches in a pass (``None`` until known)."""
        if self.steps_per_epoch:
            return self.steps_per_epoch
        return self._num_batches
