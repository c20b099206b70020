"""``Bidirectional``: runs a recurrent layer over a sequence forwards and backwards.

The forward layer is a copy of the given layer (built from its config, named
``forward_<name>``); the backward layer is another copy with ``go_backwards`` flipped (named
``backward_<name>``) unless one is given. Both see the same inputs and mask; with
``return_sequences`` the backward outputs are flipped back to input order before the two are
merged. Written with ``keras.ops``, so a ``GradientTape`` differentiates it through both loops.
"""

from __future__ import annotations

from numpykeras.layers.layer import Layer, _call_signature, name_scope
from numpykeras.ops import numpy as ops

MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _remove_prefix(name, prefix):
    return name[len(prefix) :] if name.startswith(prefix) else name


def _copy_layer(layer, name, **overrides):
    """A fresh, unbuilt layer from ``layer``'s config (Keras's serialize/deserialize round trip:
    no weights or states carried over), renamed ``name``."""
    from numpykeras.saving.serialization import deserialize_layer, serialize_keras_object

    config = serialize_keras_object(layer)
    config["config"] = {**config["config"], **overrides, "name": name}
    return deserialize_layer(config, build=False)


class Bidirectional(Layer):
    """Bidirectional wrapper for recurrent layers.

    Args:
        layer: a recurrent layer (``RNN``, ``LSTM``, ``GRU``, ``SimpleRNN``), or any layer with
            ``go_backwards``, ``return_sequences``, ``return_state`` and ``stateful`` attributes
            and a config. It is not used itself: the forward layer is a copy of it with fresh
            weights.
        merge_mode: how the forward and backward outputs are combined: ``"concat"`` (default,
            along the last axis), ``"sum"``, ``"mul"``, ``"ave"``, or ``None`` (both returned,
            as a list).
        weights: optional list of initial weights, the forward layer's first half then the
            backward layer's; set when the layers are built.
        backward_layer: optional layer for the backward direction; it must have the opposite
            ``go_backwards`` and the same ``stateful``, ``return_sequences`` and
            ``return_state`` as ``layer``. Default: a copy of ``layer`` with ``go_backwards``
            flipped.
        **kwargs: ``name``, ``trainable``, ``dtype``.

    Call arguments:
        sequences: ``(batch_size, timesteps, features)``.
        initial_state: optional list of initial states: the first half goes to the forward
            layer, the second half to the backward layer.
        mask: optional boolean ``(batch_size, timesteps)``, passed to both layers (masked
            steps output zeros when ``return_sequences``, as in Keras).
        training: whether dropout applies.

    Input shape:
        ``(batch_size, timesteps, features)``.

    Output shape:
        The wrapped layer's output shape, with the last axis doubled for ``"concat"``; a list of
        the two outputs for ``merge_mode=None``. With ``return_state``, a list
        ``[output(s), *forward_states, *backward_states]``.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                f"Received: {layer!r}"
            )
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "`backward_layer` need to be a `keras.layers.Layer` instance. Received: "
                f"{backward_layer!r}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                '{"sum", "mul", "ave", "concat", None}'
            )
        for attribute in ("go_backwards", "return_sequences", "return_state", "stateful"):
            if not hasattr(layer, attribute):
                raise ValueError(
                    f"`Bidirectional` needs a sequence-processing layer with a `{attribute}` "
                    f"attribute (such as an RNN). Received: {layer!r}"
                )
        super().__init__(**kwargs)
        self.forward_layer = _copy_layer(layer, f"forward_{_remove_prefix(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = _copy_layer(
                layer,
                f"backward_{_remove_prefix(layer.name, 'backward_')}",
                go_backwards=not layer.go_backwards,
            )
        self.backward_layer = backward_layer
        self._verify_layer_config()
        # As Keras: masked steps of returned sequences are zeros in both directions.
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        if weights:
            half = len(weights) // 2
            self.forward_layer._initial_weights = list(weights[:half])
            self.backward_layer._initial_weights = list(weights[half:])
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def _verify_layer_config(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` value. "
                f"Received: forward_layer.go_backwards={forward.go_backwards}, "
                f"backward_layer.go_backwards={backward.go_backwards}"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            forward_value = getattr(forward, attribute, None)
            backward_value = getattr(backward, attribute, None)
            if forward_value != backward_value:
                raise ValueError(
                    "Forward layer and backward layer are expected to have the same value for "
                    f'attribute "{attribute}", got "{forward_value}" for forward layer and '
                    f'"{backward_value}" for backward layer'
                )

    # -- shapes -------------------------------------------------------------------------------
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shapes = []
        if self.return_state:
            output_shape, state_shapes = output_shape[0], list(output_shape[1:])
        output_shape = tuple(output_shape)
        if self.merge_mode == "concat":
            last = output_shape[-1]
            output_shape = output_shape[:-1] + (None if last is None else 2 * last,)
        outputs = [output_shape, output_shape] if self.merge_mode is None else [output_shape]
        if self.return_state:
            return outputs + state_shapes + state_shapes
        return outputs if self.merge_mode is None else output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            n_states = len(getattr(self.forward_layer, "state_size", ()) or ())
            n_states += len(getattr(self.backward_layer, "state_size", ()) or ())
            return masks + [None] * n_states
        return masks if self.merge_mode is None else output_mask

    def build(self, sequences_shape, initial_state_shape=None):
        with name_scope(self.name):
            for sub in (self.forward_layer, self.backward_layer):
                if not sub.built:
                    sub._maybe_build(sequences_shape)
        self.built = True

    # -- states -------------------------------------------------------------------------------
    @property
    def states(self):
        forward = getattr(self.forward_layer, "states", None)
        backward = getattr(self.backward_layer, "states", None)
        if forward and backward:
            return tuple(forward) + tuple(backward)
        return None

    def reset_states(self):
        self.reset_state()

    def reset_state(self):
        """Zeroes the states of both layers (stateful layers only)."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    # -- call ---------------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        kwargs = {}
        sig = _call_signature(type(self.forward_layer))
        if sig.accepts_training:
            kwargs["training"] = training
        if mask is not None and sig.accepts_mask:
            kwargs["mask"] = mask
        forward_state = backward_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            if len(initial_state) % 2:
                raise ValueError(
                    f"Layer {self.name} (Bidirectional) expects an even number of initial "
                    "states (the first half for the forward layer, the second half for the "
                    f"backward layer). Received {len(initial_state)} initial state(s)."
                )
            half = len(initial_state) // 2
            forward_state = list(initial_state[:half])
            backward_state = list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)  # back to input order
        if self.merge_mode == "concat":
            outputs = [ops.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            outputs = [ops.add(y, y_rev)]
        elif self.merge_mode == "ave":
            outputs = [ops.divide(ops.add(y, y_rev), 2.0)]
        elif self.merge_mode == "mul":
            outputs = [ops.multiply(y, y_rev)]
        else:
            outputs = [y, y_rev]
        if self.return_state:
            return outputs + states
        return outputs if self.merge_mode is None else outputs[0]

    # -- saving -------------------------------------------------------------------------------
    def _saveable_children(self):
        """Where Keras saves the weights: ``<layer>/forward_layer/...``,
        ``<layer>/backward_layer/...``."""
        return [("forward_layer", self.forward_layer), ("backward_layer", self.backward_layer)]

    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_keras_object(self.forward_layer)
        config["backward_layer"] = serialize_keras_object(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numpykeras.saving.serialization import deserialize_layer

        config = dict(config)
        if "layer" not in config:
            raise ValueError(
                f"A Bidirectional config needs a `layer` entry. Received keys: {sorted(config)}"
            )
        layer = deserialize_layer(config.pop("layer"), custom_objects=custom_objects, build=False)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward, custom_objects=custom_objects, build=False)
        return cls(layer, backward_layer=backward, **config)
