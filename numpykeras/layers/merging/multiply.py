"""``Multiply``: the elementwise product of a list of inputs; its functional form ``multiply``."""

from __future__ import annotations

from numpykeras.layers.merging.base_merge import Merge


class Multiply(Merge):
    """Multiplies a list of inputs elementwise: ``y = x_0 * x_1 * ... * x_{n-1}``.

    Input shape:
        A list of arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    _fold_op = "multiply"

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output * x
        return output

    def _merge_backward(self, dy, inputs, output):
        # dy/dx_i = prod_{j < i} x_j * prod_{j > i} x_j, from prefix and suffix products (no
        # division, so zeros are fine).
        n = len(inputs)
        prefix = [None] * n  # prefix[i] = x_0 * ... * x_{i-1}
        for i in range(1, n):
            prefix[i] = inputs[0] if i == 1 else prefix[i - 1] * inputs[i - 1]
        grads = [None] * n
        suffix = None  # x_{i+1} * ... * x_{n-1}
        for i in range(n - 1, -1, -1):
            g = dy
            if prefix[i] is not None:
                g = g * prefix[i]
            if suffix is not None:
                g = g * suffix
            grads[i] = g
            suffix = inputs[i] if suffix is None else suffix * inputs[i]
        return grads


def multiply(inputs, **kwargs):
    """Functional interface to the ``Multiply`` layer: ``multiply([x1, x2])``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments.

    Returns:
        The elementwise product of the inputs.
    """
    return Multiply(**kwargs)(inputs)
