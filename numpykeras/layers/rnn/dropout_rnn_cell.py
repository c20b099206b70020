"""``DropoutRNNCell``: the dropout masks of a recurrent cell, drawn once per sequence.

Recurrent dropout (Gal and Ghahramani, 2016) drops the same input units and the same state units
at every timestep of a sequence: the masks are drawn at the first step of an ``RNN`` call, used
at every step, and forgotten when the call ends (``RNN`` resets them). They exist only in
training; inference draws nothing and keeps nothing on the cell.
"""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.ops import autodiff


class DropoutRNNCell:
    """Mixin for cells with ``dropout`` and ``recurrent_dropout`` rates.

    A cell using it sets ``dropout``, ``recurrent_dropout`` and ``seed``, and optionally
    ``dropout_mask_count`` (one mask per gate, as Keras's ``implementation=1``).
    """

    def _draw_mask(self, like, rate):
        count = getattr(self, "dropout_mask_count", None)
        shape = np.shape(autodiff.unwrap(like))
        dtype = autodiff.unwrap(like).dtype
        if getattr(self, "_generator", None) is None:
            self._generator = backend.make_generator(self.seed)

        def one():
            keep = self._generator.random(shape) >= rate
            return (keep / (1.0 - rate)).astype(dtype)

        return one() if count is None else [one() for _ in range(count)]

    def get_dropout_mask(self, step_input):
        """The input mask of this sequence (drawn on first use): ``1 / (1 - dropout)`` where a
        unit is kept, 0 where it is dropped."""
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        """The state mask of this sequence (drawn on first use)."""
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(step_input, self.recurrent_dropout)
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None
