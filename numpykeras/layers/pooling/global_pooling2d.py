"""``GlobalAveragePooling2D`` and ``GlobalMaxPooling2D``: one value per channel."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format


class _GlobalPooling2D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=4)

    @property
    def _axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            shape = list(input_shape)
            for a in self._axes:
                shape[a] = 1
            return tuple(shape)
        if self.data_format == "channels_last":
            return (input_shape[0], input_shape[3])
        return (input_shape[0], input_shape[1])

    def _expand(self, dy):
        return dy if self.keepdims else np.expand_dims(dy, self._axes)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, channels)`` (``(batch_size, 1, 1, channels)`` with ``keepdims=True``).
    """

    def call(self, inputs, training=False):
        return inputs.mean(axis=self._axes, keepdims=self.keepdims, dtype=inputs.dtype)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        shape = cache
        count = shape[self._axes[0]] * shape[self._axes[1]]
        dx = np.broadcast_to(self._expand(dy) / np.asarray(count, dy.dtype), shape)
        return np.ascontiguousarray(dx), {}


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over the spatial axes (the gradient goes to the first maximum of each channel).

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, channels)`` (``(batch_size, 1, 1, channels)`` with ``keepdims=True``).
    """

    def call(self, inputs, training=False):
        return inputs.max(axis=self._axes, keepdims=self.keepdims)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        y = x.max(axis=self._axes, keepdims=True)
        mask = x == y
        # Split ties evenly, as TensorFlow's reduce_max gradient does.
        count = mask.sum(axis=self._axes, keepdims=True)
        dx = mask * (self._expand(dy) / count).astype(x.dtype)
        return dx.astype(x.dtype), {}
