"""``Cropping2D``: removes rows and columns at the borders of images."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple
from numpykeras.ops.padding import pad_zeros


class Cropping2D(Layer):
    """Crops the spatial axes of images.

    Args:
        cropping: int (same on all four sides), tuple of 2 ints ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``; default no cropping.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, rows, cols, channels)`` (channels last).

    Output shape:
        ``(batch_size, rows - top - bottom, cols - left - right, channels)``.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        if isinstance(cropping, (int, np.integer)) and not isinstance(cropping, bool):
            if cropping < 0:
                raise ValueError(f"`cropping` cannot be negative. Received: cropping={cropping}.")
            self.cropping = ((int(cropping),) * 2, (int(cropping),) * 2)
        elif hasattr(cropping, "__len__") and not isinstance(cropping, str):
            if len(cropping) != 2:
                raise ValueError(
                    f"`cropping` should have two elements. Received: cropping={cropping}."
                )
            self.cropping = (
                normalize_tuple(cropping[0], 2, "1st entry of cropping", allow_zero=True),
                normalize_tuple(cropping[1], 2, "2nd entry of cropping", allow_zero=True),
            )
        else:
            raise ValueError(
                "`cropping` should be either an int, a tuple of 2 ints (symmetric_height_crop, "
                "symmetric_width_crop), or a tuple of 2 tuples of 2 ints ((top_crop, "
                f"bottom_crop), (left_crop, right_crop)). Received: cropping={cropping}."
            )
        self.input_spec = InputSpec(ndim=4)

    @property
    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def _check_size(self, shape, what):
        for axis, crop in zip(self._spatial_axes, self.cropping):
            if shape[axis] is not None and sum(crop) >= shape[axis]:
                raise ValueError(
                    "Values in `cropping` argument should be smaller than the corresponding "
                    f"spatial dimension of the input. Received: {what}={tuple(shape)}, "
                    f"cropping={self.cropping} (layer '{self.name}')"
                )

    def call(self, inputs, training=False):
        self._check_size(inputs.shape, "inputs.shape")
        index = [slice(None)] * 4
        for axis, (a, b) in zip(self._spatial_axes, self.cropping):
            index[axis] = slice(a, inputs.shape[axis] - b)
        return inputs[tuple(index)]

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        pad_width = [(0, 0)] * 4
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
