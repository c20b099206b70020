"""``ZeroPadding1D``: adds zeros at the start and end of a sequence."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple
from numpykeras.ops.padding import pad_zeros


class ZeroPadding1D(Layer):
    """Pads the time axis with zeros.

    Args:
        padding: int (same at both ends) or tuple of 2 ints ``(left_pad, right_pad)``; default 1.
        data_format: ``"channels_last"`` (default, ``(batch, steps, features)``) or
            ``"channels_first"`` (``(batch, features, steps)``).

    Input shape:
        ``(batch_size, steps, features)``.

    Output shape:
        ``(batch_size, left_pad + steps + right_pad, features)``.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.padding = normalize_tuple(padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    @property
    def _axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def call(self, inputs, training=False):
        pad_width = [(0, 0)] * 3
        pad_width[self._axis] = self.padding
        return pad_zeros(inputs, pad_width)

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        left, right = self.padding
        index = [slice(None)] * 3
        index[self._axis] = slice(left, dy.shape[self._axis] - right)
        return np.ascontiguousarray(dy[tuple(index)]), {}

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if shape[self._axis] is not None:
            shape[self._axis] += self.padding[0] + self.padding[1]
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config
