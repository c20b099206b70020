"""``DepthwiseConv2D``: each input channel convolved with its own ``depth_multiplier`` filters.

Output channel ``c * depth_multiplier + m`` is input channel ``c`` cross-correlated with
``kernel[:, :, c, m]`` (TensorFlow's order).
"""

from __future__ import annotations

from numpykeras import activations, constraints, initializers, ops, regularizers
from numpykeras.layers.convolutional.base_conv import (
    BaseConv,
    ConvComputeMixin,
    fold_batch_norm,
)
from numpykeras.layers.layer import Layer


class DepthwiseConv2D(ConvComputeMixin, BaseConv):
    """Depthwise 2-D convolution.

    Args:
        kernel_size: int or tuple of 2 ints.
        strides, padding, data_format, dilation_rate: as in ``Conv2D``.
        depth_multiplier: output channels per input channel (default 1).
        activation, use_bias: as in ``Conv2D``.
        depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
        activity_regularizer, depthwise_constraint, bias_constraint: as in Keras.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, new_height, new_width, channels * depth_multiplier)``.
    """

    rank = 2

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(
                "Invalid value for argument `depth_multiplier`. Expected a strictly positive "
                "value. "
                f"Received depth_multiplier={depth_multiplier}."
            )
        super().__init__(
            filters=1,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=depthwise_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=depthwise_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.depth_multiplier = depth_multiplier

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.filters = channels * self.depth_multiplier
        self._build_kernel_and_bias(
            self.kernel_size + (channels, self.depth_multiplier), self.filters, channels
        )

    def compute_output_shape(self, input_shape):
        shape = list(super().compute_output_shape(input_shape))
        channels = input_shape[self._channel_axis]
        shape[self._channel_axis] = None if channels is None else channels * self.depth_multiplier
        return tuple(shape)

    def _conv_args(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def _conv(self, x):
        return ops.depthwise_conv2d(x, self.kernel.value, **self._conv_args())

    def call_fused(self, inputs, batch_norm=None, activation=None, out=None, explicit_padding=None):
        """Inference of this layer followed by an inference-mode ``BatchNormalization`` and an
        activation (``None``, ``"relu"``, ``"relu6"``) in one pass, or ``None`` when they cannot
        be fused (channels first, or an activation of this layer's own). ``inputs`` must already
        be converted and checked by this layer; ``out`` and ``explicit_padding`` are as in
        ``Conv2D.call_fused``."""
        if self.data_format != "channels_last" or self.activation is not activations.linear:
            return None
        folded = fold_batch_norm(self, batch_norm)
        if folded is None:
            return None
        scale, bias = folded
        return ops.depthwise_conv2d(
            inputs,
            self.kernel.value,
            bias=bias,
            scale=scale,
            activation=activation,
            out=out,
            explicit_padding=explicit_padding,
            **self._conv_args(),
        )

    def _conv_backward(self, dz, x, need_dx):
        dx, dkernel = ops.depthwise_conv2d_backward(
            dz, x, self.kernel.value, need_dx=need_dx, **self._conv_args()
        )
        return dx, {self.kernel: dkernel}

    def get_config(self):
        config = Layer.get_config(self)
        config.update(
            {
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "depth_multiplier": self.depth_multiplier,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "depthwise_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
            }
        )
        return config
