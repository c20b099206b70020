"""Keras layers, implemented in NumPy.

``layers.get`` / ``layers.deserialize`` turn a Keras config dict into a layer; ``layers.serialize``
goes the other way.
"""

from __future__ import annotations

from numpykeras.layers.convolutional.conv2d import Conv2D
from numpykeras.layers.core.activation import Activation
from numpykeras.layers.core.dense import Dense
from numpykeras.layers.input_layer import Input, InputLayer
from numpykeras.layers.layer import InputSpec, Layer
from numpykeras.layers.normalization.batch_normalization import BatchNormalization
from numpykeras.layers.pooling.average_pooling2d import AveragePooling2D
from numpykeras.layers.pooling.global_pooling2d import GlobalAveragePooling2D, GlobalMaxPooling2D
from numpykeras.layers.pooling.max_pooling2d import MaxPooling2D
from numpykeras.layers.regularization.dropout import Dropout
from numpykeras.layers.reshaping.flatten import Flatten
from numpykeras.layers.reshaping.reshape import Reshape
from numpykeras.layers.reshaping.zero_padding2d import ZeroPadding2D

# Keras's aliases.
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


def _layer_classes() -> dict:
    """Every layer class this module exports, by name (aliases included)."""
    return {
        name: obj
        for name, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, Layer)
    }


def serialize(layer) -> dict:
    """A layer as Keras 3 stores it: ``{"module", "class_name", "config", "registered_name"}``."""
    from numpykeras.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A layer (or model) from a Keras 2 or Keras 3 config dict."""
    from numpykeras.saving.serialization import deserialize_layer

    return deserialize_layer(config, custom_objects=custom_objects)


get = deserialize

__all__ = [name for name in _layer_classes()] + ["Input", "serialize", "deserialize"]
