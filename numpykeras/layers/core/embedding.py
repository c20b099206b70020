"""``Embedding``: turns integer indices into dense vectors, ``y[..., :] = table[x[...], :]``."""

from __future__ import annotations

import numpy as np

from numpykeras import backend, constraints, initializers, regularizers
from numpykeras.layers.layer import Layer


def _positive_int(value, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value} "
            f"(of type {type(value).__name__})."
        )
    return int(value)


class Embedding(Layer):
    """Maps each integer index in ``[0, input_dim)`` to a learned vector of size ``output_dim``.

    Args:
        input_dim: the vocabulary size (largest index + 1).
        output_dim: the size of each embedding vector.
        embeddings_initializer: initializer of the ``(input_dim, output_dim)`` table
            (default ``"uniform"``, i.e. ``RandomUniform(-0.05, 0.05)``).
        embeddings_regularizer: optional regularizer of the table.
        embeddings_constraint: optional constraint on the table.
        mask_zero: treat index 0 as padding: the output's mask is ``inputs != 0``, which models
            pass on to the layers after it (recurrent layers skip those steps).
        weights: optional ``[table]`` to start from.
        input_length: accepted (and ignored) for Keras 2 configs.

    Input shape:
        Integer array ``(batch_size, ...)``; floats are truncated to integers as Keras does.

    Output shape:
        ``(batch_size, ..., output_dim)``.
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        activity_regularizer=None,
        **kwargs,
    ):
        input_dim = _positive_int(input_dim, "input_dim")
        output_dim = _positive_int(output_dim, "output_dim")
        kwargs.pop("input_length", None)  # Keras 2 argument, deprecated in Keras 3
        if weights is not None:
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            kwargs["weights"] = weights
        super().__init__(**kwargs)
        if lora_rank:
            raise ValueError("numpykeras does not support LoRA (`lora_rank`) on Embedding.")
        if quantization_config is not None:
            raise ValueError("numpykeras does not support quantized Embedding layers.")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        self.built = True

    def _convert_inputs(self, inputs):
        """Indices stay integers (floats are truncated toward zero, as Keras's cast does)."""
        if isinstance(inputs, backend.Variable):
            inputs = inputs.value
        try:
            x = np.asarray(inputs)
            if x.dtype.kind not in "iu":
                x = x.astype(np.int64)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Layer '{self.name}' expected an array of integer indices as input. Received: "
                f"{type(inputs).__name__} ({e})"
            ) from None
        return x

    def _check_indices(self, x):
        if x.size and (x.min() < 0 or x.max() >= self.input_dim):
            raise ValueError(
                f"Embedding layer '{self.name}' received indices outside [0, {self.input_dim}): "
                f"min {x.min()}, max {x.max()}."
            )

    def call(self, inputs, training=False):
        self._check_indices(inputs)
        return self.embeddings.value[inputs]  # (..., output_dim)

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def forward(self, inputs, training=False):
        return self.call(inputs), inputs

    def backward(self, dy, cache, need_dx=True):
        ids = cache.reshape(-1)  # (M,)
        dim = self.output_dim
        g = dy.reshape(-1, dim)  # (M, output_dim)
        # Scatter-add the rows of g into the table: entry (i, j) of the flattened table is
        # bin i * output_dim + j, and np.bincount sums the weights falling into each bin.
        bins = (ids[:, None] * dim + np.arange(dim)).reshape(-1)
        table_grad = np.bincount(bins, weights=g.reshape(-1), minlength=self.input_dim * dim)
        table_grad = table_grad.reshape(self.input_dim, dim).astype(dy.dtype, copy=False)
        return None, {self.embeddings: table_grad}  # indices have no gradient

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero,
                "quantization_config": None,
            }
        )
        return config
