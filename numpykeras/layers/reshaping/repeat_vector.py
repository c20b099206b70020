"""``RepeatVector``: ``(batch, features) -> (batch, n, features)`` by repetition."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer


class RepeatVector(Layer):
    """Repeats the input ``n`` times along a new axis 1.

    Args:
        n: positive int, the number of repetitions.

    Input shape:
        ``(batch_size, features)``.

    Output shape:
        ``(batch_size, n, features)``.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs, training=False):
        return np.repeat(inputs[:, None, :], self.n, axis=1)

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        return dy.sum(axis=1), {}  # (batch, n, features) -> (batch, features)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config
