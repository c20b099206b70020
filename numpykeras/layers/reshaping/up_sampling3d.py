"""``UpSampling3D``: enlarges volumes by integer factors, repeating each cell."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple


class UpSampling3D(Layer):
    """Upsampling layer for 3D inputs: each cell is repeated ``size[0]`` times along the first
    spatial axis, ``size[1]`` along the second and ``size[2]`` along the third (Keras's
    ``ops.repeat``; there is no interpolation option, as in Keras 3).

    Args:
        size: int or tuple of 3 ints, the upsampling factors (default ``(2, 2, 2)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, dim1 * size[0], dim2 * size[1], dim3 * size[2], channels)`` (or channels
        first).
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = normalize_tuple(size, 3, "size")
        self.input_spec = InputSpec(ndim=5)

    @property
    def _spatial_axes(self):
        return (2, 3, 4) if self.data_format == "channels_first" else (1, 2, 3)

    def call(self, inputs, training=False):
        y = inputs
        for axis, factor in zip(self._spatial_axes, self.size):
            y = np.repeat(y, factor, axis=axis)
        return y

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        # every input cell was copied to a (size[0], size[1], size[2]) block: sum the block
        split = [dy.shape[0]]
        for axis in range(1, 5):
            if axis in self._spatial_axes:
                factor = self.size[self._spatial_axes.index(axis)]
                split += [dy.shape[axis] // factor, factor]
            else:
                split.append(dy.shape[axis])
        first = self._spatial_axes[0]
        block_axes = (first + 1, first + 3, first + 5)  # the factors, after each split axis
        return dy.reshape(split).sum(axis=block_axes), {}

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(self._spatial_axes, self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format})
        return config
