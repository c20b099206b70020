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


class GRUSequence:
    """``GRUCell`` over a whole sequence: the fused kernel's step and its backward (see
    ``sequence_kernel.py``, which runs the steps and applies the masks).

    Arrays of one call, ``T`` steps of ``B`` samples, time-major: ``h`` ``(T + 1, B, u)``
    holds the state before step ``t`` at ``[t]``; ``gates`` ``(3, T, B, u)`` (gate-major) holds
    ``x_t @ W_g + b_g`` of every step (``project_inputs``), then each step's ``[z, r, hh]``.
    With ``reset_after``, ``rec_h`` ``(T, B, u)`` holds each step's ``h_{t-1} @ U_h + b'_h``;
    without, ``rh`` ``(T, B, u)`` holds ``r * h_{t-1}``, the candidate's recurrent input.
    ``pre`` keeps the pre-activations only for activations whose derivative needs them.
    ``x_masks`` and ``h_masks`` are the dropout masks (``None``, one, or one per gate). The
    forward products use the weights with ``z``'s and ``r``'s columns halved
    (``GateActivations.input_scale``); the backward uses the weights themselves.
    """

    def __init__(self, cell, x, states, x_masks, h_masks, empty):
        steps, batch, _ = x.shape  # (T, B, D)
        u = cell.units
        self.cell, self.x, self.x_masks, self.h_masks = cell, x, x_masks, h_masks
        self.reset_after = cell.reset_after
        bias = None if cell.bias is None else cell.bias.value
        recurrent_bias = None
        if bias is not None and self.reset_after:
            bias, recurrent_bias = bias[0], bias[1]  # (3u,) each
        rec = cell.recurrent_activation
        self.zr_fn = GateActivations([rec, rec], u, batch, x.dtype, prescaled=True)
        self.h_fn = GateActivations([cell.activation], u, batch, x.dtype)
        scale = self.zr_fn.input_scale
        if scale is not None:
            scale = np.concatenate([scale, np.ones(u, x.dtype)])  # (3u,): z and r halved
        self._kernel = gate_major(cell.kernel.value, 3, scale)  # (3, D, u)
        self._recurrent = gate_major(cell.recurrent_kernel.value, 3, scale)  # (3, u, u)
        self._bias = None if bias is None else scaled_columns(bias, scale).reshape(3, 1, 1, u)
        self._recurrent_bias = None
        if recurrent_bias is not None:  # (3, B, u): added to every step's product
            b = scaled_columns(recurrent_bias, scale).reshape(3, 1, u)
            self._recurrent_bias = np.ascontiguousarray(np.broadcast_to(b, (3, batch, u)))
        self.gates = empty("gates", (3, steps, batch, u), x.dtype)
        needs_input = self.zr_fn.needs_input or self.h_fn.needs_input
        self.pre = empty("pre", self.gates.shape, x.dtype) if needs_input else None
        self.h = empty("h", (steps + 1, batch, u), x.dtype)
        self.h[0] = states[0]
        self.states = [self.h]
        # recurrent dropout: the masks of z and r, and the candidate's
        self.zr_masks = self.hh_mask = None
        if h_masks is not None:
            self.zr_masks = h_masks[:2] if len(h_masks) == 3 else h_masks
            self.hh_mask = h_masks[-1]
        if self.reset_after:
            # kept for the backward pass only (inference reads the step's product)
            self.rec_h = (
                None if empty is scratch_array else empty("rec_h", (steps, batch, u), x.dtype)
            )
            self._product = np.empty((3, batch, u), x.dtype)
            self.drec = None  # (3, T, B, u): dL/d (h_{t-1} @ U + b'), filled by step_backward
        else:
            self.rh = empty("rh", (steps, batch, u), x.dtype)
            self._product = np.empty((2, batch, u), x.dtype)
        self.dgates = None  # (3, T, B, u): dL/d pre-activations, filled by step_backward

    def project_inputs(self, start, stop):
        """``gates[:, start:stop] = x_t @ W + b`` for those steps, one matmul per gate."""
        gates = project(self.x[start:stop], self._kernel, self.x_masks, self.gates[:, start:stop])
        if self._bias is not None:
            gates += self._bias

    def step(self, t):
        x = self.gates[:, t]  # (3, B, u)
        h = self.h[t]  # (B, u)
        zr, hh = x[:2], x[2]
        if self.reset_after:
            product = project(h, self._recurrent, self.h_masks, out=self._product)  # (3, B, u)
            if self._recurrent_bias is not None:
                product += self._recurrent_bias
            zr += product[:2]
            self._keep_pre(t, zr, slice(0, 2))
            self.zr_fn(zr)
            if self.rec_h is not None:
                np.copyto(self.rec_h[t], product[2])
            hh += np.multiply(x[1], product[2], out=product[2])  # x_h + r * (h @ U_h + b'_h)
        else:
            zr += project(h, self._recurrent[:2], self.zr_masks, out=self._product)
            self._keep_pre(t, zr, slice(0, 2))
            self.zr_fn(zr)
            rh = self.rh[t]
            np.multiply(x[1], h if self.hh_mask is None else h * self.hh_mask, out=rh)
            hh += rh @ self._recurrent[2]  # x_h + (r * h) @ U_h
        self._keep_pre(t, hh, 2)
        self.h_fn(hh)
        h_new = self.h[t + 1]
        np.subtract(h, hh, out=h_new)
        h_new *= x[0]
        h_new += hh  # h_t = z * h_{t-1} + (1 - z) * hh

    def _keep_pre(self, t, block, gates):
        """Copies pre-activations to ``pre`` (when kept)."""
        if self.pre is not None:
            self.pre[gates, t] = block

    def begin_backward(self):
        """The backward pass's arrays (this thread's scratch buffers): called before the
        first ``step_backward`` of each backward pass."""
        self.dgates = scratch_array("dgates", self.gates.shape, self.gates.dtype)
        self._kernel_b = gate_major(self.cell.kernel.value, 3)  # (3, D, u), unscaled
        self._recurrent_b = gate_major(self.cell.recurrent_kernel.value, 3)  # (3, u, u)
        self._recurrent_t = np.ascontiguousarray(self._recurrent_b.transpose(0, 2, 1))  # U_g.T
        if self.reset_after:
            self.drec = scratch_array("drec", self.gates.shape, self.gates.dtype)

    def step_backward(self, t, d_states):
        """``[dL/dh_{t-1}]`` from ``[dL/dh_t]`` (``(B, u)``, read only), storing the gradients
        of step ``t``'s pre-activations."""
        (dh,) = d_states
        x, h = self.gates[:, t], self.h[t]
        z, r, hh = x
        pre = None if self.pre is None else self.pre[:, t]
        dg = self.dgates[:, t]  # (3, B, u)
        dz, dr, dhh = dg
        np.subtract(h, hh, out=dz)
        dz *= dh  # dL/dz
        np.subtract(1, z, out=dhh)
        dhh *= dh  # dL/dhh
        dh_prev = dh * z  # (B, u)
        self.h_fn.backward(dhh, hh, None if pre is None else pre[2])  # dL/d x_h
        ut = self._recurrent_t  # (3, u, u)
        if self.reset_after:
            np.multiply(dhh, self.rec_h[t], out=dr)  # dL/dr
            self.zr_fn.backward(dg[:2], x[:2], None if pre is None else pre[:2])
            drec = self.drec[:, t]  # (3, B, u): dL/d (h_{t-1} @ U + b')
            drec[:2] = dg[:2]
            np.multiply(dhh, r, out=drec[2])
            dh_prev += project_dx(drec, ut, self.h_masks)
        else:
            drh = dhh @ ut[2]  # dL/d (r * h_{t-1}): (B, u)
            np.multiply(drh, h if self.hh_mask is None else h * self.hh_mask, out=dr)  # dL/dr
            drh *= r
            if self.hh_mask is not None:
                drh *= self.hh_mask
            dh_prev += drh
            self.zr_fn.backward(dg[:2], x[:2], None if pre is None else pre[:2])
            dh_prev += project_dx(dg[:2], ut[:2], self.zr_masks)
        return [dh_prev]

    def gradients(self, start, stop, need_dx):
        """``(dx, grads)`` of steps ``start:stop`` from their gradients, one matmul per gate
        and weight: ``dx`` ``(stop - start, B, D)`` (``None`` unless ``need_dx``)."""
        cell, steps = self.cell, slice(start, stop)
        dz = self.dgates[:, steps]  # (3, k, B, u)
        dx, dkernel = project_backward(dz, self.x[steps], self._kernel_b, self.x_masks, need_dx)
        recurrent = self._recurrent_b  # (3, u, u)
        h_prev = self.h[steps]  # (k, B, u): the states before each step
        if self.reset_after:
            drec = self.drec[:, steps]
            _, drecurrent = project_backward(drec, h_prev, recurrent, self.h_masks, False)
        else:
            _, dzr = project_backward(dz[:2], h_prev, recurrent[:2], self.zr_masks, False)
            _, dhh = project_backward(dz[2:], self.rh[steps], recurrent[2:], None, False)
            drecurrent = np.concatenate([dzr, dhh])
        grads = {
            cell.kernel: from_gate_major(dkernel),  # (D, 3u)
            cell.recurrent_kernel: from_gate_major(drecurrent),  # (u, 3u)
        }
        if cell.bias is not None:
            db = dz.sum(axis=(1, 2)).reshape(-1)  # (3u,)
            if self.reset_after:  # (2, 3u): input biases, recurrent biases
                db = np.stack([db, drec.sum(axis=(1, 2)).reshape(-1)])
            grads[cell.bias] = db
        return dx, grads


GRUCell.sequence_kernel = GRUSequence


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
