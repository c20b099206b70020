"""``MaxPooling3D`` and ``AveragePooling3D``: pooling over windows of volumes.

The kernels are the 3-D pooling primitives of ``ops/_convnd.py`` (which ``keras.ops.max_pool``
and ``keras.ops.average_pool`` use for 3 spatial axes) and their VJPs: padded cells never win a
maximum, the gradient of a window goes to its first maximum in row-major order, and border
windows of ``"same"`` average only their real cells, as Keras on TensorFlow does.
"""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import (
    InputSpec,
    Layer,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from numpykeras.ops import _convnd
from numpykeras.ops.padding import conv_output_length


class BasePooling3D(Layer):
    """``pool_size`` windows moved by ``strides`` (default: ``pool_size``) over volumes."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, 3, "pool_size")
        self.strides = normalize_tuple(self.pool_size if strides is None else strides, 3, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def _to_last(self, x):
        return np.moveaxis(x, 1, -1) if self.data_format == "channels_first" else x

    def _from_last(self, y):
        if self.data_format == "channels_first":
            return np.ascontiguousarray(np.moveaxis(y, -1, 1))
        return y

    def _geometry(self, spatial):
        return _convnd.geometry(spatial, self.pool_size, self.strides, (1, 1, 1), self.padding)

    def _pool_args(self, inputs):
        """The channels-last input and the pooling primitive's static arguments, once every
        output size is known to be positive (Keras's error otherwise)."""
        self.compute_output_shape(inputs.shape)
        x = self._to_last(inputs)
        return x, dict(pool=self.pool_size, geo=self._geometry(x.shape[1:-1]))

    def _spatial_axes(self):
        return (2, 3, 4) if self.data_format == "channels_first" else (1, 2, 3)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for i, axis in enumerate(self._spatial_axes()):
            length = conv_output_length(
                shape[axis], self.pool_size[i], self.padding, self.strides[i]
            )
            if length is not None and length <= 0:
                raise ValueError(
                    "Computed output size would be zero or negative. Received: "
                    f"`inputs.shape={tuple(input_shape)}`, `pool_size={self.pool_size}`, "
                    f"`strides={self.strides}`, `padding={self.padding}`."
                )
            shape[axis] = length
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


class MaxPooling3D(BasePooling3D):
    """Max pooling over 3-D spatial windows.

    Args:
        pool_size: int or tuple of 3 ints (default ``(2, 2, 2)``).
        strides: int, tuple of 3 ints or ``None`` (then equal to ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (padded cells never win the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, pooled_dim1, pooled_dim2, pooled_dim3, channels)``, where
        ``pooled = floor((size - pool) / stride) + 1`` for ``"valid"`` and ``ceil(size / stride)``
        for ``"same"``.
    """

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)

    def call(self, inputs, training=False):
        x, args = self._pool_args(inputs)
        return self._from_last(_convnd.max_pool(x, **args))

    def forward(self, inputs, training=False):
        return self.call(inputs), self._to_last(inputs)

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        x = cache
        geo = self._geometry(x.shape[1:-1])
        # The primitive's own VJP: each window's gradient goes to its first maximum.
        (dx,) = _convnd.max_pool.vjp(self._to_last(dy), None, x, pool=self.pool_size, geo=geo)
        return self._from_last(dx), {}


class AveragePooling3D(BasePooling3D):
    """Average pooling over 3-D spatial windows.

    With ``padding="same"`` the windows at the border average only the real cells (padded cells
    are not counted), as Keras on TensorFlow does.

    Args:
        pool_size: int or tuple of 3 ints (required, as in Keras 3).
        strides, padding, data_format: as in ``MaxPooling3D``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, pooled_dim1, pooled_dim2, pooled_dim3, channels)``.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)

    def call(self, inputs, training=False):
        x, args = self._pool_args(inputs)
        return self._from_last(_convnd.avg_pool(x, **args))

    def forward(self, inputs, training=False):
        return self.call(inputs), self._to_last(inputs)

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        x = cache
        geo = self._geometry(x.shape[1:-1])
        # The primitive's own VJP: each window's gradient shared by its real cells.
        (dx,) = _convnd.avg_pool.vjp(self._to_last(dy), None, x, pool=self.pool_size, geo=geo)
        return self._from_last(dx), {}
