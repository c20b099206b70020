"""``ZeroPadding2D``: adds rows and columns of zeros around images."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import InputSpec, Layer, normalize_data_format, normalize_tuple
from numpykeras.ops.padding import pad_zeros


class ZeroPadding2D(Layer):
    """Pads the spatial axes with zeros.

    Args:
        padding: int (same on all four sides), tuple of 2 ints ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch_size, rows, cols, channels)``.

    Output shape:
        ``(batch_size, top + rows + bottom, left + cols + right, channels)``.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        if isinstance(padding, (int, np.integer)):
            padding = ((padding, padding), (padding, padding))
        elif hasattr(padding, "__len__") and len(padding) == 2:
            if all(isinstance(p, (int, np.integer)) for p in padding):
                padding = ((padding[0], padding[0]), (padding[1], padding[1]))
            else:
                padding = (
                    normalize_tuple(padding[0], 2, "1st entry of padding", allow_zero=True),
                    normalize_tuple(padding[1], 2, "2nd entry of padding", allow_zero=True),
                )
        else:
            raise ValueError(
                "`padding` should be either an int, a tuple of 2 ints (symmetric_height_pad, "
                "symmetric_width_pad), or a tuple of 2 tuples of 2 ints ((top_pad, bottom_pad), "
                f"(left_pad, right_pad)). Received: padding={padding}."
            )
        self.padding = tuple(tuple(int(v) for v in p) for p in padding)
        if any(v < 0 for p in self.padding for v in p):
            raise ValueError(f"`padding` must not be negative. Received: padding={padding}.")
        self.input_spec = InputSpec(ndim=4)

    def _pad_width(self):
        (t, b), (l, r) = self.padding
        if self.data_format == "channels_last":
            return ((0, 0), (t, b), (l, r), (0, 0))
        return ((0, 0), (0, 0), (t, b), (l, r))

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
