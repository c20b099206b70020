"""``Dropout``: zeroes a random fraction ``rate`` of inputs in training, scaling the rest by
``1 / (1 - rate)`` (inverted dropout, as Keras), and is the identity at inference."""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import Layer


class Dropout(Layer):
    """Randomly drops inputs during training.

    Args:
        rate: float in ``[0, 1)``, the fraction of inputs to drop.
        noise_shape: optional shape of the keep/drop mask, broadcast over the input (``None``
            entries take the input's size).
        seed: optional int for a reproducible mask stream.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float, np.floating)) or not 0 <= rate <= 1:
            raise ValueError(
                f"Invalid value received for argument `rate`. Expected a float value between 0 "
                f"and 1. Received: rate={rate}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return self.forward(inputs, training=True)[0]

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        return tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))

    def forward(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs, None
        rng = self._generator or backend.global_generator()
        keep = 1.0 - self.rate
        # mask = kept / keep_prob, so dropped units are 0 and the rest scaled up.
        mask = (rng.random(self._mask_shape(inputs.shape), dtype=np.float32) < keep).astype(
            inputs.dtype
        ) / np.asarray(keep, inputs.dtype)
        return inputs * mask, mask

    def backward(self, dy, cache, need_dx=True):
        mask = cache
        return (dy if mask is None else dy * mask), {}

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config
