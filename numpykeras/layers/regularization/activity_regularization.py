"""``ActivityRegularization``: the identity, whose activity regularizer ``L1L2(l1, l2)`` adds
``(l1 * sum(|x|) + l2 * sum(x^2)) / batch_size`` of its input to the model's loss."""

from __future__ import annotations

from numpykeras import regularizers
from numpykeras.layers.layer import Layer


class ActivityRegularization(Layer):
    """Passes its input through unchanged and penalises it (Keras's ``ActivityRegularization``).

    The penalty is added by the layer's ``activity_regularizer`` (``regularizers.L1L2(l1, l2)``)
    on every call, as for any layer given ``activity_regularizer=``: ``layer.losses`` then holds
    ``L1L2(l1, l2)(inputs) / batch_size``, which ``fit`` and ``evaluate`` add to the loss.

    Args:
        l1: non-negative L1 factor.
        l2: non-negative L2 factor.
        **kwargs: the base layer's arguments (``name``, ``dtype``, ...).

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1  # kept as given, as Keras does (its config saves them so)
        self.l2 = l2
        self.built = True  # no weights: built at construction, as Keras's `_build_at_init`

    def call(self, inputs):
        return inputs

    def _call_with_ops(self, inputs, training=False):
        return inputs

    def forward(self, inputs, training=False):
        return inputs, None

    def backward(self, dy, cache, need_dx=True):
        return dy, {}

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # rebuilt from `l1` and `l2`
        config.update({"l1": self.l1, "l2": self.l2})
        return config
