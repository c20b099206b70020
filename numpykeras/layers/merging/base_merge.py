"""``Merge``: the base class of the elementwise merge layers (``Add``, ``Multiply``, ...).

A merge layer takes a LIST of arrays and returns one array. As in Keras 3, the inputs may broadcast
against each other (a size-1 axis stretches to the other input's size), and inputs of lower rank are
first given extra size-1 axes after the batch axis until every input has the same rank.
``backward`` returns a list with one gradient per input, summed back to that input's shape.
"""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import Layer


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes along which ``shape`` was stretched.

    Args:
        grad: the gradient with respect to the broadcast array.
        shape: the shape of the array before broadcasting (same rank or lower).

    Returns:
        An array of ``shape``.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1
    )
    return grad.sum(axis=axes).reshape(shape) if axes else grad.reshape(shape)


class Merge(Layer):
    """Generic merge layer for elementwise merge functions (Keras's ``Merge``).

    Subclasses implement ``_merge_function(inputs)`` and ``_merge_backward(dy, inputs, output)``,
    which returns ``dL/dinput`` for each (rank-aligned) input, shaped like the output.

    Input shape:
        A list of arrays ``(batch_size, ...)`` whose shapes broadcast together.

    Output shape:
        The broadcast shape of the inputs.
    """

    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._reshape_required = False

    # -- shapes -------------------------------------------------------------------------------
    def _elementwise_shape(self, shape1, shape2):
        """The broadcast shape of two shapes without their batch axis; ``None`` if unknown."""
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return self._elementwise_shape(shape2, shape1)
        if not shape2:
            return tuple(shape1)
        output = list(shape1[: -len(shape2)])
        for i, j in zip(shape1[-len(shape2) :], shape2):
            if i is None or j is None:
                output.append(None)
            elif i == 1:
                output.append(j)
            elif j == 1 or i == j:
                output.append(i)
            else:
                raise ValueError(
                    f"Inputs have incompatible shapes. Received shapes {tuple(shape1)} and "
                    f"{tuple(shape2)} (layer '{self.name}' of type {type(self).__name__}, "
                    "batch axis excluded)."
                )
        return tuple(output)

    def _check_shape_list(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape:
            raise ValueError(
                f"A merge layer should be called on a list of at least 1 input (layer "
                f"'{self.name}'). Received: input_shape={input_shape}"
            )
        if not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(
                f"A merge layer should be called on a list of inputs (layer '{self.name}'). "
                f"Received: input_shape={input_shape} (not a list of shapes)"
            )

    def _merged_shape(self, input_shape):
        """Validates ``input_shape`` (a list of shapes) and returns the output shape."""
        self._check_shape_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"Cannot merge tensors with different batch sizes (layer '{self.name}'). "
                f"Received tensors with shapes {[tuple(s) for s in input_shape]}"
            )
        output = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            output = self._elementwise_shape(output, tuple(shape[1:]))
        batch = next(iter(batch_sizes)) if batch_sizes else None
        return (batch,) + tuple(output)

    def build(self, input_shape):
        self._merged_shape(input_shape)
        ranks = {len(s) for s in input_shape}
        self._reshape_required = len(ranks) > 1
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._merged_shape(input_shape)

    # -- computation --------------------------------------------------------------------------
    def _prepare(self, inputs):
        """The inputs as a list with equal ranks (size-1 axes inserted after the batch axis)."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer should be called on a list of inputs (layer '{self.name}'). "
                f"Received: inputs of shape {np.shape(inputs)} (not a list of tensors)"
            )
        inputs = list(inputs)
        self._merged_shape([tuple(x.shape) for x in inputs])
        max_ndim = max(x.ndim for x in inputs)
        return [
            x.reshape(x.shape[:1] + (1,) * (max_ndim - x.ndim) + x.shape[1:])
            if 0 < x.ndim < max_ndim
            else x
            for x in inputs
        ]

    def compute_mask(self, inputs, previous_mask=None):
        """As Keras: no mask if an input has none, else the OR of the inputs' masks."""
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        if any(m is None for m in previous_mask):
            return None
        out = np.asarray(previous_mask[0], dtype=bool)
        for m in previous_mask[1:]:
            out = out | np.asarray(m, dtype=bool)
        return out

    # The ``numpykeras.ops`` function folding the inputs pairwise (``"add"``, ...), for the
    # ops form of the merge; ``None`` when there is none.
    _fold_op = None

    def _merge_function(self, inputs):
        raise NotImplementedError

    def _call_with_ops(self, inputs, training=False):
        """The merge written with ``ops`` (differentiable to any order on a tape)."""
        if self._fold_op is None or not isinstance(inputs, (list, tuple)):
            return None
        from numpykeras import ops

        max_ndim = max(len(np.shape(x)) for x in inputs)
        xs = []
        for x in inputs:
            shape = tuple(np.shape(x))
            if 0 < len(shape) < max_ndim:
                x = ops.reshape(x, shape[:1] + (1,) * (max_ndim - len(shape)) + shape[1:])
            xs.append(x)
        fold = getattr(ops, self._fold_op)
        output = xs[0]
        for x in xs[1:]:
            output = fold(output, x)
        return output

    def _merge_backward(self, dy, inputs, output):
        raise NotImplementedError

    def call(self, inputs, training=False):
        return self._merge_function(self._prepare(inputs))

    def forward(self, inputs, training=False):
        shapes = [tuple(np.shape(x)) for x in inputs] if isinstance(inputs, (list, tuple)) else None
        xs = self._prepare(inputs)
        y = self._merge_function(xs)
        return y, (xs, y, shapes)

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        xs, y, shapes = cache
        grads = self._merge_backward(dy, xs, y)
        dx = [
            sum_to_shape(np.asarray(g, dtype=dy.dtype), x.shape).reshape(shape)
            for g, x, shape in zip(grads, xs, shapes)
        ]
        return dx, {}


def pick_first_winner(inputs, output, dy):
    """Gradients of an elementwise max/min: each output's gradient goes to ONE input.

    The winner is the first input (in list order) equal to the output, which is where TensorFlow's
    chained ``maximum``/``minimum`` gradients send ties (``x >= y`` goes to the left operand).

    Args:
        inputs: the rank-aligned inputs.
        output: the merged output (the broadcast shape).
        dy: upstream gradient, shaped like ``output``.

    Returns:
        A list with one array per input, shaped like ``output``.
    """
    taken = np.zeros(output.shape, dtype=bool)
    grads = []
    for x in inputs:
        wins = (x == output) & ~taken  # (broadcast shape) bool
        taken |= wins
        grads.append(dy * wins)
    return grads
