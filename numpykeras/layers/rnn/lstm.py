"""``LSTMCell`` and ``LSTM``: long short-term memory (Hochreiter and Schmidhuber, 1997).

With ``z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias`` split into four gates in Keras's
order ``[i, f, c, o]``::

    i = recurrent_activation(z_i)          input gate
    f = recurrent_activation(z_f)          forget gate
    c_t = f * c_{t-1} + i * activation(z_c)
    o = recurrent_activation(z_o)          output gate
    h_t = o * activation(c_t)
"""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import constraint_config, weight_args_config
from numpykeras.layers.layer import Layer
from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from numpykeras.layers.rnn.rnn import CELL_ARGUMENTS, RNN, check_units, layer_config
from numpykeras.layers.rnn.sequence_kernel import (
    GateActivations,
    from_gate_major,
    gate_major,
    project,
    project_backward,
    project_dx,
    scaled_columns,
    scratch_array,
)
from numpykeras.ops import numpy as ops


def unit_forget_bias_initializer(init, units):
    """The LSTM bias initializer of ``unit_forget_bias=True``: ``init`` for the input, cell and
    output gates, ones for the forget gate (gate order ``[i, f, c, o]``)."""

    def bias_initializer(shape, dtype=None, **kwargs):
        return np.concatenate(
            [
                np.asarray(init((units,), dtype=dtype)),
                np.ones((units,), dtype=dtype),
                np.asarray(init((2 * units,), dtype=dtype)),
            ]
        )

    return bias_initializer


class LSTMCell(DropoutRNNCell, Layer):
    """One step of an LSTM. States: ``[h, c]``, each ``(batch_size, units)``.

    Args:
        units: positive int, the size of ``h`` and ``c``.
        activation: activation of the candidate and of the output (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias``.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (default
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``).
        unit_forget_bias: initialise the forget gate's bias to 1 (Jozefowicz et al., 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout, recurrent_dropout: fractions in [0, 1] of the input and state units to drop
            (training only; with ``recurrent_dropout`` each gate draws its own masks).
        seed: optional int for the dropout masks.

    Input shape:
        ``inputs`` ``(batch_size, input_dim)``, ``states`` ``[h, c]``.

    Output shape:
        ``(h, [h, c])``.
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
        unit_forget_bias=True,
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
        # Keras's implementation 1 (one mask per gate) whenever recurrent dropout is on.
        self.implementation = 1 if self.recurrent_dropout != 0.0 else implementation
        if self.implementation == 1:
            self.dropout_mask_count = 4
        self.seed = seed
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * u),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                bias_initializer = unit_forget_bias_initializer(self.bias_initializer, u)

            self.bias = self.add_weight(
                shape=(4 * u,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]  # (batch, units) each
        dropout = training and 0.0 < self.dropout < 1.0
        recurrent_dropout = training and 0.0 < self.recurrent_dropout < 1.0
        u = self.units
        if self.implementation == 1:
            # Per gate, with its own dropout masks: z_g = x * m_g @ W_g + h * r_g @ U_g + b_g.
            x_mask = self.get_dropout_mask(inputs) if dropout else [None] * 4
            h_mask = self.get_recurrent_dropout_mask(h_prev) if recurrent_dropout else [None] * 4
            z = []
            for g in range(4):
                x_g = inputs if x_mask[g] is None else inputs * x_mask[g]
                h_g = h_prev if h_mask[g] is None else h_prev * h_mask[g]
                z_g = ops.matmul(x_g, self.kernel[:, g * u : (g + 1) * u])
                z_g = z_g + ops.matmul(h_g, self.recurrent_kernel[:, g * u : (g + 1) * u])
                if self.bias is not None:
                    z_g = z_g + self.bias[g * u : (g + 1) * u]
                z.append(z_g)
        else:
            if dropout:
                inputs = inputs * self.get_dropout_mask(inputs)
            zz = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
            if self.bias is not None:
                zz = zz + self.bias  # (batch, 4 units)
            z = ops.split(zz, 4, axis=1)
        i = self.recurrent_activation(z[0])
        f = self.recurrent_activation(z[1])
        c = f * c_prev + i * self.activation(z[2])
        o = self.recurrent_activation(z[3])
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, d), dtype=self.dtype) for d in self.state_size]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "unit_forget_bias": self.unit_forget_bias,
                **weight_args_config(self, "kernel", "recurrent", "bias"),
                **constraint_config(self, "kernel", "recurrent", "bias"),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config


class LSTMSequence:
    """``LSTMCell`` over a whole sequence: the fused kernel's step and its backward (see
    ``sequence_kernel.py``, which runs the steps and applies the masks).

    Arrays of one call, ``T`` steps of ``B`` samples, time-major: ``h`` and ``c``
    ``(T + 1, B, u)`` hold the states before step ``t`` at ``[t]``; ``gates`` ``(4, T, B, u)``
    (gate-major) holds ``x_t @ W_g + b_g`` of every step (``project_inputs``), then each step's
    ``[i, f, g, o]`` (``g = activation(z_c)``); ``act_c`` ``(T, B, u)`` is
    ``activation(c_t)``; ``pre`` keeps the gates' pre-activations only for activations whose
    derivative needs them. ``x_masks`` and ``h_masks`` are the dropout masks (``None``, one,
    or one per gate). The forward products use the weights with their sigmoid gates halved
    (``GateActivations.input_scale``); the backward uses the weights themselves.
    """

    def __init__(self, cell, x, states, x_masks, h_masks, empty):
        steps, batch, _ = x.shape  # (T, B, D)
        u = cell.units
        self.cell, self.x, self.x_masks, self.h_masks = cell, x, x_masks, h_masks
        rec = cell.recurrent_activation
        self.gate_fn = GateActivations(
            [rec, rec, cell.activation, rec], u, batch, x.dtype, prescaled=True
        )
        self.cell_fn = GateActivations([cell.activation], u, batch, x.dtype)
        scale = self.gate_fn.input_scale
        self._kernel = gate_major(cell.kernel.value, 4, scale)  # (4, D, u)
        self._recurrent = gate_major(cell.recurrent_kernel.value, 4, scale)  # (4, u, u)
        self._bias = None
        if cell.bias is not None:
            self._bias = scaled_columns(cell.bias.value, scale).reshape(4, 1, 1, u)
        self.gates = empty("gates", (4, steps, batch, u), x.dtype)
        self.pre = empty("pre", self.gates.shape, x.dtype) if self.gate_fn.needs_input else None
        self.h = empty("h", (steps + 1, batch, u), x.dtype)
        self.c = empty("c", (steps + 1, batch, u), x.dtype)
        self.h[0], self.c[0] = states
        self.act_c = empty("act_c", (steps, batch, u), x.dtype)
        self.states = [self.h, self.c]
        self.dgates = None  # (4, T, B, u): dL/d pre-activations, filled by step_backward
        self._product = np.empty((4, batch, u), x.dtype)
        self._ig = np.empty((batch, u), x.dtype)

    def project_inputs(self, start, stop):
        """``gates[:, start:stop] = x_t @ W + b`` for those steps, one matmul per gate."""
        gates = project(self.x[start:stop], self._kernel, self.x_masks, self.gates[:, start:stop])
        if self._bias is not None:
            gates += self._bias

    def step(self, t):
        z = self.gates[:, t]  # (4, B, u)
        z += project(self.h[t], self._recurrent, self.h_masks, out=self._product)
        if self.pre is not None:
            self.pre[:, t] = z
        self.gate_fn(z)
        i, f, g, o = z
        c = self.c[t + 1]  # (B, u)
        np.multiply(f, self.c[t], out=c)
        c += np.multiply(i, g, out=self._ig)  # c_t = f * c_{t-1} + i * g
        self.cell_fn(c, out=self.act_c[t])
        np.multiply(o, self.act_c[t], out=self.h[t + 1])  # h_t = o * activation(c_t)

    def begin_backward(self):
        """The backward pass's arrays (this thread's scratch buffers): called before the
        first ``step_backward`` of each backward pass."""
        self.dgates = scratch_array("dgates", self.gates.shape, self.gates.dtype)
        self._kernel_b = gate_major(self.cell.kernel.value, 4)  # (4, D, u), unscaled
        self._recurrent_b = gate_major(self.cell.recurrent_kernel.value, 4)  # (4, u, u)
        self._recurrent_t = np.ascontiguousarray(self._recurrent_b.transpose(0, 2, 1))  # U_g.T

    def step_backward(self, t, d_states):
        """``[dL/dh_{t-1}, dL/dc_{t-1}]`` from ``[dL/dh_t, dL/dc_t]`` (each ``(B, u)``, read
        only), storing ``dL/d pre-activations`` of step ``t``."""
        dh, dc = d_states
        a = self.gates[:, t]
        i, f, g, o = a
        act_c = self.act_c[t]  # (B, u)
        dz = self.dgates[:, t]  # (4, B, u): dL/d[i, f, g, o], then dL/d their pre-activations
        np.multiply(dh, act_c, out=dz[3])  # dL/do
        dc_t = self.cell_fn.backward(dh * o, act_c, self.c[t + 1])  # through h_t = o * act(c_t)
        dc_t += dc  # dL/dc_t
        np.multiply(dc_t, g, out=dz[0])  # dL/di
        np.multiply(dc_t, self.c[t], out=dz[1])  # dL/df
        np.multiply(dc_t, i, out=dz[2])  # dL/dg
        self.gate_fn.backward(dz, a, None if self.pre is None else self.pre[:, t])
        dh_prev = project_dx(dz, self._recurrent_t, self.h_masks)  # (B, u)
        dc_t *= f  # dL/dc_{t-1}
        return [dh_prev, dc_t]

    def gradients(self, start, stop, need_dx):
        """``(dx, grads)`` of steps ``start:stop`` from their ``dgates``, one matmul per gate
        and weight: ``dx`` ``(stop - start, B, D)`` (``None`` unless ``need_dx``)."""
        cell, steps = self.cell, slice(start, stop)
        dz = self.dgates[:, steps]  # (4, k, B, u)
        dx, dkernel = project_backward(dz, self.x[steps], self._kernel_b, self.x_masks, need_dx)
        _, drecurrent = project_backward(
            dz, self.h[steps], self._recurrent_b, self.h_masks, need_dx=False
        )
        grads = {
            cell.kernel: from_gate_major(dkernel),  # (D, 4u)
            cell.recurrent_kernel: from_gate_major(drecurrent),  # sum of h_{t-1}^T dz_t: (u, 4u)
        }
        if cell.bias is not None:
            grads[cell.bias] = dz.sum(axis=(1, 2)).reshape(-1)  # (4u,)
        return dx, grads


LSTMCell.sequence_kernel = LSTMSequence


class LSTM(RNN):
    """Long short-term memory layer: ``RNN(LSTMCell(...))`` with the cell's arguments on the
    layer (see :class:`LSTMCell` and :class:`RNN`). ``use_cudnn`` is accepted and ignored.

    Input shape:
        ``(batch_size, timesteps, input_dim)``.

    Output shape:
        ``(batch_size, units)``, or ``(batch_size, timesteps, units)`` with
        ``return_sequences=True``; with ``return_state=True`` also ``h`` and ``c``.
    """

    _CELL_ATTRIBUTES = CELL_ARGUMENTS + (
        "recurrent_activation",
        "unit_forget_bias",
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
        unit_forget_bias=True,
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
        use_cudnn="auto",
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
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
        return layer_config(self, _LSTM_KEYS)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_LSTM_KEYS = (
    "name trainable dtype return_sequences return_state go_backwards stateful unroll "
    "zero_output_for_mask units activation recurrent_activation use_bias kernel_initializer "
    "recurrent_initializer bias_initializer unit_forget_bias kernel_regularizer "
    "recurrent_regularizer bias_regularizer activity_regularizer kernel_constraint "
    "recurrent_constraint bias_constraint dropout recurrent_dropout seed"
).split()
