"""``Minimum``: the elementwise minimum of a list of inputs, and its functional form ``minimum``."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.merging.base_merge import Merge, pick_first_winner


class Minimum(Merge):
    """The elementwise minimum of a list of inputs.

    The gradient of each output goes to the first input (in list order) holding the minimum, as
    TensorFlow's gradient of chained ``minimum`` calls does.

    Input shape:
        A list of arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    _fold_op = "minimum"

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = np.minimum(output, x)
        return output

    def _merge_backward(self, dy, inputs, output):
        return pick_first_winner(inputs, output, dy)


def minimum(inputs, **kwargs):
    """Functional interface to the ``Minimum`` layer: ``minimum([x1, x2])``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments.

    Returns:
        The elementwise minimum of the inputs.
    """
    return Minimum(**kwargs)(inputs)
