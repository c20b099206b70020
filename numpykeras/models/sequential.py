"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

import copy

import numpy as np

from numpykeras.layers.input_layer import InputLayer
from numpykeras.layers.layer import Layer, name_scope, standardize_shape
from numpykeras.layers.node import KerasTensor
from numpykeras.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    ``Sequential([layer, ...])`` or ``.add(layer)`` one at a time. Give the input shape with
    ``keras.Input(shape)`` as the first entry, with ``input_shape=`` on the first layer, or let the
    model build itself on its first call (or with ``build(input_shape)``).
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        if layers:
            for layer in layers:
                self.add(layer, rebuild=False)
            self._maybe_rebuild()

    # -- structure ----------------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Adds a layer on top of the stack."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer} (of type {type(layer)})"
            )
        if not self._layers and not isinstance(layer, InputLayer):
            if layer._batch_input_shape is not None:
                self._layers.append(InputLayer(batch_shape=layer._batch_input_shape))
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                "argument to pass a unique name."
            )
        if isinstance(layer, InputLayer) and self._layers:
            if isinstance(self._layers[0], InputLayer):
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {self._layers[0].batch_shape}. You cannot add a different Input layer "
                    "to it."
                )
            raise ValueError(
                "An InputLayer can only be the first layer of a Sequential model. "
                f"Received it after {len(self._layers)} layer(s)."
            )
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    @property
    def layers(self) -> list:
        """The model's layers, without the InputLayer (as in Keras)."""
        layers = self._layers
        if layers and isinstance(layers[0], InputLayer):
            return layers[1:]
        return layers[:]

    def _sublayers(self) -> list:
        return self.layers

    def _maybe_rebuild(self):
        self.built = False
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    def build(self, input_shape=None):
        """Builds every layer for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            if self._layers and isinstance(self._layers[0], InputLayer):
                input_shape = self._layers[0].batch_shape
            else:
                raise ValueError(
                    f"You must provide an `input_shape` argument to build Sequential model "
                    f"'{self.name}'."
                )
        input_shape = standardize_shape(input_shape)
        if not self.layers:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has no layers. "
                "Call `model.add(layer)`."
            )
        if isinstance(self._layers[0], InputLayer):
            if self._layers[0].batch_shape[1:] != input_shape[1:]:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {self._layers[0].batch_shape}. You cannot build it with input_shape "
                    f"{input_shape}"
                )
        else:
            self._layers.insert(0, InputLayer(batch_shape=input_shape, dtype=self._layers[0].dtype))
        x = self._layers[0]._output_tensor
        with name_scope(self.name):
            for layer in self.layers:
                x = layer(x)
        self._output_tensor = x
        from numpykeras.models.functional import Functional

        # The stack as a graph: every call, forward and backward runs through the one graph
        # runner (and its cached inference plan), as Keras's Sequential runs its `_functional`.
        # Kept out of attribute tracking: its layers are this model's layers.
        self.__dict__["_functional"] = Functional(self._layers[0]._output_tensor, x)
        self.built = True
        self._build_shapes_dict = {"input_shape": self._layers[0].batch_shape}

    def _maybe_build(self, input_shape):
        if not self.built:
            with self._build_lock:
                if not self.built:
                    shape = (None,) + tuple(input_shape[1:])
                    self.build(shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    # -- shapes -------------------------------------------------------------------------------
    @property
    def input_shape(self):
        self._require_built("input_shape")
        return self._layers[0].batch_shape

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self._output_tensor.shape

    @property
    def inputs(self):
        self._require_built("inputs")
        return [self._layers[0]._output_tensor]

    @property
    def outputs(self):
        self._require_built("outputs")
        return [self._output_tensor]

    @property
    def input(self):
        # Called as a layer of a Functional model, like any layer: the input of that call (Keras).
        # Never called: its own input, where Keras 3 raises.
        if self._inbound_nodes:
            return Model.input.fget(self)
        return self.inputs[0]

    @property
    def output(self):
        if self._inbound_nodes:
            return Model.output.fget(self)
        return self.outputs[0]

    def _require_built(self, what):
        if not self.built:
            raise AttributeError(
                f"Sequential model '{self.name}' has no defined {what} yet: it has not been built. "
                "Give the first layer an `input_shape`, start with `keras.Input(shape)`, or call "
                "the model on data."
            )

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def _summary_rows(self):
        rows = []
        for layer in self.layers:
            shape = layer._inbound_nodes[-1].output_tensors if layer._inbound_nodes else None
            rows.append((layer, shape[0].shape if shape else None, None))
        return rows

    # -- computation --------------------------------------------------------------------------
    def _input_count(self):
        return 1

    def _standardize_x(self, x):
        x = super()._standardize_x(x)
        if isinstance(x, dict):
            self._convert_inputs(x)  # raises: a Sequential model takes one array
        return x

    def _convert_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            # One input: `model([x])` is `model(x)`, as in Keras.
            if len(inputs) != 1:
                raise ValueError(
                    f'Layer "{self.name}" expects 1 input(s), but it received {len(inputs)} '
                    "input tensors."
                )
            inputs = inputs[0]
        elif isinstance(inputs, dict):
            raise ValueError(
                f'Layer "{self.name}" expects 1 input(s), an array, but it received a dict with '
                f"keys {list(inputs)}."
            )
        # As Keras, `model(x)` converts to the input layer's dtype, not the model's float32
        # (a float64 model called on float64 data must not round its inputs).
        if self._layers and self._layers[0].dtype != self.dtype:
            return self._layers[0]._convert_inputs(inputs)
        return super()._convert_inputs(inputs)

    def _check_model_input(self, x):
        expected = self._layers[0].batch_shape
        shape = tuple(x.shape)
        if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, shape)
        ):
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"shape={expected}, found shape={shape}"
            )

    def call(self, inputs, training=False):
        return self._functional.call(inputs, training=bool(training))

    def _outputs_and_logits(self, x):
        """Inference outputs and the logits of a last layer ending in a softmax/sigmoid (see
        ``Model._outputs_and_logits``)."""
        if not isinstance(x, np.ndarray):
            return super()._outputs_and_logits(x)
        return self._functional._outputs_and_logits(self._prepare_inputs(x))

    def _call_with_ops(self, inputs, training=False):
        return self._functional._call_with_ops(inputs, training=training)

    def _trains_by_kernel(self) -> bool:
        functional = self.__dict__.get("_functional")
        if self.built and functional is not None:
            return functional._trains_by_kernel()
        return all(layer._trains_by_kernel() for layer in self.layers)

    def forward(self, inputs, training=False):
        """Runs the graph, recording ``(node, cache)`` for each layer on a tape."""
        return self._functional.forward(self._prepare_inputs(inputs), training=training)

    def backward(self, dy, tape, need_dx=True):
        """Walks the tape backwards; returns ``dx`` and ``{variable: gradient}`` (summed)."""
        return self._functional.backward(dy, tape, need_dx=need_dx)

    def output_logits(self, tape):
        return self._functional.output_logits(tape)

    def outputs_logits(self, tape):
        """``[output_logits(tape)]``: the model's one output, as a structure of one."""
        return self._functional.outputs_logits(tape)

    def backward_outputs(self, dys, dlogits, tape):
        """The weights' gradients given ``[dL/dy]`` or ``[dL/dlogits]`` for the one output."""
        return self._functional.backward_outputs(dys, dlogits, tape)

    def backward_from_logits(self, dlogits, tape, need_dx=True):
        return self._functional.backward_from_logits(dlogits, tape, need_dx=need_dx)

    # -- serialisation ------------------------------------------------------------------------
    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        layer_configs = []
        for layer in self._layers:
            layer_configs.append(serialize_keras_object(layer))
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": self.dtype},
                "registered_name": None,
            },
            "layers": copy.deepcopy(layer_configs),
        }
        if self.built:
            config["build_input_shape"] = self._layers[0].batch_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numpykeras.saving.serialization import deserialize_layer

        if isinstance(config, list):  # very old Keras: a bare list of layer configs
            config = {"layers": config}
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            layer = deserialize_layer(layer_config, custom_objects=custom_objects, build=False)
            model.add(layer, rebuild=False)
        build_shape = config.get("build_input_shape")
        if model._layers and isinstance(model._layers[0], InputLayer) and len(model._layers) > 1:
            model.build(model._layers[0].batch_shape)
        elif build_shape is not None and model._layers:
            model.build(tuple(build_shape))
        return model


def _accumulate(total: dict, grads: dict) -> None:
    """Adds ``grads`` into ``total``; a variable used twice (a shared layer) sums its gradients."""
    for variable, g in grads.items():
        if variable in total:
            total[variable] = total[variable] + g
        else:
            total[variable] = g
