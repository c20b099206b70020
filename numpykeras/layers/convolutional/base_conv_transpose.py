"""Arguments, weights, output shape and config of transposed convolutions of any rank.

A subclass sets ``rank`` and supplies the kernels of ``ConvComputeMixin``: ``_conv(x)`` (the
transposed convolution of a channels-last ``x``) and ``_conv_backward(dz, x, need_dx)``.
"""

from __future__ import annotations

from numpykeras.layers.convolutional.base_conv import BaseConv, ConvComputeMixin
from numpykeras.layers.convolutional.conv2d_transpose import deconv_output_length
from numpykeras.layers.layer import UnknownArgumentsError, normalize_tuple


class BaseConvTranspose(ConvComputeMixin, BaseConv):
    """A transposed convolution: the input gradient of a convolution with the same kernel, whose
    output has the size Keras computes (``deconv_output_length``). Kernel
    ``(*kernel_size, filters, in_channels)``; no ``groups``."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):  # fmt: skip
        if "groups" in kwargs:
            raise UnknownArgumentsError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{{'groups': {kwargs['groups']!r}}}",
                {"groups": kwargs["groups"]},
            )
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            **kwargs,
        )
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(
                output_padding, self.rank, "output_padding", allow_zero=True
            )
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {op} but `strides` "
                        f"is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}"
                    )

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        # (*kernel_size, filters, in): the kernel of the convolution this layer transposes.
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

    def get_config(self):
        ordered = {}  # Keras's key order: output_padding follows padding; no groups
        for key, value in super().get_config().items():
            if key != "groups":
                ordered[key] = value
            if key == "padding":
                ordered["output_padding"] = self.output_padding
        return ordered
