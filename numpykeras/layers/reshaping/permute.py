"""``Permute``: reorders the non-batch axes of the input."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer


class Permute(Layer):
    """Permutes the axes of the input according to ``dims``.

    Args:
        dims: tuple of ints, a permutation of ``1..rank-1`` (the batch axis 0 stays in place),
            e.g. ``(2, 1)`` swaps the two axes of a sequence ``(batch, steps, features)``.

    Input shape:
        ``(batch_size, d_1, ..., d_k)`` with ``k = len(dims)``.

    Output shape:
        ``(batch_size, d_dims[0], ..., d_dims[k-1])``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            self.dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(
                f"Invalid permutation argument `dims` for Permute Layer. Received dims={dims}"
            ) from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be consecutive and start from 1. Received dims={dims}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs, training=False):
        return np.transpose(inputs, (0,) + self.dims)

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        inverse = np.argsort((0,) + self.dims)  # the permutation that undoes (0,) + dims
        return np.ascontiguousarray(np.transpose(dy, tuple(int(a) for a in inverse))), {}

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config
