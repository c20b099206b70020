"""``Add``: the elementwise sum of a list of inputs, and its functional form ``add``."""

from __future__ import annotations

from numpykeras.layers.merging.base_merge import Merge


class Add(Merge):
    """Adds a list of inputs elementwise: ``y = x_0 + x_1 + ... + x_{n-1}``.

    Input shape:
        A list of arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    _fold_op = "add"

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output

    def _merge_backward(self, dy, inputs, output):
        return [dy] * len(inputs)  # dy/dx_i = 1


def add(inputs, **kwargs):
    """Functional interface to the ``Add`` layer: ``add([x1, x2])``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments (``name``, ``dtype``, ...).

    Returns:
        The sum of the inputs.
    """
    return Add(**kwargs)(inputs)
