"""``SeparableConv2D``: a depthwise convolution followed by a 1x1 (pointwise) convolution."""

from __future__ import annotations

from numpykeras import activations, constraints, initializers, ops, regularizers
from numpykeras.layers.convolutional.base_conv import BaseConv, ConvComputeMixin
from numpykeras.layers.layer import Layer


class SeparableConv2D(ConvComputeMixin, BaseConv):
    """Depthwise separable 2-D convolution.

    ``z = pointwise(depthwise(x))``: each input channel is filtered by ``depth_multiplier``
    spatial kernels, then a 1x1 convolution mixes the ``channels * depth_multiplier`` results into
    ``filters``.

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias:
            as in ``Conv2D``.
        depth_multiplier: depthwise outputs per input channel (default 1).
        depthwise_initializer, pointwise_initializer, bias_initializer, and the matching
        regularizers and constraints: as in Keras.

    Input shape:
        ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, new_height, new_width, filters)``.
    """

    rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(
                "Invalid value for argument `depth_multiplier`. Expected a strictly positive "
                "value. "
                f"Received depth_multiplier={depth_multiplier}."
            )
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel",
            shape=self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel",
            shape=(1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self._build_bias(self.filters)
        self._finish_build(channels)

    def _dw_args(self):
        return dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def _conv(self, x):
        d = ops.depthwise_conv2d(x, self.depthwise_kernel.value, **self._dw_args())
        return d @ self.pointwise_kernel.value[0, 0]  # (N, Ho, Wo, C*M) @ (C*M, filters)

    def _conv_backward(self, dz, x, need_dx):
        pointwise = self.pointwise_kernel.value[0, 0]  # (C*M, filters)
        d = ops.depthwise_conv2d(x, self.depthwise_kernel.value, **self._dw_args())
        d2 = d.reshape(-1, d.shape[-1])
        dz2 = dz.reshape(-1, dz.shape[-1])
        dpointwise = (d2.T @ dz2)[None, None]  # (1, 1, C*M, filters)
        dd = dz @ pointwise.T  # (N, Ho, Wo, C*M)
        dx, ddepthwise = ops.depthwise_conv2d_backward(
            dd, x, self.depthwise_kernel.value, need_dx=need_dx, **self._dw_args()
        )
        return dx, {self.depthwise_kernel: ddepthwise, self.pointwise_kernel: dpointwise}

    def get_config(self):
        config = Layer.get_config(self)
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "depth_multiplier": self.depth_multiplier,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
            }
        )
        return config
