"""``Rescaling``: ``y = x * scale + offset``, e.g. to map pixel values from [0, 255] to [0, 1]."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import Layer
from numpykeras.layers.merging.base_merge import sum_to_shape


def _serialize_value(value):
    """A scale/offset as Keras writes it: numbers and lists as-is, arrays as ``__numpy__`` dicts."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.item()
        return {
            "class_name": "__numpy__",
            "config": {"value": value.tolist(), "dtype": value.dtype.name},
        }
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def _deserialize_value(value):
    if isinstance(value, dict):
        if value.get("class_name") in ("__numpy__", "__tensor__"):
            config = value["config"]
            return np.asarray(config["value"], dtype=config.get("dtype"))
        raise ValueError(
            f"Could not interpret a `Rescaling` scale/offset config. Received: {value!r}"
        )
    return value


class Rescaling(Layer):
    """Multiplies inputs by ``scale`` and adds ``offset``.

    Args:
        scale: float, or an array broadcastable to the inputs (e.g. one value per channel).
        offset: float, or an array broadcastable to the inputs (default 0.0).

    Input shape:
        Any shape.

    Output shape:
        Same as the input.
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            try:
                np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Argument `{name}` of Rescaling must be a number or an array of numbers. "
                    f"Received: {name}={value!r}"
                ) from None
        self.scale = scale
        self.offset = offset

    def _constants(self, dtype):
        return np.asarray(self.scale, dtype=dtype), np.asarray(self.offset, dtype=dtype)

    def call(self, inputs, training=False):
        scale, offset = self._constants(inputs.dtype)
        return inputs * scale + offset

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs.shape

    def backward(self, dy, cache, need_dx=True):
        scale, _ = self._constants(dy.dtype)
        return sum_to_shape(dy * scale, cache), {}  # dL/dx = dy * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"scale": _serialize_value(self.scale), "offset": _serialize_value(self.offset)}
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("scale", "offset"):
            if key in config:
                config[key] = _deserialize_value(config[key])
        return cls(**config)
