"""``GaussianNoise``: adds zero-mean Gaussian noise in training; the identity at inference."""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import Layer


class GaussianNoise(Layer):
    """Adds ``N(0, stddev^2)`` noise to the inputs during training (a regularizer).

    Args:
        stddev: float in ``[0, 1]``, the standard deviation of the noise.
        seed: optional int for a reproducible noise stream.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(stddev, (str, bool))
            or not hasattr(stddev, "__float__")
            or not (0 <= stddev <= 1)
        ):
            raise ValueError(
                "Invalid value received for argument `stddev`. Expected a float value between 0 "
                f"and 1. Received: stddev={stddev}"
            )
        self.stddev = stddev
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def call(self, inputs, training=False):
        return self.forward(inputs, training=training)[0]

    def forward(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs, None
        rng = self._generator or backend.global_generator()
        dtype = inputs.dtype if inputs.dtype in (np.float32, np.float64) else np.dtype("float64")
        noise = rng.standard_normal(inputs.shape, dtype=dtype) * dtype.type(self.stddev)
        return inputs + noise.astype(inputs.dtype, copy=False), None

    def backward(self, dy, cache, need_dx=True):
        return dy, {}  # the noise does not depend on the input

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config
