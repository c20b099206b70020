"""``Cropping1D``: removes steps from the start and end of a sequence."""

from __future__ import annotations

from numpykeras.layers.layer import InputSpec, Layer, normalize_tuple
from numpykeras.ops.padding import pad_zeros


class Cropping1D(Layer):
    """Crops along the time axis (axis 1).

    Args:
        cropping: int (same at both ends) or tuple of 2 ints ``(start, end)``; default ``(1, 1)``.

    Input shape:
        ``(batch_size, steps, features)``.

    Output shape:
        ``(batch_size, steps - start - end, features)``.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = normalize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def _check_length(self, shape, what):
        if shape[1] is not None and sum(self.cropping) >= shape[1]:
            raise ValueError(
                "`cropping` parameter of `Cropping1D` layer must be smaller than the input "
                f"length. Received: {what}={tuple(shape)}, cropping={self.cropping} "
                f"(layer '{self.name}')"
            )

    def call(self, inputs, training=False):
        self._check_length(inputs.shape, "inputs.shape")
        start, end = self.cropping
        return inputs[:, start : inputs.shape[1] - end, :]

    def forward(self, inputs, training=False):
        return self.call(inputs), None

    def backward(self, dy, cache, need_dx=True):
        start, end = self.cropping
        pad_width = ((0, 0), (start, end), (0, 0))
        return pad_zeros(dy, pad_width), {}  # the cropped steps get zero gradient

    def compute_output_shape(self, input_shape):
        self._check_length(input_shape, "input_shape")
        length = None if input_shape[1] is None else input_shape[1] - sum(self.cropping)
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        config = super().get_config()
        config["cropping"] = self.cropping
        return config
