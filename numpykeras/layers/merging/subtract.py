"""``Subtract``: ``inputs[0] - inputs[1]``, and its functional form ``subtract``."""

from __future__ import annotations

from numpykeras.layers.merging.base_merge import Merge


class Subtract(Merge):
    """Subtracts two inputs elementwise: ``y = x_0 - x_1``.

    Input shape:
        A list of exactly 2 arrays ``(batch_size, ...)`` with the same (or broadcastable) shapes.

    Output shape:
        The common shape of the inputs.
    """

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs (layer '{self.name}'). "
                f"Received: input_shape={input_shape}"
            )

    _fold_op = "subtract"

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(
                f"A `Subtract` layer should be called on exactly 2 inputs (layer '{self.name}'). "
                f"Received: {len(inputs)} inputs of shapes {[x.shape for x in inputs]}"
            )
        return inputs[0] - inputs[1]

    def _merge_backward(self, dy, inputs, output):
        return [dy, -dy]


def subtract(inputs, **kwargs):
    """Functional interface to the ``Subtract`` layer: ``subtract([x1, x2])``.

    Args:
        inputs: a list of 2 arrays or symbolic tensors.
        **kwargs: standard layer keyword arguments.

    Returns:
        ``inputs[0] - inputs[1]``.
    """
    return Subtract(**kwargs)(inputs)
