"""``Average``: the elementwise mean of a list of inputs, and its functional form ``average``."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.merging.base_merge import Merge


class Average(Merge):
    """Averages a list of inputs elementwise: ``y = (x_0 + ... + x_{n-1}) / n``.

    Input shape:
        A list of arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    _fold_op = "add"

    def _call_with_ops(self, inputs, training=False):
        from numpykeras import ops

        total = super()._call_with_ops(inputs, training)
        return None if total is None else ops.divide(total, float(len(inputs)))

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output / np.asarray(len(inputs), dtype=output.dtype)

    def _merge_backward(self, dy, inputs, output):
        return [dy / np.asarray(len(inputs), dtype=dy.dtype)] * len(inputs)  # dy/dx_i = 1/n


def average(inputs, **kwargs):
    """Functional interface to the ``Average`` layer: ``average([x1, x2])``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments.

    Returns:
        The elementwise mean of the inputs.
    """
    return Average(**kwargs)(inputs)
