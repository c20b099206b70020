"""``Conv3DTranspose``: the transpose (gradient) of a 3-D convolution, used to upsample volumes.

``y = conv3d_transpose(x)`` is the input gradient of the convolution that maps ``y``-shaped
volumes to ``x``-shaped ones with the same kernel: each input cell spreads a kernel-sized block
into the output, ``strides`` cells apart. Its own gradients are the forward convolution (for
``x``) and the convolution's kernel gradient with the roles of input and output swapped.
"""

from __future__ import annotations

from numpykeras.layers.convolutional.base_conv_transpose import BaseConvTranspose
from numpykeras.ops import _convnd


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution layer (sometimes called deconvolution).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 3 ints.
        strides: int or tuple of 3 ints (default 1).
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        output_padding: int or tuple of 3 ints, extra cells on one side of each output axis (each
            smaller than its stride); ``None`` (default) infers it.
        dilation_rate: int or tuple of 3 ints.
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as in ``Conv3D``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, new_dim1, new_dim2, new_dim3, filters)`` (or channels first), e.g.
        ``size * strides`` with ``padding="same"`` and no ``output_padding``.
    """

    rank = 3

    # Keras's argument order (data_format comes before output_padding, unlike in
    # Conv2DTranspose), so that every argument can be given positionally.
    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1, 1),
        padding="valid",
        data_format=None,
        output_padding=None,
        dilation_rate=(1, 1, 1),
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            output_padding=output_padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )

    def _geometry(self, out_spatial):
        """The padding of the convolution from ``out_spatial``-sized volumes that this layer
        transposes."""
        return _convnd.geometry(
            out_spatial, self.kernel_size, self.strides, self.dilation_rate, self.padding
        )

    def _conv(self, x):
        out_spatial = self._out_spatial(x.shape[1:-1])
        out_shape = (x.shape[0], *out_spatial, self.filters)
        geo = self._geometry(out_spatial)
        return _convnd.conv_dx(x, self.kernel.value, x_shape=out_shape, geo=geo)

    def _conv_backward(self, dz, x, need_dx):
        kernel = self.kernel.value
        geo = self._geometry(dz.shape[1:-1])
        dx = _convnd.conv(dz, kernel, geo=geo) if need_dx else None  # the forward convolution
        return dx, {self.kernel: _convnd.conv_dk(dz, x, k_shape=kernel.shape, geo=geo)}
