"""``ConvLSTMCell`` and ``ConvLSTM``: an LSTM whose transformations are convolutions (Shi et
al., 2015, without the peephole connections, as in Keras).

The state ``h`` and the carry ``c`` are images of ``filters`` channels. With ``*`` a
convolution, the gates are Keras's, in Keras's order ``[i, f, c, o]``::

    z = x_t * kernel + bias + h_{t-1} * recurrent_kernel      (*S', 4 filters)
    i = recurrent_activation(z_i)       f = recurrent_activation(z_f)
    c_t = f c_{t-1} + i activation(z_c)
    o = recurrent_activation(z_o)       h_t = o activation(c_t)

``x_t * kernel`` uses the layer's ``strides``, ``padding`` and ``dilation_rate``; the recurrent
convolution is always stride 1, ``"same"``, undilated, so ``h`` keeps the shape of the input
convolution's output. ``kernel`` is ``(*kernel_size, in, 4 filters)``, ``recurrent_kernel``
``(*kernel_size, filters, 4 filters)`` and ``bias`` ``(4 filters,)``: Keras's shapes, names and
gate order, so weights cross with Keras's files unchanged.

How the layer runs: the gates of all four blocks come from one convolution of the input and one
of the state per step (Keras runs one per gate; the sums are the same), split afterwards. Inside
the loop the images are channels-last whatever ``data_format`` is: channels-first inputs and
states are transposed once on the way in and out. Everything is written with ``keras.ops``:
under a ``GradientTape`` the steps are recorded and backpropagated through time like the other
recurrent layers (``rnn.py``), with the convolutions' own gradients.

The input convolution is run step by step rather than once over the batch and time axes merged:
on the tape, slicing a precomputed ``(batch, steps, ...)`` array at every step costs a full-size
gradient per step (measured: 149 against 62 ms for a forward and backward pass of 20 steps of
``(4, 16, 16, 8)``), and without a tape the two were within the noise of the 2-core machine.
"""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers
from numpykeras.layers._common import constraint_config
from numpykeras.layers.layer import (
    InputSpec,
    Layer,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from numpykeras.layers.rnn.lstm import unit_forget_bias_initializer
from numpykeras.layers.rnn.rnn import RNN, layer_config
from numpykeras.ops import autodiff
from numpykeras.ops import numpy as ops
from numpykeras.ops.nn import conv
from numpykeras.ops.padding import conv_output_length


def _shape(x):
    return np.shape(autodiff.unwrap(x))


def _to_last(x, axis):
    """Channels from ``axis`` to the end (a channels-first image or sequence)."""
    return ops.moveaxis(x, axis, -1)


def _to_first(x, axis):
    return ops.moveaxis(x, -1, axis)


class ConvLSTMCell(DropoutRNNCell, Layer):
    """One step of a convolutional LSTM. States: ``[h, c]``, each the shape of the input
    convolution's output, ``(batch_size, *new_spatial, filters)`` (channels first:
    ``(batch_size, filters, *new_spatial)``).

    Args:
        rank: 1, 2 or 3, the number of spatial axes.
        filters: positive int, the channels of ``h`` and ``c``.
        kernel_size: int or tuple of ``rank`` ints, the window of both convolutions.
        strides: int or tuple of ``rank`` ints, the strides of the input convolution.
            ``strides > 1`` cannot be combined with ``dilation_rate > 1``.
        padding: ``"valid"`` or ``"same"`` (any case), the padding of the input convolution.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or tuple of ``rank`` ints, the dilation of the input convolution.
        activation: activation of the candidate and of the output (default ``"tanh"``).
        recurrent_activation: activation of the gates (default ``"sigmoid"``).
        use_bias: whether to add ``bias``.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers (default
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``).
        unit_forget_bias: initialise the forget gate's bias to 1 (Jozefowicz et al., 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: optional constraints.
        dropout, recurrent_dropout: fractions in [0, 1] of the input and state elements to
            drop (training only; each gate draws its own masks, kept for the whole sequence).
        seed: optional int for the dropout masks.

    Input shape:
        ``inputs`` ``(batch_size, *spatial, channels)`` (channels first:
        ``(batch_size, channels, *spatial)``), ``states`` ``[h, c]``.

    Output shape:
        ``(h, [h, c])``.
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
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
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(
                f"Rank {rank} convolutions are not currently implemented. Received: rank={rank}"
            )
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        self.rank = int(rank)
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides", allow_zero=True)
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please "
                f"provide `strides=1` or `dilation_rate=1`. Received: strides={self.strides} "
                f"and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.dropout_mask_count = 4  # one mask per gate, as Keras's
        self.seed = seed
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.state_size = -1  # Keras's marker: the states' shape depends on the input's

    # -- shapes -------------------------------------------------------------------------------
    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    def _split_shape(self, input_shape):
        """``(spatial, channels)`` of an input shape (batch axis included)."""
        if self._channels_first:
            return tuple(input_shape[2:]), input_shape[1]
        return tuple(input_shape[1:-1]), input_shape[-1]

    def _output_spatial(self, spatial):
        return tuple(
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def compute_output_shape(self, inputs_shape, states_shape=None):
        spatial, _ = self._split_shape(inputs_shape)
        out = self._output_spatial(spatial)
        shape = (
            (inputs_shape[0], self.filters, *out)
            if self._channels_first
            else (inputs_shape[0], *out, self.filters)
        )
        return shape, [shape, shape]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"ndim={self.rank + 2}, found ndim={len(input_shape)}. Full shape received: "
                f"{input_shape}"
            )
        spatial, channels = self._split_shape(input_shape)
        if None in spatial:
            raise ValueError(
                "ConvLSTM layers only support static input shapes for the spatial dimension. "
                f"Received invalid input shape: input_shape={input_shape}"
            )
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. Found None. Full input "
                f"shape received: input_shape={input_shape}"
            )
        self.spatial_dims = spatial
        self.input_dim = int(channels)
        self.input_spec = InputSpec(ndim=self.rank + 2, shape=(None,) + input_shape[1:])
        f = self.filters
        self.kernel_shape = self.kernel_size + (self.input_dim, 4 * f)
        self.kernel = self.add_weight(
            shape=self.kernel_shape,
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (f, 4 * f),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                bias_initializer = unit_forget_bias_initializer(self.bias_initializer, f)

            self.bias = self.add_weight(
                shape=(4 * f,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def get_initial_state(self, batch_size=None):
        if self._channels_first:
            shape = (batch_size, self.input_dim, *self.spatial_dims)
        else:
            shape = (batch_size, *self.spatial_dims, self.input_dim)
        state_shape = self.compute_output_shape(shape)[0]
        return [ops.zeros(state_shape, dtype=self.dtype), ops.zeros(state_shape, dtype=self.dtype)]

    # -- the computation (channels last) --------------------------------------------------------
    def _gate_slices(self, weight):
        """``weight``'s four gate blocks along its last axis (``[i, f, c, o]``)."""
        f = self.filters
        return [weight[..., g * f : (g + 1) * f] for g in range(4)]

    def _input_conv(self, inputs):
        """``x * kernel + bias`` for a channels-last ``x`` ``(n, *spatial, in)``: one
        convolution with the whole kernel, or, given a list of four inputs (one per gate, each
        with its own dropout mask), one per gate."""
        geometry = {
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
        }
        if isinstance(inputs, list):
            kernels = self._gate_slices(self.kernel)
            z = ops.concatenate([conv(x, k, **geometry) for x, k in zip(inputs, kernels)], -1)
        else:
            z = conv(inputs, self.kernel, **geometry)
        return z if self.bias is None else z + self.bias  # (n, *new_spatial, 4 filters)

    def _recurrent_step(self, z_input, h, c, masks=None):
        """One step from the input convolution ``z_input`` and the previous ``h``, ``c``
        (channels last); ``masks``: recurrent dropout masks, one per gate."""
        if masks is None:
            z_state = conv(h, self.recurrent_kernel, padding="same")
        else:
            kernels = self._gate_slices(self.recurrent_kernel)
            z_state = ops.concatenate(
                [conv(h * m, k, padding="same") for m, k in zip(masks, kernels)], axis=-1
            )
        z_i, z_f, z_c, z_o = ops.split(z_input + z_state, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return o * self.activation(c), c

    def _dropout_masks(self, step_input, training):
        if training and 0.0 < self.dropout < 1.0:
            return self.get_dropout_mask(step_input)
        return None

    def _recurrent_dropout_masks(self, h, training):
        if training and 0.0 < self.recurrent_dropout < 1.0:
            return self.get_recurrent_dropout_mask(h)
        return None

    def call(self, inputs, states, training=False):
        h, c = states[0], states[1]
        if self._channels_first:
            inputs, h, c = _to_last(inputs, 1), _to_last(h, 1), _to_last(c, 1)
        masks = self._dropout_masks(inputs, training)
        z = self._input_conv(inputs if masks is None else [inputs * m for m in masks])
        h, c = self._recurrent_step(z, h, c, self._recurrent_dropout_masks(h, training))
        if self._channels_first:
            h, c = _to_first(h, 1), _to_first(c, 1)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank": self.rank,  # not in Keras's cell config; the layer's config drops it
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                **constraint_config(self, "kernel", "recurrent", "bias"),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
            }
        )
        return config


class ConvLSTM(RNN):
    """Base of ``ConvLSTM1D``, ``ConvLSTM2D`` and ``ConvLSTM3D``: ``RNN(ConvLSTMCell(...))``
    with the cell's arguments on the layer (see :class:`ConvLSTMCell` and :class:`RNN`).

    Args:
        rank: 1, 2 or 3, the number of spatial axes of each timestep.
        filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
            recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
            bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
            dropout, recurrent_dropout, seed: the cell's (see :class:`ConvLSTMCell`).
        activity_regularizer: optional regularizer of the layer's output.
        return_sequences: return every step's ``h`` rather than the last one.
        return_state: also return the final ``h`` and ``c``.
        go_backwards: process the sequence in reverse (the returned sequence is in that order).
        stateful: carry the final states of a batch over as the initial states of the next.

    Call arguments:
        inputs: ``(batch_size, timesteps, *spatial, channels)`` (channels first:
            ``(batch_size, timesteps, channels, *spatial)``).
        initial_state: optional ``[h, c]``.
        mask: optional boolean ``(batch_size, timesteps)``: false steps keep the states and
            repeat the previous output.
        training: whether dropout applies.

    Input shape:
        ``(batch_size, timesteps, *spatial, channels)`` (channels first:
        ``(batch_size, timesteps, channels, *spatial)``).

    Output shape:
        ``(batch_size, *new_spatial, filters)``, or ``(batch_size, timesteps, *new_spatial,
        filters)`` with ``return_sequences`` (channels first: the filters before the spatial
        axes); with ``return_state`` also ``h`` and ``c``, ``(batch_size, *new_spatial,
        filters)`` each.
    """

    _CELL_ATTRIBUTES = (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "activation",
        "recurrent_activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "unit_forget_bias",
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
    )

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        **kwargs,
    ):
        if kwargs.get("time_major"):
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                f"{{'time_major': {kwargs['time_major']!r}}}"
            )
        kwargs.pop("time_major", None)
        cell = ConvLSTMCell(
            rank=rank,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
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
            name="conv_lstm_cell",
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
        # Two states, h and c, whose shapes the cell knows (its state_size is Keras's -1).
        self.state_size, self.single_state = [-1, -1], False
        self.input_spec = InputSpec(ndim=rank + 3)

    @property
    def rank(self):
        return self.cell.rank

    def build(self, sequences_shape, initial_state_shape=None):
        self.input_spec.check(tuple(sequences_shape), self.name)
        super().build(sequences_shape, initial_state_shape)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        state = self.cell.compute_output_shape((batch,) + tuple(sequences_shape[2:]))[0]
        output = (batch, steps) + state[1:] if self.return_sequences else state
        if self.return_state:
            return [output, state, state]
        return output

    def _loop(self, sequences, states, mask, training):
        """The timesteps, channels last, with the dropout masks drawn once for the sequence.
        Returns ``(last output, sequence of outputs or None, [h, c])``, in ``data_format``."""
        cell, rank = self.cell, self.cell.rank
        first = cell._channels_first
        if first:
            sequences = _to_last(sequences, 2)
            states = [_to_last(s, 1) for s in states]
        h, c = states
        training = bool(training)
        input_masks = cell._dropout_masks(sequences[:, 0], training)
        state_masks = cell._recurrent_dropout_masks(h, training)
        timesteps = _shape(sequences)[1]
        if timesteps == 0:
            raise ValueError(f"Layer {self.name} received a sequence with 0 timesteps.")
        order = range(timesteps - 1, -1, -1) if self.go_backwards else range(timesteps)
        outputs, previous = [], None
        for t in order:
            x_t = sequences[:, t]
            z_t = cell._input_conv(x_t if input_masks is None else [x_t * m for m in input_masks])
            new_h, new_c = cell._recurrent_step(z_t, h, c, state_masks)
            output = new_h
            if mask is not None:
                keep = mask[:, t].reshape((-1,) + (1,) * (rank + 1))  # over the image
                new_h = ops.where(keep, new_h, h)
                new_c = ops.where(keep, new_c, c)
                if previous is None or self.zero_output_for_mask:
                    output = ops.where(keep, output, 0.0)
                else:
                    output = ops.where(keep, output, previous)
            h, c, previous = new_h, new_c, output
            outputs.append(output)
        sequence = ops.stack(outputs, axis=1) if self.return_sequences else None
        last = outputs[-1]
        if first:
            last, h, c = _to_first(last, 1), _to_first(h, 1), _to_first(c, 1)
            sequence = None if sequence is None else _to_first(sequence, 2)
        return last, sequence, [h, c]

    def get_config(self):
        return layer_config(self, _CONV_LSTM_KEYS, drop=("rank",))

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_CONV_LSTM_KEYS = (
    "name trainable dtype return_sequences return_state go_backwards stateful unroll "
    "zero_output_for_mask filters kernel_size strides padding data_format dilation_rate "
    "activation recurrent_activation use_bias kernel_initializer recurrent_initializer "
    "bias_initializer unit_forget_bias kernel_regularizer recurrent_regularizer "
    "bias_regularizer activity_regularizer kernel_constraint recurrent_constraint "
    "bias_constraint dropout recurrent_dropout seed"
).split()
