"""``Conv1D``: 1-D cross-correlation over sequences ``(batch, steps, channels)``.

Computed as a 2-D convolution over a height-1 image, so it shares the 2-D kernels' speed.
"""

from __future__ import annotations

import numpy as np

from numpykeras import ops
from numpykeras.layers.convolutional.base_conv import BaseConv, ConvComputeMixin


class Conv1D(ConvComputeMixin, BaseConv):
    """1-D convolution layer (temporal convolution).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 1 int.
        strides: int or tuple of 1 int (default 1).
        padding: ``"valid"``, ``"same"`` or ``"causal"`` (left padding only, so ``output[t]``
            never sees ``input[t + 1:]``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate, groups, activation, use_bias, *_initializer, *_regularizer,
            *_constraint: as in ``Conv2D``.

    Input shape:
        ``(batch_size, steps, channels)``.

    Output shape:
        ``(batch_size, new_steps, filters)``.
    """

    rank = 1

    def _args(self):
        padding = "valid" if self.padding == "causal" else self.padding
        return dict(
            strides=(1, self.strides[0]),
            padding=padding,
            dilation_rate=(1, self.dilation_rate[0]),
            groups=self.groups,
        )

    def _causal_pad(self):
        return self.dilation_rate[0] * (self.kernel_size[0] - 1) if self.padding == "causal" else 0

    def _as_image(self, x):
        pad = self._causal_pad()
        if pad:
            x = np.pad(x, ((0, 0), (pad, 0), (0, 0)))
        return x[:, None]  # (N, 1, L, C)

    def _conv(self, x):
        kernel = self.kernel.value[None]  # (1, k, Cin/groups, filters)
        return ops.conv2d(self._as_image(x), kernel, **self._args())[:, 0]

    def _conv_backward(self, dz, x, need_dx):
        kernel = self.kernel.value[None]
        dx, dkernel = ops.conv2d_backward(
            dz[:, None], self._as_image(x), kernel, need_dx=need_dx, **self._args()
        )
        if dx is not None:
            dx = dx[:, 0, self._causal_pad() :]
        return dx, {self.kernel: dkernel[0]}
