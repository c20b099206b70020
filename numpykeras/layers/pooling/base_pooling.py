"""Shared argument handling for 2-D pooling layers."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.layer import (
    InputSpec,
    Layer,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
)
from numpykeras.ops.padding import conv_output_length


def to_nhwc(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def to_nchw(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


class BasePooling2D(Layer):
    """``pool_size`` windows moved by ``strides`` (default: ``pool_size``) over NHWC inputs."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        strides = self.pool_size if strides is None else strides
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def _args(self):
        return self.pool_size, self.strides, self.padding

    def _nhwc(self, x):
        return to_nhwc(x) if self.data_format == "channels_first" else x

    def _back(self, y):
        return to_nchw(y) if self.data_format == "channels_first" else y

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            n, h, w, c = input_shape
        else:
            n, c, h, w = input_shape
        ho = conv_output_length(h, self.pool_size[0], self.padding, self.strides[0])
        wo = conv_output_length(w, self.pool_size[1], self.padding, self.strides[1])
        if (ho is not None and ho <= 0) or (wo is not None and wo <= 0):
            raise ValueError(
                f"Computed output size would be negative. Received: inputs.shape={input_shape} "
                f"and pool_size={self.pool_size}."
            )
        return (n, ho, wo, c) if self.data_format == "channels_last" else (n, c, ho, wo)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "padding": self.padding,
                "strides": self.strides,
                "data_format": self.data_format,
            }
        )
        return config
