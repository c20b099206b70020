"""``GaussianDropout``: multiplies by ``N(1, rate / (1 - rate))`` noise in training."""

from __future__ import annotations

import math

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import Layer


class GaussianDropout(Layer):
    """Multiplicative 1-centered Gaussian noise, with the variance of dropout at ``rate``.

    In training ``y = x * e`` with ``e ~ N(1, rate / (1 - rate))`` (mean, variance); the identity
    at inference.

    Args:
        rate: float in ``[0, 1)``, the drop probability of the equivalent dropout.
        seed: optional int for a reproducible noise stream.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, (str, bool)) or not hasattr(rate, "__float__") or not 0 <= rate < 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between 0 "
                f"and 1 (1 excluded: the noise variance rate / (1 - rate) would be infinite). "
                f"Received: rate={rate}"
            )
        self.rate = rate
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def call(self, inputs, training=False):
        return self.forward(inputs, training=training)[0]

    def forward(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs, None
        rng = self._generator or backend.global_generator()
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        dtype = inputs.dtype if inputs.dtype in (np.float32, np.float64) else np.dtype("float64")
        noise = rng.standard_normal(inputs.shape, dtype=dtype)  # N(0, 1)
        noise = (noise * dtype.type(stddev) + dtype.type(1.0)).astype(inputs.dtype, copy=False)
        return inputs * noise, noise

    def backward(self, dy, cache, need_dx=True):
        noise = cache
        return (dy if noise is None else dy * noise), {}  # dL/dx = dy * e

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
