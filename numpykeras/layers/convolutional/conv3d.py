"""``Conv3D``: 3-D cross-correlation of volumes ``(batch, dim1, dim2, dim3, channels)`` with a
``(kd, kh, kw, in, out)`` kernel, plus bias and activation.

Each output cell is ``y[n, i, j, k, o] =
sum_{a, b, c, ch} x[n, i*S + a*D, j*S + b*D, k*S + c*D, ch] * kernel[a, b, c, ch, o]``
(no kernel flip) over a zero-padded input when ``padding="same"`` (TensorFlow's padding: an odd
extra cell goes at the end). The kernels are the 3-D convolution of ``ops/_convnd.py`` and its
two adjoints, which ``keras.ops.conv`` uses for 3 spatial axes too.
"""

from __future__ import annotations

from numpykeras.layers.convolutional.base_conv import BaseConv, ConvComputeMixin
from numpykeras.ops import _convnd


class Conv3D(ConvComputeMixin, BaseConv):
    """3-D convolution layer (spatial convolution over volumes).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 3 ints, the window's depth, height and width.
        strides: int or tuple of 3 ints (default 1); ``strides > 1`` cannot be combined with
            ``dilation_rate > 1``.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(size / stride)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or tuple of 3 ints.
        groups: number of channel groups (``filters`` and input channels divisible by it).
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as in ``Conv2D``.

    Input shape:
        ``(batch_size, dim1, dim2, dim3, channels)`` (channels first:
        ``(batch_size, channels, dim1, dim2, dim3)``).

    Output shape:
        ``(batch_size, new_dim1, new_dim2, new_dim3, filters)`` (or channels first), each new size
        ``floor((size + padding - dilation * (kernel - 1) - 1) / stride) + 1``.
    """

    rank = 3

    def _geometry(self, spatial):
        return _convnd.geometry(
            spatial,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
            groups=self.groups,
        )

    def _conv(self, x):
        geo = self._geometry(x.shape[1:-1])
        return _convnd.conv(x, self.kernel.value, geo=geo)  # (N, D', H', W', filters)

    def _conv_backward(self, dz, x, need_dx):
        kernel = self.kernel.value
        geo = self._geometry(x.shape[1:-1])
        dx = _convnd.conv_dx(dz, kernel, x_shape=x.shape, geo=geo) if need_dx else None
        return dx, {self.kernel: _convnd.conv_dk(x, dz, k_shape=kernel.shape, geo=geo)}
