"""``Conv2D``: 2-D cross-correlation of NHWC images with an HWIO kernel, plus bias and activation.

Each output pixel is
``y[n, i, j, o] = sum_{a, b, c} x[n, i*S + a*D, j*S + b*D, c] * kernel[a, b, c, o]``
(no kernel flip), over a padded input when ``padding="same"``. The output size along each spatial
axis is ``floor((H + 2P - F) / S) + 1`` (see :func:`numpykeras.ops.padding.conv_output_length`).
"""

from __future__ import annotations

import numpy as np

from numpykeras import activations, ops
from numpykeras.layers._common import (
    activate,
    activation_backward,
    is_plain_relu,
    logits_if_fusable,
)
from numpykeras.layers.convolutional.base_conv import BaseConv, fold_batch_norm
from numpykeras.ops.padding import padded_shape


def _to_nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _to_nchw(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


class Conv2D(BaseConv):
    """2-D convolution layer.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 2 ints, the window's height and width.
        strides: int or tuple of 2 ints (default 1).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size ``ceil(H / S)``;
            TensorFlow's rule puts an odd extra row/column of zeros at the bottom/right).
        data_format: ``"channels_last"`` (NHWC, default) or ``"channels_first"`` (NCHW).
        dilation_rate: int or tuple of 2 ints.
        groups: number of channel groups (``filters`` and input channels divisible by it).
        activation, use_bias, *_initializer, *_regularizer, *_constraint: as in ``Dense``.

    Input shape:
        ``(batch_size, height, width, channels)`` (or ``(batch_size, channels, height, width)``).

    Output shape:
        ``(batch_size, new_height, new_width, filters)`` (or channels first).
    """

    rank = 2

    def _conv_args(self):
        return dict(
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            groups=self.groups,
        )

    def _conv(self, x, fuse_relu):
        """``conv(x) + bias`` (then ReLU, in place, when ``fuse_relu``) on NHWC ``x``."""
        bias = None if self.bias is None else self.bias.value
        return ops.conv2d(  # (N, Ho, Wo, filters)
            x,
            self.kernel.value,
            bias=bias,
            activation="relu" if fuse_relu else None,
            **self._conv_args(),
        )

    def call(self, inputs, training=False):
        x = _to_nhwc(inputs) if self.data_format == "channels_first" else inputs
        fuse_relu = is_plain_relu(self.activation)
        y = self._conv(x, fuse_relu)
        if not fuse_relu:
            y = activate(self.activation, y)
        return _to_nchw(y) if self.data_format == "channels_first" else y

    def call_fused_max_pool(self, inputs, pool):
        """Inference of this layer followed by the ``MaxPooling2D`` layer ``pool`` in one pass
        (``ops.conv2d_max_pool2d``), or ``None`` when the pair cannot be fused.

        ``inputs`` must already be converted and checked by this layer (as ``__call__`` does).
        Fusable: both channels last, the same dtype, and a linear or plain ReLU activation.
        """
        fuse_relu = is_plain_relu(self.activation)
        if (
            self.data_format != "channels_last"
            or pool.data_format != "channels_last"
            or pool.dtype != self.dtype
            or not (fuse_relu or self.activation is activations.linear)
        ):
            return None
        return ops.conv2d_max_pool2d(
            inputs,
            self.kernel.value,
            bias=None if self.bias is None else self.bias.value,
            activation="relu" if fuse_relu else None,
            pool_size=pool.pool_size,
            pool_strides=pool.strides,
            pool_padding=pool.padding,
            **self._conv_args(),
        )

    def call_fused(
        self,
        inputs,
        batch_norm=None,
        residual=None,
        activation=None,
        out=None,
        explicit_padding=None,
    ):
        """Inference of this layer followed by an inference-mode ``BatchNormalization``, the
        addition of ``residual`` (an ``Add`` with another tensor) and an activation, in one
        pass (``ops.conv2d``'s epilogue), or ``None`` when they cannot be fused.

        ``activation(batch_norm(conv(x) + bias) + residual)``: the normalization's scale and
        offset become the convolution's ``scale`` and ``bias``. ``inputs`` must already be converted
        and checked by this layer (as ``__call__`` does). Fusable: channels last, this layer's
        own activation linear (a plain ReLU only when nothing else is fused), a
        ``residual`` of the output's shape and dtype, ``activation`` ``None``/``"relu"``/
        ``"relu6"``. ``out``: an array to write the output into; ``explicit_padding``: the zeros
        of a ``ZeroPadding2D`` in front of a ``"valid"`` convolution (see ``ops.conv2d``).
        """
        if self.data_format != "channels_last":
            return None
        if self.activation is not activations.linear:
            if not is_plain_relu(self.activation) or batch_norm or residual is not None:
                return None
            if activation not in (None, "relu"):
                return None
            activation = "relu"
        folded = fold_batch_norm(self, batch_norm)
        if folded is None:
            return None
        scale, bias = folded
        if residual is not None:
            shape = inputs.shape
            if explicit_padding is not None:
                shape = padded_shape(shape, ((0, 0),) + tuple(explicit_padding) + ((0, 0),))
            shape = self.compute_output_shape(shape)
            if not isinstance(residual, np.ndarray) or residual.shape != tuple(shape):
                return None
            if residual.dtype != inputs.dtype:
                return None
        return ops.conv2d(
            inputs,
            self.kernel.value,
            bias=bias,
            scale=scale,
            residual=residual,
            activation=activation,
            out=out,
            explicit_padding=explicit_padding,
            **self._conv_args(),
        )

    def forward(self, inputs, training=False):
        x = _to_nhwc(inputs) if self.data_format == "channels_first" else inputs
        if is_plain_relu(self.activation):
            # relu(z) > 0 exactly where z > 0, so the output also stands in for z
            z = y = self._conv(x, True)
        else:
            z = self._conv(x, False)
            y = activate(self.activation, z)
        out = _to_nchw(y) if self.data_format == "channels_first" else y
        return out, (x, z, y)

    def backward(self, dy, cache, need_dx=True):
        _, z, y = cache
        if self.data_format == "channels_first":
            dy = _to_nhwc(dy)
        if is_plain_relu(self.activation):
            return self._backward_linear(dy, cache, need_dx, relu_output=y)
        dz = activation_backward(self.activation, dy, z, y)
        return self._backward_linear(dz, cache, need_dx)

    def output_logits(self, cache):
        fused = logits_if_fusable(self.activation, cache[1])
        if fused is not None and self.data_format == "channels_first":
            fused = (_to_nchw(fused[0]), fused[1])
        return fused

    def backward_from_logits(self, dlogits, cache, need_dx=True):
        if self.data_format == "channels_first":
            dlogits = _to_nhwc(dlogits)
        return self._backward_linear(dlogits, cache, need_dx)

    def _backward_linear(self, dz, cache, need_dx, relu_output=None):
        x = cache[0]
        dx, dkernel, dbias = ops.conv2d_backward_fused(
            dz,
            x,
            self.kernel.value,
            need_dx=need_dx,
            relu_output=relu_output,
            use_bias=self.bias is not None,
            **self._conv_args(),
        )
        grads = {self.kernel: dkernel}
        if self.bias is not None:
            grads[self.bias] = dbias
        if dx is not None and self.data_format == "channels_first":
            dx = _to_nchw(dx)
        return dx, grads
