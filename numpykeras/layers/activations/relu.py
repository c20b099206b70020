"""``ReLU``: the rectified linear unit with Keras's optional cap, leak and threshold."""

from __future__ import annotations

import numpy as np

from numpykeras import activations
from numpykeras.layers.layer import Layer


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class ReLU(Layer):
    """Rectified linear unit activation.

    ``y = max_value`` for ``x >= max_value``, ``y = x`` for ``threshold <= x < max_value`` and
    ``y = negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: float >= 0, the largest output (``None``: no cap).
        negative_slope: float >= 0, the slope below ``threshold``.
        threshold: float >= 0, below which values are damped.

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and (not _is_number(max_value) or max_value < 0.0):
            raise ValueError(
                "max_value of a ReLU layer cannot be a negative value. "
                f"Received: max_value={max_value}"
            )
        if negative_slope is None or not _is_number(negative_slope) or negative_slope < 0.0:
            raise ValueError(
                "negative_slope of a ReLU layer cannot be None or a negative value. "
                f"Received: negative_slope={negative_slope}"
            )
        if threshold is None or not _is_number(threshold) or threshold < 0.0:
            raise ValueError(
                "threshold of a ReLU layer cannot be None or a negative value. "
                f"Received: threshold={threshold}"
            )
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def _params(self):
        return {
            "negative_slope": float(self.negative_slope),
            "max_value": None if self.max_value is None else float(self.max_value),
            "threshold": float(self.threshold),
        }

    def call(self, inputs, training=False):
        return activations.relu(inputs, **self._params())

    def forward(self, inputs, training=False):
        y = activations.relu(inputs, **self._params())
        return y, (inputs, y)

    def backward(self, dy, cache, need_dx=True):
        x, y = cache
        return activations.backward(activations.relu, dy, x, y, **self._params()), {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_value": self.max_value,
                "negative_slope": self.negative_slope,
                "threshold": self.threshold,
            }
        )
        return config
