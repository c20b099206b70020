"""``Masking``: marks the timesteps whose features all equal ``mask_value`` as padding."""

from __future__ import annotations

import numpy as np

from numpykeras import ops
from numpykeras.layers.layer import Layer
from numpykeras.ops import autodiff


class Masking(Layer):
    """Masks timesteps: step ``t`` of a sample is skipped downstream when every feature of it
    equals ``mask_value``; its output there is zeroed.

    ``keep = any(x != mask_value, axis=-1)``; ``y = x * keep[..., None]``; the output's mask is
    ``keep``, which models pass on (recurrent layers skip the masked steps).

    Args:
        mask_value: the padding value (default 0.0).

    Input shape:
        ``(batch_size, timesteps, features)`` (any rank >= 2).

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def compute_mask(self, inputs, previous_mask=None):
        return np.any(np.asarray(autodiff.unwrap(inputs)) != self.mask_value, axis=-1)

    def call(self, inputs):
        keep = self.compute_mask(inputs)[..., None]  # (batch, timesteps, 1)
        return ops.multiply(inputs, keep.astype(self.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
