"""``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``: one value per feature of a sequence."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format
from numpykeras.ops import autodiff


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=3)

    @property
    def _axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            shape = list(input_shape)
            shape[self._axis] = 1
            return tuple(shape)
        channel_axis = 2 if self.data_format == "channels_last" else 1
        return (input_shape[0], input_shape[channel_axis])

    def _expand(self, dy):
        return dy if self.keepdims else np.expand_dims(dy, self._axis)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the time axis.

    Args:
        data_format: ``"channels_last"`` (default, ``(batch, steps, features)``) or
            ``"channels_first"``.
        keepdims: keep the time axis with size 1.

    Input shape:
        ``(batch_size, steps, features)`` (channels last).

    Output shape:
        ``(batch_size, features)`` (``(batch_size, 1, features)`` with ``keepdims=True``).
    """

    supports_masking = True

    def call(self, inputs, training=False, mask=None):
        if mask is not None:
            # The mean over the unmasked steps (Keras): sum(x * m) / sum(m), with ops so that
            # a tape records it.
            from numpykeras import ops

            m = ops.cast(np.asarray(autodiff.unwrap(mask), dtype=bool), self.dtype)
            m = ops.expand_dims(m, 2 if self._axis == 1 else 1)  # (batch, steps, 1)
            total = ops.sum(inputs * m, axis=self._axis, keepdims=self.keepdims)
            return total / ops.sum(m, axis=self._axis, keepdims=self.keepdims)
        return inputs.mean(axis=self._axis, keepdims=self.keepdims, dtype=inputs.dtype)

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        shape = cache
        # each step receives dy / steps
        dx = np.broadcast_to(self._expand(dy) / np.asarray(shape[self._axis], dy.dtype), shape)
        return np.ascontiguousarray(dx), {}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the time axis (tied maxima share the gradient equally, as in TensorFlow).

    Args:
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        keepdims: keep the time axis with size 1.

    Input shape:
        ``(batch_size, steps, features)`` (channels last).

    Output shape:
        ``(batch_size, features)`` (``(batch_size, 1, features)`` with ``keepdims=True``).
    """

    def call(self, inputs, training=False):
        return inputs.max(axis=self._axis, keepdims=self.keepdims)

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        mask = x == x.max(axis=self._axis, keepdims=True)  # (N, L, C) bool
        count = mask.sum(axis=self._axis, keepdims=True).astype(x.dtype)
        return mask * (self._expand(dy) / count), {}
