"""``SpatialDropout1D`` and ``SpatialDropout2D``: dropout of whole feature maps.

Instead of single elements, whole channels are dropped for each sample (one keep/drop draw per
sample and channel, shared along the time or spatial axes), scaled by ``1 / (1 - rate)`` as in
``Dropout``. At inference the layers are the identity.
"""

from __future__ import annotations

import numpy as np

from numpykeras import backend
from numpykeras.layers.layer import InputSpec, normalize_data_format
from numpykeras.layers.regularization.dropout import Dropout


class BaseSpatialDropout(Dropout):
    """Dropout whose mask is shared along every axis except the batch and channel axes."""

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        kwargs.pop("noise_shape", None)  # written by Keras 2; the spatial mask shape is fixed
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)

    def _noise_shape(self, shape):
        raise NotImplementedError

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return self.forward(inputs, training=True)[0]

    def forward(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs, None
        rng = self._generator or backend.global_generator()
        keep = 1.0 - self.rate
        draws = rng.random(self._noise_shape(inputs.shape), dtype=np.float32)
        # mask = kept / keep_prob per (sample, channel), broadcast over the other axes
        mask = (draws < keep).astype(inputs.dtype) / np.asarray(keep, inputs.dtype)
        return inputs * mask, mask

    def backward(self, dy, cache, need_dx=True):
        mask = cache
        return (dy if mask is None else dy * mask), {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(BaseSpatialDropout):
    """Spatial 1D version of Dropout: drops entire 1D feature maps.

    Args:
        rate: float in ``[0, 1]``, the fraction of channels to drop.
        seed: optional int for a reproducible mask stream.

    Input shape:
        ``(batch_size, steps, channels)``.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def _noise_shape(self, shape):
        return (shape[0], 1, shape[2])


class SpatialDropout2D(BaseSpatialDropout):
    """Spatial 2D version of Dropout: drops entire 2D feature maps.

    Args:
        rate: float in ``[0, 1]``, the fraction of channels to drop.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: optional int for a reproducible mask stream.

    Input shape:
        ``(batch_size, rows, cols, channels)`` (channels last).

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def _noise_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
