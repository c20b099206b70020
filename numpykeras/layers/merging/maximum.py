"""``Maximum``: the elementwise maximum of a list of inputs, and its functional form ``maximum``."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.merging.base_merge import Merge, pick_first_winner


class Maximum(Merge):
    """The elementwise maximum of a list of inputs.

    The gradient of each output goes to the first input (in list order) holding the maximum, as
    TensorFlow's gradient of chained ``maximum`` calls does.

    Input shape:
        A list of arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    _fold_op = "maximum"

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = np.maximum(output, x)
        return output

    def _merge_backward(self, dy, inputs, output):
        return pick_first_winner(inputs, output, dy)


def maximum(inputs, **kwargs):
    """Functional interface to the ``Maximum`` layer: ``maximum([x1, x2])``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments.

    Returns:
        The elementwise maximum of the inputs.
    """
    return Maximum(**kwargs)(inputs)
