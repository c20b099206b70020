"""``Dense``: ``y = activation(x @ kernel + bias)`` on the last axis of inputs of any rank."""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import (
    activate,
    activation_backward,
    constraint_config,
    is_plain_relu,
    logits_if_fusable,
    relu_in_place,
    weight_args_config,
)
from numpykeras.layers.layer import InputSpec, Layer
from numpykeras.ops._parallel import matmul


class Dense(Layer):
    """A densely-connected layer.

    Args:
        units: positive int, the size of the output's last axis.
        activation: activation function or name (``None`` means linear).
        use_bias: whether to add a bias vector.
        kernel_initializer, bias_initializer: initializers (default ``"glorot_uniform"`` and
            ``"zeros"``).
        kernel_regularizer, bias_regularizer, activity_regularizer: optional regularizers.
        kernel_constraint, bias_constraint: optional constraints.

    Input shape:
        N-D array ``(batch_size, ..., input_dim)``.

    Output shape:
        N-D array ``(batch_size, ..., units)``.
    """

    supports_masking = True

    def __init__(
        self,
        units,
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
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        if lora_rank:
            raise ValueError("numpykeras does not support LoRA (`lora_rank`) on Dense.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the inputs to a Dense layer should be defined. "
                f"Found None. Full input shape received: {input_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def _linear(self, x):
        w = self.kernel.value
        if x.ndim == 2:
            z = matmul(x, w)  # (batch, in) @ (in, units), on the kernel threads when large
        else:
            z = np.matmul(x, w)  # (..., in) @ (in, units) -> (..., units)
        if self.bias is not None:
            z += self.bias.value
        return z

    def call(self, inputs, training=False):
        if is_plain_relu(self.activation):
            return relu_in_place(self._linear(inputs))  # z is a fresh array: no copy
        return activate(self.activation, self._linear(inputs))

    def _call_with_ops(self, inputs, training=False):
        """``call`` written with ops: what a tape differentiates a second time (a gradient
        penalty differentiates this layer's gradient)."""
        from numpykeras import ops

        activation = activations.as_ops(self.activation)
        if activation is None:
            return None
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        return activation(z)

    def forward(self, inputs, training=False):
        z = self._linear(inputs)
        if is_plain_relu(self.activation):
            # relu(z) > 0 exactly where z > 0, so the output also stands in for z
            z = y = relu_in_place(z)
        else:
            y = activate(self.activation, z)
        return y, (inputs, z, y)

    def backward(self, dy, cache, need_dx=True):
        x, z, y = cache
        return self.backward_from_logits(
            activation_backward(self.activation, dy, z, y), cache, need_dx
        )

    def output_logits(self, cache):
        return logits_if_fusable(self.activation, cache[1])

    def backward_from_logits(self, dz, cache, need_dx=True):
        x = cache[0]
        dz2 = dz.reshape(-1, self.units)  # (batch*..., units)
        grads = {self.kernel: matmul(x.reshape(-1, x.shape[-1]).T, dz2)}  # (in, units)
        if self.bias is not None:
            grads[self.bias] = dz2.sum(axis=0)
        dx = None
        if need_dx:
            dx = matmul(dz2, self.kernel.value.T).reshape(x.shape)  # (..., in)
        return dx, grads

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **weight_args_config(self, "kernel", "bias"),
                **constraint_config(self, "kernel", "bias"),
                "quantization_config": None,
            }
        )
        return config
