"""``UpSampling1D``: repeats each time step ``size`` times."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer


class UpSampling1D(Layer):
    """Upsamples a sequence by repeating each step ``size`` times along the time axis.

    Args:
        size: positive int, the upsampling factor (default 2).

    Input shape:
        ``(batch_size, steps, features)``.

    Output shape:
        ``(batch_size, steps * size, features)``.
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(f"Expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs, training=False):
        return np.repeat(inputs, self.size, axis=1)

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        n, length, c = dy.shape
        # (N, L * s, C) -> (N, L, s, C), summed over the s copies of each step
        return dy.reshape(n, length // self.size, self.size, c).sum(axis=2), {}

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config
