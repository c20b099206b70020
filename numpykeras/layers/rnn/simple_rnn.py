"""``SimpleRNNCell`` and ``SimpleRNN``: ``h_t = activation(x_t @ W + h_{t-1} @ U + b)``."""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import constraint_config, weight_args_config
from numpykeras.layers.layer import Layer
from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from numpykeras.layers.rnn.rnn import CELL_ARGUMENTS, RNN, check_units, layer_config
from numpykeras.layers.rnn.sequence_kernel import (
    GateActivations,
    gate_major,
    project,
    project_backward,
    project_dx,
    scratch_array,
)
from numpykeras.ops import numpy as ops


class SimpleRNNCell(DropoutRNNCell, Layer):
    """One step of a fully connected recurrent network.

    ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``; the output is the new
    state. With ``dropout``/``recurrent_dropout`` (training only), ``x_t`` and ``h_{t-1}`` are
    multiplied by masks drawn once per sequence.

    Args:
        units: positive int, the size of the state and output.
        activation: activation (default ``"tanh"``).
        use_bias: whether to add ``bias``.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (default
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout, recurrent_dropout: fractions in [0, 1] of the input and state units to drop.
        seed: optional int for the dropout masks.

    Input shape:
        ``inputs`` ``(batch_size, input_dim)`` and ``states`` ``[(batch_size, units)]``.

    Output shape:
        ``(output, new_states)``: ``(batch_size, units)`` and ``[(batch_size, units)]``.
    """

    def __init__(
        self,
        units,
        activation="tanh",
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
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = activations.get(activation)
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
        self.seed = seed
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, sequence, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states  # (batch, units)
        if training and 0.0 < self.dropout < 1.0:
            sequence = sequence * self.get_dropout_mask(sequence)
        h = ops.matmul(sequence, self.kernel)  # (batch, input_dim) @ (input_dim, units)
        if self.bias is not None:
            h = h + self.bias
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_prev = h_prev * self.get_recurrent_dropout_mask(h_prev)
        output = self.activation(h + ops.matmul(h_prev, self.recurrent_kernel))
        return output, ([output] if nested else output)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.state_size), dtype=self.dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **weight_args_config(self, "kernel", "recurrent", "bias"),
                **constraint_config(self, "kernel", "recurrent", "bias"),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config


class SimpleRNNSequence:
    """``SimpleRNNCell`` over a whole sequence: the fused kernel's step and its backward (see
    ``sequence_kernel.py``, which runs the steps and applies the masks).

    Arrays of one call, ``T`` steps of ``B`` samples, time-major: ``h`` ``(T + 1, B, u)`` holds
    the state before step ``t`` at ``[t]``; ``gates`` ``(1, T, B, u)`` (one gate, in the other
    cells' layout) holds ``x_t @ W + b`` of every step (``project_inputs``), then each step's
    pre-activation ``x_t @ W + b + h_{t-1} @ U``. ``x_masks`` and ``h_masks`` are the dropout
    masks (``None`` or one each).
    """

    def __init__(self, cell, x, states, x_masks, h_masks, empty):
        steps, batch, _ = x.shape  # (T, B, D)
        u = cell.units
        self.cell, self.x, self.x_masks, self.h_masks = cell, x, x_masks, h_masks
        self._kernel = gate_major(cell.kernel.value, 1)  # (1, D, u)
        self._recurrent = gate_major(cell.recurrent_kernel.value, 1)  # (1, u, u)
        self.fn = GateActivations([cell.activation], u, batch, x.dtype)
        self.gates = empty("gates", (1, steps, batch, u), x.dtype)
        self.h = empty("h", (steps + 1, batch, u), x.dtype)
        self.h[0] = states[0]
        self.states = [self.h]
        self.dgates = None  # (1, T, B, u): dL/d pre-activations, filled by step_backward
        self._product = np.empty((1, batch, u), x.dtype)

    def project_inputs(self, start, stop):
        """``gates[:, start:stop] = x_t @ W + b`` for those steps, in one matmul."""
        gates = project(self.x[start:stop], self._kernel, self.x_masks, self.gates[:, start:stop])
        if self.cell.bias is not None:
            gates += self.cell.bias.value

    def step(self, t):
        z = self.gates[0, t]  # (B, u)
        z += project(self.h[t], self._recurrent, self.h_masks, out=self._product)[0]
        self.fn(z, out=self.h[t + 1])  # h_t = activation(z)

    def begin_backward(self):
        """The backward pass's arrays (this thread's scratch buffers): called before the
        first ``step_backward`` of each backward pass."""
        self.dgates = scratch_array("dgates", self.gates.shape, self.gates.dtype)
        self._recurrent_t = np.ascontiguousarray(self._recurrent.transpose(0, 2, 1))

    def step_backward(self, t, d_states):
        """``[dL/dh_{t-1}]`` from ``[dL/dh_t]`` (``(B, u)``, read only)."""
        dz = self.dgates[:, t]  # (1, B, u)
        np.copyto(dz[0], d_states[0])
        self.fn.backward(dz[0], self.h[t + 1], self.gates[0, t])  # dL/dz
        return [project_dx(dz, self._recurrent_t, self.h_masks)]

    def gradients(self, start, stop, need_dx):
        """``(dx, grads)`` of steps ``start:stop`` from their ``dgates``, one matmul each:
        ``dx`` ``(stop - start, B, D)`` (``None`` unless ``need_dx``)."""
        cell, steps = self.cell, slice(start, stop)
        dz = self.dgates[:, steps]  # (1, k, B, u)
        dx, dkernel = project_backward(dz, self.x[steps], self._kernel, self.x_masks, need_dx)
        _, drecurrent = project_backward(dz, self.h[steps], self._recurrent, self.h_masks, False)
        grads = {cell.kernel: dkernel[0], cell.recurrent_kernel: drecurrent[0]}
        if cell.bias is not None:
            grads[cell.bias] = dz.sum(axis=(0, 1, 2))  # (u,)
        return dx, grads


SimpleRNNCell.sequence_kernel = SimpleRNNSequence


class SimpleRNN(RNN):
    """A fully connected recurrent layer: ``RNN(SimpleRNNCell(...))`` with the cell's arguments
    on the layer (see :class:`SimpleRNNCell` and :class:`RNN`).

    Input shape:
        ``(batch_size, timesteps, input_dim)``.

    Output shape:
        ``(batch_size, units)``, or ``(batch_size, timesteps, units)`` with
        ``return_sequences=True``; with ``return_state=True`` also the final state.
    """

    _CELL_ATTRIBUTES = CELL_ARGUMENTS

    def __init__(
        self,
        units,
        activation="tanh",
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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units,
            activation=activation,
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
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="simple_rnn_cell",
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

    def get_config(self):
        return layer_config(self, _SIMPLE_RNN_KEYS, drop=("seed",))

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_SIMPLE_RNN_KEYS = (
    "name trainable dtype return_sequences return_state go_backwards stateful unroll "
    "zero_output_for_mask units activation use_bias kernel_initializer recurrent_initializer "
    "bias_initializer kernel_regularizer recurrent_regularizer bias_regularizer "
    "activity_regularizer kernel_constraint recurrent_constraint bias_constraint dropout "
    "recurrent_dropout"
).split()
