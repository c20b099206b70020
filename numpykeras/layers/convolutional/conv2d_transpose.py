"""``Conv2DTranspose``: the transpose (gradient) of a 2-D convolution, used to upsample.

``y = conv2d_transpose(x)`` is the input gradient of a convolution that maps ``y``-shaped images to
``x``-shaped ones with the same kernel, so each input pixel spreads a kernel-sized patch into the
output, ``strides`` pixels apart.
"""

from __future__ import annotations

import numpy as np

from numpykeras import ops
from numpykeras.layers.convolutional.base_conv import BaseConv, ConvComputeMixin
from numpykeras.layers.layer import normalize_tuple


def deconv_output_length(size, kernel_size, stride, padding, output_padding, dilation):
    """The output length of a transposed convolution along one axis (Keras's rule)."""
    if size is None:
        return None
    kernel = (kernel_size - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


class Conv2DTranspose(ConvComputeMixin, BaseConv):
    """Transposed 2-D convolution layer (sometimes called deconvolution).

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
        *_initializer, *_regularizer, *_constraint: as in ``Conv2D``.
        output_padding: int or tuple of 2 ints, extra rows/columns on one side of the output
            (each smaller than the stride); ``None`` infers it.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, new_height, new_width, filters)``, e.g. ``height * strides`` with
        ``padding="same"``.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), **kwargs):  # fmt: skip
        kwargs.pop("groups", None)
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            **kwargs,
        )
        self.output_padding = (
            None
            if output_padding is None
            else normalize_tuple(output_padding, 2, "output_padding", allow_zero=True)
        )
        if self.output_padding is not None:
            for p, s in zip(self.output_padding, self.strides):
                if p >= s:
                    raise ValueError(
                        f"Strides {self.strides} must be greater than output padding "
                        f"{self.output_padding}."
                    )

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        # (kh, kw, filters, in): the kernel of the convolution this layer transposes.
        self._build_kernel_and_bias(
            self.kernel_size + (self.filters, channels), self.filters, channels
        )

    def _out_spatial(self, spatial):
        return tuple(
            deconv_output_length(
                size,
                self.kernel_size[i],
                self.strides[i],
                self.padding,
                None if self.output_padding is None else self.output_padding[i],
                self.dilation_rate[i],
            )
            for i, size in enumerate(spatial)
        )

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], *self._out_spatial(input_shape[1:-1]), self.filters)
        return (input_shape[0], self.filters, *self._out_spatial(input_shape[2:]))

    def _args(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def _conv(self, x):
        n, h, w, _ = x.shape
        out_shape = (n, *self._out_spatial((h, w)), self.filters)
        # The input gradient of conv2d(y, kernel) for a y of the output's shape, given dy = x.
        y_stand_in = np.broadcast_to(np.zeros((), dtype=x.dtype), out_shape)
        z, _ = ops.conv2d_backward(x, y_stand_in, self.kernel.value, **self._args())
        return np.ascontiguousarray(z)

    def _conv_backward(self, dz, x, need_dx):
        # dx is the forward convolution of dz; the kernel gradient swaps the roles of x and dz.
        dx = ops.conv2d(dz, self.kernel.value, **self._args()) if need_dx else None
        _, dkernel = ops.conv2d_backward(x, dz, self.kernel.value, need_dx=False, **self._args())
        return dx, {self.kernel: dkernel}

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        config["output_padding"] = self.output_padding
        return config
