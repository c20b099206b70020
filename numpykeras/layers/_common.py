"""Pieces shared by layers that end in an activation or carry weight regularizers."""

from __future__ import annotations

import numpy as np

from numpykeras import activations, constraints, initializers, regularizers


def activate(activation, z):
    """``y = activation(z)``; the identity when ``activation`` is linear."""
    return z if activation is activations.linear else activation(z)


def activation_backward(activation, dy, z, y):
    """``dL/dz`` from ``dL/dy`` for ``y = activation(z)``."""
    if activation is activations.linear:
        return dy
    if activation is activations.relu and y is not None:
        return relu_backward(dy, y)
    return activations.backward(activation, dy, z, y)


def is_plain_relu(activation) -> bool:
    """Whether ``activation`` is plain ``relu`` (Keras's defaults), which can run in place."""
    return activation is activations.relu


def relu_in_place(z):
    """``max(z, 0)`` written over ``z`` (no new array); returns ``z``."""
    return np.maximum(z, 0, out=z)


def relu_backward(dy, y):
    """``dL/dz`` for ``y = max(z, 0)``, from the output: ``y > 0`` exactly where ``z > 0``."""
    return np.multiply(dy, y > 0)


def logits_if_fusable(activation, z):
    """``(z, "softmax" | "sigmoid")`` when the activation is one of those, else ``None``.

    A crossentropy loss can then work from the logits ``z``, as Keras does.
    """
    if activations.is_softmax(activation):
        return z, "softmax"
    if activations.is_sigmoid(activation):
        return z, "sigmoid"
    return None


def weight_args_config(layer, *prefixes) -> dict:
    """The ``<prefix>_initializer/regularizer/constraint`` entries of a layer's config."""
    config = {}
    for prefix in prefixes:
        config[f"{prefix}_initializer"] = initializers.serialize(
            getattr(layer, f"{prefix}_initializer")
        )
    for prefix in prefixes:
        config[f"{prefix}_regularizer"] = regularizers.serialize(
            getattr(layer, f"{prefix}_regularizer")
        )
    return config


def constraint_config(layer, *prefixes) -> dict:
    return {
        f"{prefix}_constraint": constraints.serialize(getattr(layer, f"{prefix}_constraint"))
        for prefix in prefixes
    }
