"""``GlobalAveragePooling3D`` and ``GlobalMaxPooling3D``: one value per channel of a volume."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format


class _GlobalPooling3D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=5)

    @property
    def _axes(self):
        return (1, 2, 3) if self.data_format == "channels_last" else (2, 3, 4)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            shape = list(input_shape)
            for a in self._axes:
                shape[a] = 1
            return tuple(shape)
        channel_axis = 4 if self.data_format == "channels_last" else 1
        return (input_shape[0], input_shape[channel_axis])

    def _expand(self, dy):
        return dy if self.keepdims else np.expand_dims(dy, self._axes)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling3D(_GlobalPooling3D):
    """Mean over the three spatial axes.

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the spatial axes with size 1.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, channels)`` (``(batch_size, 1, 1, 1, channels)`` with ``keepdims=True``).
    """

    def call(self, inputs, training=False):
        return inputs.mean(axis=self._axes, keepdims=self.keepdims, dtype=inputs.dtype)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        shape = cache
        count = np.prod([shape[a] for a in self._axes])
        # each cell receives dy / (dim1 * dim2 * dim3)
        dx = np.broadcast_to(self._expand(dy) / np.asarray(count, dy.dtype), shape)
        return np.ascontiguousarray(dx), {}


class GlobalMaxPooling3D(_GlobalPooling3D):
    """Maximum over the three spatial axes (tied maxima share the gradient equally, as
    TensorFlow's ``reduce_max`` gradient does).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the spatial axes with size 1.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, channels)`` (``(batch_size, 1, 1, 1, channels)`` with ``keepdims=True``).
    """

    def call(self, inputs, training=False):
        return inputs.max(axis=self._axes, keepdims=self.keepdims)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        mask = x == x.max(axis=self._axes, keepdims=True)
        count = mask.sum(axis=self._axes, keepdims=True).astype(x.dtype)
        return mask * (self._expand(dy) / count), {}
