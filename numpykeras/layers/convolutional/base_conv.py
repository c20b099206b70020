"""Shared argument handling for ``Conv1D`` / ``Conv2D`` (N-D convolution layers)."""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import constraint_config, weight_args_config
from numpykeras.layers.layer import (
    InputSpec,
    Layer,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from numpykeras.ops.padding import conv_output_length


class BaseConv(Layer):
    """Validates and stores the arguments common to all convolution layers of a given ``rank``."""

    rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        rank = self.rank
        if filters is not None and (
            not isinstance(filters, (int, np.integer)) or isinstance(filters, bool)
        ):
            raise ValueError(
                f"Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        if filters is not None and filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        self.filters = int(filters)
        self.groups = groups
        if not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(
                f"The number of groups must be a positive integer. Received: groups={groups}."
            )
        if self.filters % groups != 0:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}."
            )
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        allowed = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        self.padding = normalize_padding(padding, allowed)
        self.data_format = normalize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        if lora_rank:
            raise ValueError("numpykeras does not support LoRA (`lora_rank`).")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=rank + 2)

    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups != 0:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of groups. "
                f"Received groups={self.groups}, but the input has {channels} channels "
                f"(full input shape is {input_shape})."
            )
        self._build_kernel_and_bias(
            self.kernel_size + (channels // self.groups, self.filters), self.filters, channels
        )

    def _input_channels(self, input_shape) -> int:
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. "
                f"Found None. Full input shape received: {input_shape}"
            )
        return channels

    def _build_kernel_and_bias(self, kernel_shape, bias_size, channels):
        """Creates ``kernel`` and, with ``use_bias``, a ``bias`` of ``bias_size`` (Keras names)."""
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._build_bias(bias_size)
        self._finish_build(channels)

    def _build_bias(self, size):
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(size,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _finish_build(self, channels):
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: channels})
        self.built = True

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            spatial = input_shape[1:-1]
        else:
            spatial = input_shape[2:]
        out = []
        for i, size in enumerate(spatial):
            padding = "same" if self.padding == "causal" else self.padding
            length = conv_output_length(
                size, self.kernel_size[i], padding, self.strides[i], self.dilation_rate[i]
            )
            if length is not None and length <= 0:
                raise ValueError(
                    "Computed output size would be negative. Received "
                    f"`inputs shape={input_shape}`, "
                    f"`kernel shape={self.kernel_size + (None, self.filters)}`, "
                    f"`dilation_rate={self.dilation_rate}`."
                )
            out.append(length)
        if self.data_format == "channels_last":
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "groups": self.groups,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **weight_args_config(self, "kernel", "bias"),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                **constraint_config(self, "kernel", "bias"),
            }
        )
        return config


class ConvComputeMixin:
    """The activation, bias and data-format plumbing shared by convolution layers.

    A subclass supplies ``_conv(x)`` (channels-last input -> pre-bias output) and
    ``_conv_backward(dz, x, need_dx)`` (-> ``(dx, {variable: gradient})`` without the bias), and the
    mixin adds the bias, applies the activation, handles ``channels_first`` and fuses a final
    softmax/sigmoid with a crossentropy loss.
    """

    def _to_last(self, x):
        return np.moveaxis(x, 1, -1) if self.data_format == "channels_first" else x

    def _from_last(self, y):
        if self.data_format == "channels_first":
            return np.ascontiguousarray(np.moveaxis(y, -1, 1))
        return y

    def _preactivation(self, x):
        z = self._conv(x)
        if self.bias is not None:
            z += self.bias.value
        return z

    def call(self, inputs, training=False):
        from numpykeras.layers._common import activate

        return self._from_last(
            activate(self.activation, self._preactivation(self._to_last(inputs)))
        )

    def forward(self, inputs, training=False):
        from numpykeras.layers._common import activate

        x = np.ascontiguousarray(self._to_last(inputs))
        z = self._preactivation(x)
        y = activate(self.activation, z)
        return self._from_last(y), (x, z, y)

    def backward(self, dy, cache, need_dx=True):
        from numpykeras.layers._common import activation_backward

        _, z, y = cache
        dz = activation_backward(self.activation, self._to_last(dy), z, y)
        return self._backward_preactivation(dz, cache, need_dx)

    def output_logits(self, cache):
        from numpykeras.layers._common import logits_if_fusable

        fused = logits_if_fusable(self.activation, cache[1])
        return None if fused is None else (self._from_last(fused[0]), fused[1])

    def backward_from_logits(self, dlogits, cache, need_dx=True):
        return self._backward_preactivation(self._to_last(dlogits), cache, need_dx)

    def _backward_preactivation(self, dz, cache, need_dx):
        x = cache[0]
        dx, grads = self._conv_backward(dz, x, need_dx)
        if self.bias is not None:
            grads[self.bias] = dz.reshape(-1, dz.shape[-1]).sum(axis=0)
        return (None if dx is None else self._from_last(dx)), grads


def fold_batch_norm(layer, batch_norm):
    """``(scale, bias)`` such that ``batch_norm(conv(x) + layer.bias) == conv(x) * scale + bias``
    at inference (``scale`` is ``None`` without a ``batch_norm``), or ``None`` when the two
    layers' dtypes differ (then they are not fused)."""
    bias = None if layer.bias is None else layer.bias.value
    if batch_norm is None:
        return None, bias
    if batch_norm.dtype != layer.dtype:
        return None
    scale, offset = batch_norm.inference_affine()
    return scale, (offset if bias is None else bias * scale + offset)
