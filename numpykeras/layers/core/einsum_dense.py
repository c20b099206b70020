"""``EinsumDense``: a dense layer whose contraction is an einsum equation,
``y = activation(einsum(equation, x, kernel) + bias)``."""

from __future__ import annotations

import re

from numpykeras import activations, constraints, initializers, ops, regularizers
from numpykeras.layers.layer import InputSpec, Layer


def _einsum_shapes(equation, bias_axes, input_shape, output_shape):
    """``(kernel_shape, bias_shape, full_output_shape, input_axes, output_axes)`` of an
    ``EinsumDense`` equation ``"ab,bc->ac"``, ``"...ab,bc->...ac"`` or ``"ab...,bc->ac..."``
    (the kernel's axes taken from the input or, for new axes, from ``output_shape``)."""
    flat = equation.replace("...", "0")
    left = False
    match = re.fullmatch(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", flat)
    if match is None:
        match = re.fullmatch(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", flat)
        left = match is not None
    if match is None:
        match = re.fullmatch(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", flat)
    if match is None:
        raise ValueError(
            f"Invalid einsum equation '{equation}'. Equations must be in the form "
            "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
        )
    in_spec, w_spec, out_spec = match.groups()
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    full = [input_shape[0], *([output_shape] if isinstance(output_shape, int) else output_shape)]
    if elided > 0 and left:
        full[1:1] = list(input_shape[1:elided])
    elif elided > 0:
        full += list(input_shape[len(input_shape) - elided :])
    offset = elided if left else 0
    in_pos = {c: i + offset for i, c in enumerate(in_spec)}
    out_pos = {c: i + offset for i, c in enumerate(out_spec)}
    for c in in_spec:
        if c in out_pos and full[out_pos[c]] is not None:
            if full[out_pos[c]] != input_shape[in_pos[c]]:
                raise ValueError(
                    f"Input shape and output shape do not match at shared dimension '{c}'. "
                    f"Input shape is {input_shape[in_pos[c]]}, and output shape is "
                    f"{full[out_pos[c]]}."
                )
    for c in out_spec:
        if c not in in_spec and c not in w_spec:
            raise ValueError(
                f"Dimension '{c}' was specified in the output '{out_spec}' but has no "
                f"corresponding dim in the input spec '{in_spec}' or weight spec '{w_spec}'."
            )
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(w_spec):
        if c in out_pos:
            kernel_shape.append(full[out_pos[c]])
            output_axes.append(i)
        elif c in in_pos:
            kernel_shape.append(input_shape[in_pos[c]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"Weight dimension '{c}' did not have a match in either the input spec "
                f"'{in_spec}' or the output spec '{out_spec}'. For this layer, the weight must "
                "be fully specified."
            )
    bias_shape = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(
                    f"Bias dimension '{c}' was requested, but is not part of the output spec "
                    f"'{out_spec}'."
                )
        first = min(out_spec.find(c) for c in bias_axes)
        bias_shape = [full[out_pos[c]] if c in bias_axes else 1 for c in out_spec[first:]]
        if not left:
            bias_shape += [1] * max(elided, 0)
    for i, c in enumerate(out_spec):  # output dims shared with the input are the input's
        if c in in_pos and full[i + offset] is None:
            full[i + offset] = input_shape[in_pos[c]]
    return kernel_shape, bias_shape, full, input_axes, output_axes


class EinsumDense(Layer):
    """A dense layer whose product with the kernel is an arbitrary einsum equation.

    Args:
        equation: the einsum equation, ``"ab,bc->ac"`` style: the input's, the kernel's and the
            output's axes (``...`` may stand for leading or trailing input axes).
        output_shape: the output's shape without the batch axis (``None`` entries are taken
            from the input); an int for a rank-2 output.
        activation: activation function or name (``None`` means linear).
        bias_axes: the output axes (letters of ``equation``) a bias is added along, or
            ``None`` for no bias.
        kernel_initializer, bias_initializer: initializers (default ``"glorot_uniform"`` and
            ``"zeros"``); a variance-scaling initializer counts its fans over the kernel's
            input and output axes, as in Keras.
        kernel_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, bias_constraint: optional constraints.

    Input shape:
        N-D array matching the input part of ``equation``.

    Output shape:
        ``(batch_size, *output_shape)`` with the ``None`` entries filled in.
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        gptq_unpacked_column_size=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if lora_rank:
            raise ValueError("numpykeras does not support LoRA (`lora_rank`) on EinsumDense.")
        if quantization_config is not None:
            raise ValueError("numpykeras does not support quantized EinsumDense layers.")
        self.equation = equation
        if isinstance(output_shape, int):
            self.partial_output_shape = (output_shape,)
        else:
            self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = _einsum_shapes(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        self.input_spec = InputSpec(ndim=len(input_shape))
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (
            init.input_axes is None or init.output_axes is None
        ):  # fans over the kernel's input and output axes (Keras)
            config = init.get_config()
            config.update(seed=init.seed, input_axes=input_axes, output_axes=output_axes)
            init = type(init).from_config(config)
        self.kernel = self.add_weight(
            name="kernel",
            shape=tuple(kernel_shape),
            initializer=init,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if bias_shape is not None:
            self.bias = self.add_weight(
                name="bias",
                shape=tuple(bias_shape),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(
            _einsum_shapes(self.equation, self.bias_axes, input_shape, self.partial_output_shape)[2]
        )

    def call(self, inputs, training=None):
        x = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None and self.activation is not activations.linear:
            x = (activations.as_ops(self.activation) or self.activation)(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_shape": self.partial_output_shape,
                "equation": self.equation,
                "activation": activations.serialize(self.activation),
                "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint),
                "quantization_config": None,
            }
        )
        return config
