"""``Cropping3D``: removes cells at the borders of volumes."""

from __future__ import annotations

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format
from numpykeras.layers.reshaping.zero_padding3d import spatial_pairs
from numpykeras.ops.padding import pad_zeros


class Cropping3D(Layer):
    """Crops the three spatial axes of volumes.

    Args:
        cropping: int (the same on every side), tuple of 3 ints (symmetric cropping of each
            axis), or tuple of 3 tuples of 2 ints ``((left_dim1, right_dim1), (left_dim2,
            right_dim2), (left_dim3, right_dim3))``; default 1 on every side, as in Keras 3.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, cropped_dim1, cropped_dim2, cropped_dim3, channels)`` (or channels
        first), each ``size - left - right``.
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.cropping = spatial_pairs(cropping, "cropping")
        self.input_spec = InputSpec(ndim=5)

    @property
    def _spatial_axes(self):
        return (2, 3, 4) if self.data_format == "channels_first" else (1, 2, 3)

    def _check_size(self, shape, what):
        for axis, crop in zip(self._spatial_axes, self.cropping):
            if shape[axis] is not None and sum(crop) >= shape[axis]:
                raise ValueError(
                    "Values in `cropping` argument should be smaller than the corresponding "
                    f"spatial dimension of the input. Received: {what}={tuple(shape)}, "
                    f"cropping={self.cropping}"
                )

    def call(self, inputs, training=False):
        self._check_size(inputs.shape, "inputs.shape")
        index = [slice(None)] * 5
        for axis, (a, b) in zip(self._spatial_axes, self.cropping):
            index[axis] = slice(a, inputs.shape[axis] - b)
        return inputs[tuple(index)]

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        pad_width = [(0, 0)] * 5
        for axis, crop in zip(self._spatial_axes, self.cropping):
            pad_width[axis] = crop
        return pad_zeros(dy, pad_width), {}  # the cropped border gets zero gradient

    def compute_output_shape(self, input_shape):
        self._check_size(input_shape, "input_shape")
        shape = list(input_shape)
        for axis, crop in zip(self._spatial_axes, self.cropping):
            if shape[axis] is not None:
                shape[axis] -= sum(crop)
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"cropping": self.cropping, "data_format": self.data_format})
        return config
