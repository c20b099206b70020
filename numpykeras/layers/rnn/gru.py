"""``GRUCell`` and ``GRU``: gated recurrent unit (Cho et al., 2014).

Gates in Keras's order ``[z, r, h]``; with ``x_g = x_t @ W_g + b_g`` and ``U_g`` the recurrent
kernel's blocks::

    z = recurrent_activation(x_z + h_{t-1} @ U_z)      update gate
    r = recurrent_activation(x_r + h_{t-1} @ U_r)      reset gate
    reset_after=True:  hh = activation(x_h + r * (h_{t-1} @ U_h + b'_h))   (cuDNN's form)
    reset_after=False: hh = activation(x_h + (r * h_{t-1}) @ U_h)          (the original)
    h_t = z * h_{t-1} + (1 - z) * hh

With ``reset_after`` the bias is ``(2, 3 units)``: input biases, then recurrent biases ``b'``.
"""

from __future__ import annotations

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import constraint_config, weight_args_config
from numpykeras.layers.layer import Layer
from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from numpykeras.layers.rnn.rnn import CELL_ARGUMENTS, RNN, check_units, layer_config
from numpykeras.ops import numpy as ops


class GRUCell(DropoutRNNCell, Layer):
    """One step of a GRU. State: ``h``, ``(batch_size, units)``.

    Args:
        units: positive int, the size of ``h``.
        activation: activation of the candidate (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (default
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout, recurrent_dropout: fractions in [0, 1] of the input and state units to drop.
        reset_after: apply the reset gate after the recurrent matrix multiplication (Keras's
            default, and cuDNN's), with separate recurrent biases.
        seed: optional int for the dropout masks.

    Input shape:
        ``inputs`` ``(batch_size, input_dim)``, ``states`` ``h`` or ``[h]``.

    Output shape:
        ``(h, new_state)``, ``new_state`` in the structure of ``states``.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.implementation = 1 if self.recurrent_dropout != 0.0 else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 3
        self.seed = seed
        self.reset_after = bool(reset_after)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 3 * u),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 3 * u),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(2, 3 * u) if self.reset_after else (3 * u,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states  # (batch, units)
        u = self.units
        input_bias = recurrent_bias = None
        if self.bias is not None:
            if self.reset_after:
                input_bias, recurrent_bias = self.bias[0], self.bias[1]
            else:
                input_bias = self.bias
        dropout = training and 0.0 < self.dropout < 1.0
        recurrent_dropout = training and 0.0 < self.recurrent_dropout < 1.0
        if self.implementation == 1:
            x_mask = self.get_dropout_mask(inputs) if dropout else [None] * 3
            h_mask = self.get_recurrent_dropout_mask(h_prev) if recurrent_dropout else [None] * 3
            x_in = [inputs if m is None else inputs * m for m in x_mask]
            h_in = [h_prev if m is None else h_prev * m for m in h_mask]
        else:
            if dropout:
                inputs = inputs * self.get_dropout_mask(inputs)
            x_in, h_in = [inputs] * 3, [h_prev] * 3
        if self.implementation == 1:  # one product per gate, each with its own masks
            x = [ops.matmul(x_in[g], self.kernel[:, g * u : (g + 1) * u]) for g in range(3)]
            if input_bias is not None:
                x = [x[g] + input_bias[g * u : (g + 1) * u] for g in range(3)]
        else:  # one (batch, input_dim) @ (input_dim, 3 units) product, split into the gates
            xx = ops.matmul(inputs, self.kernel)
            x = ops.split(xx if input_bias is None else xx + input_bias, 3, axis=-1)
        if self.reset_after and self.implementation != 1:
            inner = ops.matmul(h_prev, self.recurrent_kernel)  # (batch, 3 units)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            rec = ops.split(inner, 3, axis=-1)
        else:
            rec = [
                ops.matmul(h_in[g], self.recurrent_kernel[:, g * u : (g + 1) * u])
                for g in range(3 if self.reset_after else 2)
            ]
            if recurrent_bias is not None:
                rec = [rec[g] + recurrent_bias[g * u : (g + 1) * u] for g in range(len(rec))]
        z = self.recurrent_activation(x[0] + rec[0])
        r = self.recurrent_activation(x[1] + rec[1])
        if self.reset_after:
            rec_h = r * rec[2]
        else:
            rec_h = ops.matmul(r * h_in[2], self.recurrent_kernel[:, 2 * u :])
        hh = self.activation(x[2] + rec_h)
        h = z * h_prev + (1.0 - z) * hh
        return h, ([h] if nested else h)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.state_size), dtype=self.dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                **weight_args_config(self, "kernel", "recurrent", "bias"),
                **constraint_config(self, "kernel", "recurrent", "bias"),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "reset_after": self.reset_after,
                "seed": self.seed,
            }
        )
        return config


class GRU(RNN):
    """Gated recurrent unit layer: ``RNN(GRUCell(...))`` with the cell's arguments on the layer
    (see :class:`GRUCell` and :class:`RNN`). ``use_cudnn`` is accepted and ignored.

    Input shape:
        ``(batch_size, timesteps, input_dim)``.

    Output shape:
        ``(batch_size, units)``, or ``(batch_size, timesteps, units)`` with
        ``return_sequences=True``; with ``return_state=True`` also the final state.
    """

    _CELL_ATTRIBUTES = CELL_ARGUMENTS + (
        "recurrent_activation",
        "reset_after",
        "implementation",
    )

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn

    def get_config(self):
        return layer_config(self, _GRU_KEYS)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_GRU_KEYS = (
    "name trainable dtype return_sequences return_state go_backwards stateful unroll "
    "zero_output_for_mask units activation recurrent_activation use_bias kernel_initializer "
    "recurrent_initializer bias_initializer kernel_regularizer recurrent_regularizer "
    "bias_regularizer activity_regularizer kernel_constraint recurrent_constraint "
    "bias_constraint dropout recurrent_dropout reset_after seed"
).split()
