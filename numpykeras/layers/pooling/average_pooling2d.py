"""``AveragePooling2D``: the mean of each ``pool_size`` window."""

from __future__ import annotations

from numpykeras import ops
from numpykeras.layers.pooling.base_pooling import BasePooling2D


class AveragePooling2D(BasePooling2D):
    """Average pooling over 2-D spatial windows.

    With ``padding="same"`` the windows at the border average only the real cells (padded cells
    are not counted), as Keras on TensorFlow does.

    Args:
        pool_size, strides, padding, data_format: as in ``MaxPooling2D``.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, pooled_height, pooled_width, channels)``.
    """

    def call(self, inputs, training=False):
        return self._back(ops.avg_pool2d(self._nhwc(inputs), *self._args()))

    def forward(self, inputs, training=False):
        return self.call(inputs), tuple(self._nhwc(inputs).shape)

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        return self._back(ops.avg_pool2d_backward(self._nhwc(dy), cache, *self._args())), {}
