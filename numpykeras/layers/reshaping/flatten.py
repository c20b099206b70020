"""``Flatten``: ``(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)`` in C order."""

from __future__ import annotations

import math

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format


class Flatten(Layer):
    """Flattens every axis but the batch axis.

    With ``data_format="channels_first"`` the input is first moved to channels-last order, so the
    flattened features line up with a channels-last network's (as in Keras).

    Input shape:
        ``(batch_size, ...)``, at least 1-D.

    Output shape:
        ``(batch_size, product of the other dimensions)``.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def _channels_last(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            return np.moveaxis(x, 1, -1)
        return x

    def call(self, inputs, training=False):
        x = self._channels_last(inputs)
        return x.reshape(x.shape[0], -1)

    def _call_with_ops(self, inputs, training=False):
        from numpykeras import ops

        if self.data_format == "channels_first" and len(inputs.shape) > 2:
            return None
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        shape = cache
        if self.data_format == "channels_first" and len(shape) > 2:
            moved = (shape[0], *shape[2:], shape[1])
            return np.ascontiguousarray(np.moveaxis(dy.reshape(moved), -1, 1)), {}
        return dy.reshape(shape), {}

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(math.prod(rest))
        return (input_shape[0], size)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
