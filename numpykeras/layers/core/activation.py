"""``Activation``: applies an activation function elementwise."""

from __future__ import annotations

from numpykeras import activations
from numpykeras.layers._common import activate, activation_backward, logits_if_fusable
from numpykeras.layers.layer import Layer


class Activation(Layer):
    """Applies ``activation`` to its input.

    Args:
        activation: an activation function or its name, e.g. ``"relu"``.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=False):
        return activate(self.activation, inputs)

    def _call_with_ops(self, inputs, training=False):
        fn = activations.as_ops(self.activation)
        return None if fn is None else fn(inputs)

    def forward(self, inputs, training=False):
        y = activate(self.activation, inputs)
        return y, (inputs, y)

    def backward(self, dy, cache, need_dx=True):
        x, y = cache
        return activation_backward(self.activation, dy, x, y), {}

    def output_logits(self, cache):
        return logits_if_fusable(self.activation, cache[0])

    def backward_from_logits(self, dlogits, cache, need_dx=True):
        return dlogits, {}

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config
