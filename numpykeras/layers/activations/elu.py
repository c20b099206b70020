"""``ELU``: the exponential linear unit as a layer."""

from __future__ import annotations

from numpykeras import activations
from numpykeras.layers.layer import Layer


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part (default 1.0).

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, (str, bool)) or not hasattr(alpha, "__float__"):
            raise ValueError(f"Argument `alpha` of ELU must be a float. Received: alpha={alpha!r}")
        self.alpha = alpha

    def call(self, inputs, training=False):
        return activations.elu(inputs, alpha=float(self.alpha))

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        return activations.backward(activations.elu, dy, x, None, alpha=float(self.alpha)), {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
