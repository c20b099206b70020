"""``ZeroPadding3D``: adds zeros around volumes."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple
from numpykeras.ops.padding import pad_zeros

_ORDINALS = ("1st", "2nd", "3rd")


def spatial_pairs(value, name):
    """``value`` as ``((before, after),) * 3``, one pair per spatial axis (Keras's rule for the
    ``padding`` of ``ZeroPadding3D`` and the ``cropping`` of ``Cropping3D``): an int for every
    side, or 3 entries, each an int (both sides) or a pair."""
    word = "pad" if name == "padding" else "crop"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * 3
    if not hasattr(value, "__len__"):
        raise ValueError(
            f"`{name}` should be either an int, a tuple of 3 ints (symmetric_dim1_{word}, "
            f"symmetric_dim2_{word}, symmetric_dim3_{word}), or a tuple of 3 tuples of 2 ints "
            f"((left_dim1_{word}, right_dim1_{word}), (left_dim2_{word}, right_dim2_{word}), "
            f"(left_dim3_{word}, right_dim3_{word})). Received: {name}={value}."
        )
    if len(value) != 3:
        raise ValueError(f"`{name}` should have 3 elements. Received: {value}.")
    return tuple(
        normalize_tuple(entry, 2, f"{ordinal} entry of {name}", allow_zero=True)
        for ordinal, entry in zip(_ORDINALS, value)
    )


class ZeroPadding3D(Layer):
    """Pads the three spatial axes with zeros.

    Args:
        padding: int (the same on every side), tuple of 3 ints (symmetric padding of each axis),
            or tuple of 3 tuples of 2 ints ``((left_dim1, right_dim1), (left_dim2, right_dim2),
            (left_dim3, right_dim3))``; default 1 on every side.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, padded_dim1, padded_dim2, padded_dim3, channels)`` (or channels first),
        each ``left + size + right``.
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.padding = spatial_pairs(padding, "padding")
        self.input_spec = InputSpec(ndim=5)

    def _pad_width(self):
        if self.data_format == "channels_last":
            return ((0, 0), *self.padding, (0, 0))
        return ((0, 0), (0, 0), *self.padding)

    def call(self, inputs, training=False):
        return pad_zeros(inputs, self._pad_width())

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        slices = tuple(slice(a, dy.shape[i] - b) for i, (a, b) in enumerate(self._pad_width()))
        return np.ascontiguousarray(dy[slices]), {}

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (a, b) in enumerate(self._pad_width()):
            if shape[axis] is not None and (a or b):
                shape[axis] = shape[axis] + a + b
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "data_format": self.data_format})
        return config
