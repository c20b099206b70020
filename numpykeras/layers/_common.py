"""Pieces shared by layers that end in an activation or carry weight regularizers."""

from __future__ import annotations

from numpykeras import activations, constraints, initializers, regularizers


def activate(activation, z):
    """``y = activation(z)``; the identity when ``activation`` is linear."""
    return z if activation is activations.linear else activation(z)


def activation_backward(activation, dy, z, y):
    """``dL/dz`` from ``dL/dy`` for ``y = activation(z)``."""
    if activation is activations.linear:
        return dy
    return activations.backward(activation, dy, z, y)


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
