"""``MaxPooling1D`` and ``AveragePooling1D``: pooling over windows of a sequence.

A sequence ``(N, L, C)`` is pooled as the image ``(N, 1, L, C)`` with ``(1, pool_size)`` windows by
the 2-D kernels of :mod:`numpykeras.ops`, so padding, tie-breaking and border averaging are exactly
those of the 2-D layers (TensorFlow's).
"""

from __future__ import annotations

import numpy as np

from numpykeras import ops
from numpykeras.layers.layer import (
    InputSpec,
    Layer,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from numpykeras.ops.padding import conv_output_length


class BasePooling1D(Layer):
    """``pool_size`` windows moved by ``strides`` (default: ``pool_size``) along the time axis."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 1, "pool_size")
        self.strides = normalize_tuple(self.pool_size if strides is None else strides, 1, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def _args(self):
        return (1, self.pool_size[0]), (1, self.strides[0]), self.padding

    def _as_image(self, x):
        """``(N, L, C)`` (or channels-first ``(N, C, L)``) -> the ``(N, 1, L, C)`` view."""
        if self.data_format == "channels_first":
            x = np.moveaxis(x, 1, -1)
        return x[:, None]

    def _from_image(self, y):
        y = y[:, 0]
        if self.data_format == "channels_first":
            return np.ascontiguousarray(np.moveaxis(y, -1, 1))
        return y

    def compute_output_shape(self, input_shape):
        steps_axis = 2 if self.data_format == "channels_first" else 1
        length = conv_output_length(
            input_shape[steps_axis], self.pool_size[0], self.padding, self.strides[0]
        )
        if length is not None and length <= 0:
            raise ValueError(
                f"Computed output size would be negative. Received: inputs.shape={input_shape} "
                f"and pool_size={self.pool_size} (layer '{self.name}')."
            )
        shape = list(input_shape)
        shape[steps_axis] = length
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "padding": self.padding,
                "strides": self.strides,
                "data_format": self.data_format,
            }
        )
        return config


class MaxPooling1D(BasePooling1D):
    """Max pooling over windows of a sequence.

    Args:
        pool_size: int, the window size (default 2).
        strides: int or ``None`` (then equal to ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padded steps never win the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, steps, features)`` (channels last).

    Output shape:
        ``(batch_size, pooled_steps, features)``, ``pooled_steps = floor((steps - pool_size) /
        strides) + 1`` for ``"valid"`` and ``ceil(steps / strides)`` for ``"same"``.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def call(self, inputs, training=False):
        return self._from_image(ops.max_pool2d(self._as_image(inputs), *self._args()))

    def forward(self, inputs, training=False):
        y, cache = ops.max_pool2d_forward(self._as_image(inputs), *self._args())
        return self._from_image(y), cache

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        return self._from_image(ops.max_pool2d_backward(self._as_image(dy), cache)), {}


class AveragePooling1D(BasePooling1D):
    """Average pooling over windows of a sequence.

    With ``padding="same"`` the windows at the ends average only the real steps (padded steps are
    not counted), as Keras on TensorFlow does.

    Args:
        pool_size: int, the window size (required, as in Keras 3).
        strides, padding, data_format: as in ``MaxPooling1D``.

    Input shape:
        ``(batch_size, steps, features)`` (channels last).

    Output shape:
        ``(batch_size, pooled_steps, features)``.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def call(self, inputs, training=False):
        return self._from_image(ops.avg_pool2d(self._as_image(inputs), *self._args()))

    def forward(self, inputs, training=False):
        return self.call(inputs), self._as_image(inputs).shape

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        dx = ops.avg_pool2d_backward(self._as_image(dy), cache, *self._args())
        return self._from_image(dx), {}
