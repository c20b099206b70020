"""``TimeDistributed``: applies a layer to every temporal slice of its input.

The input ``(batch, time, ...)`` is reshaped to ``(batch * time, ...)``, the layer is called
once on that, and its output is reshaped back to ``(batch, time, ...)``. The same weights serve
every timestep. Written with ``keras.ops`` (the wrapped layer is called normally, so a layer with
a kernel records as one node), so a ``GradientTape`` differentiates it.
"""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import Layer, _call_signature, name_scope
from numpykeras.ops import autodiff
from numpykeras.ops import numpy as ops


class TimeDistributed(Layer):
    """Applies a layer to every temporal slice of an input.

    Args:
        layer: a ``keras.layers.Layer`` instance, applied to each ``inputs[:, t]``.
        **kwargs: ``name``, ``trainable``, ``dtype``.

    Call arguments:
        inputs: ``(batch_size, timesteps, ...)``; axis 1 is the temporal axis.
        training: passed to the wrapped layer (if its ``call`` takes it).
        mask: optional boolean ``(batch_size, timesteps)``, passed (one entry per slice) to the
            wrapped layer if its ``call`` takes a ``mask``.

    Input shape:
        ``(batch_size, timesteps, *step_shape)`` with at least 3 axes.

    Output shape:
        ``(batch_size, timesteps, *layer_output_shape)``, where the wrapped layer maps
        ``(batch_size, *step_shape)`` to ``(batch_size, *layer_output_shape)``.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Please initialize `TimeDistributed` layer with a `keras.layers.Layer` "
                f"instance. Received: {layer!r}"
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    @staticmethod
    def _child_input_shape(input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                "`TimeDistributed` Layer should be passed an `input_shape` with at least 3 "
                f"dimensions, received: {input_shape}"
            )
        return (input_shape[0], *input_shape[2:])

    def compute_output_shape(self, input_shape):
        child_output_shape = tuple(
            self.layer.compute_output_shape(self._child_input_shape(input_shape))
        )
        return (child_output_shape[0], input_shape[1], *child_output_shape[1:])

    def build(self, input_shape):
        child_input_shape = self._child_input_shape(tuple(input_shape))
        if not self.layer.built:
            with name_scope(self.name):
                self.layer._maybe_build(child_input_shape)
        self.built = True

    def call(self, inputs, training=False, mask=None):
        shape = np.shape(autodiff.unwrap(inputs))
        if len(shape) < 3:
            raise ValueError(
                "`TimeDistributed` Layer should be passed inputs with at least 3 dimensions "
                f"(batch_size, timesteps, ...), received shape {shape}"
            )
        batch, steps = shape[0], shape[1]
        kwargs = {}
        sig = _call_signature(type(self.layer))
        if sig.accepts_training:
            kwargs["training"] = training
        if mask is not None:
            mask = np.asarray(autodiff.unwrap(mask))
            if mask.ndim < 2:
                raise ValueError(
                    "The `mask` passed to the `TimeDistributed` layer must be at least 2D "
                    f"(e.g., `(batch_size, timesteps)`), but it has {mask.ndim} dimension(s) "
                    f"with shape {mask.shape}."
                )
            if mask.shape[:2] != (batch, steps):
                raise ValueError(
                    f"The `mask` passed to the `TimeDistributed` layer has a shape {mask.shape} "
                    f"that is incompatible with the input shape {shape}. The first two "
                    "dimensions of the mask (batch size and timesteps) must match the input's "
                    f"first two dimensions. Expected mask shape prefix: ({batch}, {steps})."
                )
            if sig.accepts_mask:
                kwargs["mask"] = mask.reshape((batch * steps, *mask.shape[2:]))
        flat = ops.reshape(inputs, (batch * steps, *shape[2:]))
        outputs = self.layer(flat, **kwargs)
        out_shape = np.shape(autodiff.unwrap(outputs))
        return ops.reshape(outputs, (batch, steps, *out_shape[1:]))

    # -- saving -------------------------------------------------------------------------------
    def _saveable_children(self):
        """Where Keras saves the wrapped layer's weights: ``<layer>/layer/...``."""
        return [("layer", self.layer)]

    def get_config(self):
        from numpykeras.saving.serialization import serialize_keras_object

        config = super().get_config()
        config["layer"] = serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from numpykeras.saving.serialization import deserialize_layer

        config = dict(config)
        if "layer" not in config:
            raise ValueError(
                f"A TimeDistributed config needs a `layer` entry. Received keys: {sorted(config)}"
            )
        layer = deserialize_layer(config.pop("layer"), custom_objects=custom_objects, build=False)
        return cls(layer, **config)
