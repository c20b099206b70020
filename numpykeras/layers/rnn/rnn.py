"""``RNN``: runs a cell over the timesteps of a sequence.

For ``t = 0 .. T-1`` (reversed with ``go_backwards``): ``output_t, states = cell(x_t, states)``.
Where a ``mask`` is false at step ``t`` the states keep their previous values and the output
repeats the previous output (zeros with ``zero_output_for_mask``).

Two ways to run it. A plain built-in cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) runs the
fused sequence kernel (``sequence_kernel.py``): one matmul for the inputs of every step, the
recurrence on arrays allocated once, a hand-written backward through time, recorded on a
``GradientTape`` as one node, and ``forward``/``backward`` for the fused ``fit`` path.
Everything else (custom or stacked cells, cells with activations of unknown gradient,
subclassed cells) runs ``_loop``, written with ``keras.ops``: a tape records it step by step;
it is also the kernel's reference and its ops form (gradients of gradients).
"""

from __future__ import annotations

import numpy as np

from numpykeras import backend, regularizers
from numpykeras.layers.layer import Layer, name_scope
from numpykeras.layers.rnn import sequence_kernel
from numpykeras.ops import autodiff
from numpykeras.ops import numpy as ops

# The arguments every built-in cell has, which its layer exposes as attributes.
CELL_ARGUMENTS = (
    "units",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
)


def _flat(structure):
    return autodiff.flatten(structure) if isinstance(structure, (list, tuple)) else [structure]


class RNN(Layer):
    """Base class for recurrent layers: applies ``cell`` to each timestep.

    Args:
        cell: a cell (a layer with ``call(inputs, states)`` returning ``(output, new_states)`` and
            a ``state_size`` attribute), or a list of cells (stacked as ``StackedRNNCells``).
        return_sequences: return the output of every step ``(batch, timesteps, units)`` rather
            than the last one ``(batch, units)``.
        return_state: also return the final states.
        go_backwards: process the sequence in reverse (the returned sequence is in that order).
        stateful: carry the final states of a batch over as the initial states of the next
            (batch ``i`` continues sample ``i``); ``reset_states()`` zeroes them.
        unroll: accepted for compatibility (the steps always run one by one).
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call arguments:
        sequences: ``(batch_size, timesteps, features)``.
        initial_state: optional list of initial states (one per ``cell.state_size`` entry).
        mask: optional boolean ``(batch_size, timesteps)``: false steps are skipped.
        training: whether dropout applies.

    Input shape:
        ``(batch_size, timesteps, features)``.

    Output shape:
        ``(batch_size, units)`` or ``(batch_size, timesteps, units)`` with
        ``return_sequences``; with ``return_state``, a list ``[output, *states]``.
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        activity_regularizer=None,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            from numpykeras.layers.rnn.stacked_rnn_cells import StackedRNNCells

            cell = StackedRNNCells(cell)
        if "call" not in dir(cell) or not callable(getattr(cell, "call", None)):
            raise ValueError(
                "Argument `cell` should have a `call` method. Received: "
                f"cell={cell!r} (of type {type(cell).__name__})"
            )
        state_size = getattr(cell, "state_size", None)
        if state_size is None:
            raise ValueError("state_size must be specified as property on the RNN cell.")
        if not isinstance(state_size, (list, tuple, int)):
            raise ValueError(
                "state_size must be an integer, or a list/tuple of integers (one for each state "
                f"tensor). Received: state_size={state_size!r}"
            )
        # Keras 2's `time_major` (inputs and sequence outputs (timesteps, batch, ...)): not a
        # Keras 3 argument, kept so that Keras 2 files that set it compute what they computed.
        time_major = bool(kwargs.pop("time_major", False))
        super().__init__(**kwargs)
        self.time_major = time_major
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.supports_masking = True
        if isinstance(state_size, int):
            self.state_size, self.single_state = [state_size], True
        else:
            self.state_size, self.single_state = list(state_size), False
        # Stateful layers keep their states here (not weights: Keras does not save them).
        self.__dict__["states"] = None

    # The cell arguments a layer such as ``LSTM`` exposes as its own attributes (Keras's
    # properties ``layer.units``, ``layer.dropout``, ...).
    _CELL_ATTRIBUTES = ()

    def __getattr__(self, name):
        if name in type(self)._CELL_ATTRIBUTES and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # -- shapes -------------------------------------------------------------------------------
    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        if size is None:
            size = self.state_size[0]
        if isinstance(size, (list, tuple)):
            size = size[0]
        if not isinstance(size, (int, np.integer)):
            raise ValueError(f"output_size must be an integer. Received: {size!r}")
        return int(size)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, length = sequences_shape[0], sequences_shape[1]
        if self.time_major:
            batch, length = length, batch
        size = self._output_size()
        output = (batch, length, size) if self.return_sequences else (batch, size)
        if self.time_major and self.return_sequences:
            output = (length, batch, size)
        if not self.return_state:
            return output
        states = []
        for s in self.state_size:
            if isinstance(s, (list, tuple)):
                states.append([(batch, d) for d in s])
            else:
                states.append((batch, s))
        return [output, *states]

    def compute_mask(self, inputs, mask=None):
        mask = _flat(mask)[0] if mask is not None else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) < 3:
            raise ValueError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible with "
                "the layer: expected ndim>=3 (batch_size, timesteps, features), found "
                f"ndim={len(sequences_shape)}. Full shape received: {tuple(sequences_shape)}"
            )
        step_shape = (sequences_shape[1 if self.time_major else 0],) + tuple(sequences_shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            with name_scope(self.name):
                self.cell._maybe_build(step_shape)
        if self.stateful and step_shape[0] is not None:
            self._create_states(step_shape[0])
        self.built = True

    # -- states -------------------------------------------------------------------------------
    def get_initial_state(self, batch_size):
        get_initial = getattr(self.cell, "get_initial_state", None)
        if get_initial is not None:
            state = get_initial(batch_size=batch_size)
            return list(state) if isinstance(state, (list, tuple)) else [state]
        return [np.zeros((batch_size, d), dtype=self.dtype) for d in self.state_size]

    def _create_states(self, batch_size):
        self.__dict__["states"] = [
            backend.Variable(
                np.asarray(autodiff.unwrap(s)),
                trainable=False,
                name="rnn_state",
                dtype=self.dtype,
            )
            for s in self.get_initial_state(batch_size)
        ]

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        """Zeroes the states of a stateful layer."""
        for v in self.states or ():
            v.assign(np.zeros(v.shape, dtype=v.dtype))

    # -- the loop -----------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        return self._call(sequences, initial_state, mask, training, self._uses_kernel())

    def _call(self, sequences, initial_state, mask, training, fused):
        if self.time_major:  # (timesteps, batch, ...) -> (batch, timesteps, ...)
            axes = (1, 0) + tuple(range(2, len(np.shape(autodiff.unwrap(sequences)))))
            sequences = ops.transpose(sequences, axes)
        batch = np.shape(autodiff.unwrap(sequences))[0]
        initial_state = self._initial_state(batch, initial_state)
        if mask is not None:
            mask = np.asarray(autodiff.unwrap(_flat(mask)[0])).astype(bool)
        if fused:  # a built-in cell: the fused kernel (sequence_kernel.py); _loop is the reference
            last_output, outputs, states = self._run_kernel(
                sequences, initial_state, mask, training
            )
        else:
            try:
                last_output, outputs, states = self._loop(sequences, initial_state, mask, training)
            finally:
                _reset_dropout_masks(self.cell)
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(np.asarray(autodiff.unwrap(state)))
        output = outputs if self.return_sequences else last_output
        if self.time_major and self.return_sequences:
            output = ops.transpose(output, (1, 0, 2))
        if self.return_state:
            return [output, *states]
        return output

    def _initial_state(self, batch, initial_state):
        """The initial states as a list: ``initial_state``, or the stateful layer's states, or
        the cell's (zeros); checked against ``state_size`` and the batch size."""
        if self.stateful and self.states is None:
            # An eager call builds with the batch axis unknown: the first batch fixes it.
            self._create_states(batch)
        if initial_state is None and self.stateful:
            # Copies: the call assigns the final states in place, and a recorded step must
            # keep the values it read.
            initial_state = [v.numpy() for v in self.states]
        elif initial_state is None:
            initial_state = self.get_initial_state(batch)
        elif not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        if len(initial_state) != len(self.state_size):
            raise ValueError(
                f"Layer {self.name} expects {len(self.state_size)} state(s), but it received "
                f"{len(initial_state)} initial state(s)."
            )
        if self.stateful and self.states and self.states[0].shape[0] != batch:
            raise ValueError(
                "If an RNN is stateful, the batch size of the input sequences must be the same "
                f"as the batch size of the initial state.\n- Expected batch size: "
                f"{self.states[0].shape[0]}\n- Received batch size: {batch}"
            )
        return initial_state

    # -- the fused kernel ---------------------------------------------------------------------
    def _uses_kernel(self) -> bool:
        """Whether calls run the fused sequence kernel: a plain built-in cell (see
        ``sequence_kernel.supports``) and ``call`` not overridden."""
        return type(self).call is RNN.call and sequence_kernel.supports(self.cell)

    def _run_kernel(self, sequences, states, mask, training):
        """``_loop``'s results from the kernel: recorded as one node when a tape records."""
        if autodiff.is_recording():
            recorded = sequence_kernel.record(self, sequences, states, mask, training)
            if recorded is not None:
                return recorded
        values = [np.asarray(autodiff.unwrap(s)) for s in (sequences, *states)]
        last, sequence, final, _ = sequence_kernel.forward(
            self, values[0], values[1:], mask, training, keep=False
        )
        return last, sequence, final

    def _run_call(self, sig, inputs, rest, kwargs, training):
        # No `record_kernel_call`: `call` records the kernel itself (with initial states and
        # masks too, and one backward pass for all outputs).
        return self._invoke(sig, inputs, rest, kwargs, training)

    def _trains_by_kernel(self) -> bool:
        # `forward`/`backward` take the sequences alone; a time-major or stateful layer trains
        # through `call` (the kernel recorded as one node, its initial states among its inputs).
        return not self.time_major and not self.stateful and self._uses_kernel()

    def forward(self, inputs, training=False):
        """The kernel model's training forward (inputs alone): ``(outputs, cache)``."""
        if not self._trains_by_kernel():
            return super().forward(inputs, training)
        x = np.asarray(inputs)
        states = [np.asarray(s) for s in self.get_initial_state(x.shape[0])]
        last, sequence, final, cache = sequence_kernel.forward(self, x, states, None, training)
        output = sequence if self.return_sequences else last
        return ([output, *final] if self.return_state else output), cache

    def backward(self, dy, cache, need_dx=True):
        dys = list(dy) if self.return_state else [dy]
        dys = [_gradient_or_none(d) for d in dys]
        d_states = dys[1:] if self.return_state else [None] * len(self.state_size)
        d_sequence, d_last = (dys[0], None) if self.return_sequences else (None, dys[0])
        dx, _, grads = sequence_kernel.backward(cache, d_last, d_sequence, d_states, need_dx)
        return dx, grads

    def _call_with_ops(self, inputs, training=False):
        """The per-step loop on ops (differentiable to any order: a gradient penalty)."""
        states = self.get_initial_state(np.shape(autodiff.unwrap(inputs))[0])
        try:
            last, sequence, final = self._loop(inputs, states, None, training)
        finally:
            _reset_dropout_masks(self.cell)
        output = sequence if self.return_sequences else last
        return [output, *final] if self.return_state else output

    def _loop(self, sequences, states, mask, training):
        cell = self.cell
        step_call = cell.call if _is_builtin_cell(cell) else cell
        kwargs = {"training": bool(training)} if _takes_training(cell) else {}
        timesteps = np.shape(autodiff.unwrap(sequences))[1]
        order = range(timesteps - 1, -1, -1) if self.go_backwards else range(timesteps)
        outputs, previous = [], None
        for t in order:
            step_states = states[0] if self.single_state else states
            output, new_states = step_call(sequences[:, t], step_states, **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if mask is not None:
                keep = mask[:, t : t + 1]  # (batch, 1)
                new_states = [_where(keep, n, s) for n, s in zip(new_states, states)]
                if previous is None or self.zero_output_for_mask:
                    output = _where(keep, output, 0.0)
                else:
                    output = _where(keep, output, previous)
            states, previous = new_states, output
            outputs.append(output)
        if not outputs:
            raise ValueError(f"Layer {self.name} received a sequence with 0 timesteps.")
        sequence = ops.stack(outputs, axis=1) if self.return_sequences else None
        return outputs[-1], sequence, states

    def _saveable_children(self):
        """Where Keras saves the cell's weights: ``<layer>/cell/vars``."""
        return [("cell", self.cell)] if isinstance(self.cell, Layer) else []

    # -- config -------------------------------------------------------------------------------
    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config.update(
            {
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_keras_object(self.cell),
            }
        )
        if self.time_major:  # only when set: Keras 3 rejects it, rather than misread the file
            config["time_major"] = True
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numpykeras.saving.serialization import deserialize_layer

        config = dict(config)
        cell = deserialize_layer(config.pop("cell"), custom_objects=custom_objects, build=False)
        return cls(cell, **config)


def check_units(units):
    """``units`` if it is a positive int, else a ``ValueError`` (as Keras's cells)."""
    if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
        raise ValueError(
            "Received an invalid value for argument `units`, expected a positive integer, "
            f"got {units}."
        )
    return int(units)


def layer_config(layer, keys, drop=()):
    """A recurrent layer's config as Keras writes it: the RNN's entries and its cell's
    arguments, flat, in Keras's order ``keys`` (``drop``: cell entries Keras leaves out)."""
    config = RNN.get_config(layer)
    del config["cell"]
    cell = layer.cell.get_config()
    for key in ("name", "trainable", "dtype", *drop):
        cell.pop(key, None)
    config.update(cell)
    config["activity_regularizer"] = regularizers.serialize(layer.activity_regularizer)
    out = {k: config[k] for k in keys if k in config}
    out.update({k: v for k, v in config.items() if k not in out})
    return out


def _gradient_or_none(d):
    """An output's gradient as an array; ``None`` for none (or the 0-d zeros a model passes
    for an output without a gradient)."""
    if d is None:
        return None
    d = np.asarray(autodiff.unwrap(d))
    return None if d.ndim == 0 and not d.any() else d


def _where(keep, new, old):
    if type(new) is not autodiff.Tensor and type(old) is not autodiff.Tensor:
        return np.where(keep, new, old).astype(np.asarray(new).dtype, copy=False)
    return ops.where(keep, new, old)


def _is_builtin_cell(cell):
    from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    return (
        isinstance(cell, DropoutRNNCell)
        and cell.built
        and type(cell).__module__.startswith("numpykeras.")
    )


def _takes_training(cell):
    import inspect

    try:
        return "training" in inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        return False


def _reset_dropout_masks(cell):
    from numpykeras.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    if isinstance(cell, DropoutRNNCell):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    for inner in getattr(cell, "cells", ()):
        _reset_dropout_masks(inner)
