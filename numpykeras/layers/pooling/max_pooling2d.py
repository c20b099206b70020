"""``MaxPooling2D``: the maximum of each ``pool_size`` window."""

from __future__ import annotations

from numpykeras import ops
from numpykeras.layers.pooling.base_pooling import BasePooling2D


class MaxPooling2D(BasePooling2D):
    """Max pooling over 2-D spatial windows.

    Args:
        pool_size: int or tuple of 2 ints (default ``(2, 2)``).
        strides: int, tuple of 2 ints or ``None`` (then equal to ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padded cells never win the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, pooled_height, pooled_width, channels)``, where
        ``pooled = floor((H - pool) / S) + 1`` for ``"valid"`` and ``ceil(H / S)`` for ``"same"``.
    """

    def call(self, inputs, training=False):
        return self._back(ops.max_pool2d(self._nhwc(inputs), *self._args()))

    def forward(self, inputs, training=False):
        y, cache = ops.max_pool2d_forward(self._nhwc(inputs), *self._args())
        return self._back(y), cache

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        return self._back(ops.max_pool2d_backward(self._nhwc(dy), cache)), {}
