"""``Softmax``: the softmax activation as a layer, along one or several axes."""

from __future__ import annotations

import numpy as np

from numpykeras import activations
from numpykeras.layers.layer import Layer


class Softmax(Layer):
    """Softmax: ``y = exp(x) / sum(exp(x))`` along ``axis``.

    When ``axis`` is the last axis, crossentropy losses work from this layer's input (the logits),
    as Keras does.

    Args:
        axis: int, or list/tuple of ints, the axes the softmax normalizes over (default -1).

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(
            not isinstance(a, (int, np.integer)) or isinstance(a, bool) for a in axes
        ):
            raise ValueError(
                "Argument `axis` of Softmax must be an int or a list of ints. "
                f"Received: axis={axis}"
            )
        self.axis = axis

    def _axis(self):
        if isinstance(self.axis, (list, tuple)):
            return self.axis[0] if len(self.axis) == 1 else tuple(self.axis)
        return self.axis

    def call(self, inputs, training=False):
        return activations.softmax(inputs, axis=self._axis())

    def forward(self, inputs, training=False):
        y = self.call(inputs)
        return y, (inputs, y)

    def backward(self, dy, cache, need_dx=True):
        x, y = cache
        return activations.backward(activations.softmax, dy, x, y, axis=self._axis()), {}

    def output_logits(self, cache):
        x = cache[0]
        axis = self._axis()
        if isinstance(axis, tuple) or axis % x.ndim != x.ndim - 1:
            return None  # the losses' fused path is a softmax over the last axis only
        return x, "softmax"

    def backward_from_logits(self, dlogits, cache, need_dx=True):
        return dlogits, {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
