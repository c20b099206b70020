"""``LeakyReLU``: ``x`` for ``x > 0``, ``negative_slope * x`` otherwise."""

from __future__ import annotations

from numpykeras import activations
from numpykeras.layers.layer import Layer


class LeakyReLU(Layer):
    """Leaky version of a rectified linear unit.

    Args:
        negative_slope: float >= 0, the slope for ``x <= 0`` (default 0.3, as in Keras 3). Keras 2
            configs spell it ``alpha``, which is accepted too.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if (
            negative_slope is None
            or isinstance(negative_slope, (str, bool))
            or not hasattr(negative_slope, "__float__")
            or negative_slope < 0
        ):
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                f"Expected a float. Received: negative_slope={negative_slope}"
            )
        self.negative_slope = negative_slope

    def call(self, inputs, training=False):
        return activations.leaky_relu(inputs, negative_slope=float(self.negative_slope))

    def _call_with_ops(self, inputs, training=False):
        from numpykeras import ops

        return ops.leaky_relu(inputs, negative_slope=float(self.negative_slope))

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        x = cache
        dx = activations.backward(
            activations.leaky_relu, dy, x, None, negative_slope=float(self.negative_slope)
        )
        return dx, {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config
