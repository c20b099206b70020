"""``Attention``: dot-product (Luong-style) attention, ``softmax(q k^T) v``."""

from __future__ import annotations

import numpy as np

from numpykeras import ops
from numpykeras.layers.layer import Layer
from numpykeras.layers.node import KerasTensor
from numpykeras.ops import autodiff
from numpykeras.random.random import dropout as random_dropout
from numpykeras.random.seed_generator import SeedGenerator


def _bool_mask(mask):
    """A mask as a boolean array (Keras keeps entries that are true or above 0.5)."""
    if mask is None:
        return None
    mask = np.asarray(ops.convert_to_numpy(mask) if not isinstance(mask, np.ndarray) else mask)
    return mask if mask.dtype == bool else mask > 0.5


def causal_mask(tq, tv):
    """``(1, tq, tv)``: position ``i`` may attend to positions ``j <= i``."""
    return np.tril(np.ones((tq, tv), dtype=bool))[None]


class Attention(Layer):
    """Dot-product attention layer, a.k.a. Luong-style attention.

    Scores are ``query @ key^T`` (``score_mode="dot"``) or
    ``concat_score_weight * sum(tanh(query + key))`` (``"concat"``), optionally scaled by a
    learned scalar; their softmax over the values weights a sum of ``value``.

    Args:
        use_scale: whether to learn a scalar ``scale`` multiplying the scores (for ``"concat"``,
            multiplying ``query + key`` inside the ``tanh``).
        score_mode: ``"dot"`` or ``"concat"``.
        dropout: fraction of the attention weights dropped in training.
        seed: optional int, the seed of the dropout.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]`` (``key`` defaults to ``value``).
        mask: optional ``[query_mask, value_mask]``: outputs at padded query positions are zero
            and padded values get no weight.
        return_attention_scores: also return the attention weights ``(batch, Tq, Tv)``.
        training: whether dropout applies.
        use_causal_mask: position ``i`` attends only to positions ``j <= i``.

    Input shape:
        ``query`` ``(batch_size, Tq, dim)``, ``value`` and ``key`` ``(batch_size, Tv, dim)``.

    Output shape:
        ``(batch_size, Tq, dim)``, and the scores ``(batch_size, Tq, Tv)`` when asked.
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        if self.dropout > 0:
            self.seed_generator = SeedGenerator(seed=seed)
        if self.score_mode not in ("dot", "concat"):
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                name="concat_score_weight", shape=(), initializer="ones"
            )
        self.built = True

    def _calculate_scores(self, query, key):
        """``(batch, Tq, Tv)`` scores of each query against each key."""
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            if self.scale is not None:
                scores = ops.multiply(scores, self.scale)
            return scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)  # (batch, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        """``(softmax(scores) @ value, softmax(scores))``, padded scores lowered by 1e9."""
        if scores_mask is not None:
            if scores_mask.ndim == 2:
                scores_mask = scores_mask[:, None, :]
            scores = ops.where(scores_mask, scores, scores - 1.0e9)
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = random_dropout(weights, self.dropout, seed=self.seed_generator)
        return ops.matmul(weights, value), weights

    def _calculate_score_mask(self, scores, v_mask, use_causal_mask):
        if not use_causal_mask:
            return v_mask
        shape = ops.shape(scores)
        mask = causal_mask(shape[-2], shape[-1])
        return mask if v_mask is None else np.logical_and(v_mask[:, None, :], mask)

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._validate_inputs(inputs, mask)
        if mask is None:  # masks attached to the inputs (a model's outputs), as Keras's
            attached = [autodiff.get_keras_mask(x) for x in inputs]
            mask = attached if any(m is not None for m in attached) else None
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = _bool_mask(mask[0]) if mask else None
        v_mask = _bool_mask(mask[1]) if mask else None
        scores = self._calculate_scores(q, k)
        scores_mask = self._calculate_score_mask(scores, v_mask, use_causal_mask)
        output, weights = self._apply_scores(scores, v, scores_mask, training=training)
        if q_mask is not None:
            output = ops.where(q_mask[..., None], output, 0.0)
        if return_attention_scores:
            return output, weights
        return output

    def compute_mask(self, inputs, mask=None):
        self._validate_inputs(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return _bool_mask(mask[0])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def compute_output_spec(
        self,
        inputs,
        mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        """The symbolic output, and with ``return_attention_scores`` the symbolic scores
        ``(batch, Tq, Tv)``, of a call on symbolic ``inputs``."""
        self._validate_inputs(inputs, mask)
        query, value = tuple(inputs[0].shape), tuple(inputs[1].shape)
        key = tuple(inputs[2].shape) if len(inputs) > 2 else value
        output = KerasTensor(self.compute_output_shape([query, value, key]), dtype=self.dtype)
        if not return_attention_scores:
            return output
        return output, KerasTensor((*query[:-1], key[-2]), dtype=self.dtype)

    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, list):
            raise ValueError(
                f"{name} layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}."
            )
        if not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
                f"[query, value, key]. Received length: {len(inputs)}."
            )
        if mask is not None:
            if not isinstance(mask, list):
                raise ValueError(
                    f"{name} layer mask must be a list, namely [query_mask, value_mask]. "
                    f"Received: mask={mask}."
                )
            if not 2 <= len(mask) <= 3:
                raise ValueError(
                    f"{name} layer accepts mask list of length 2 or 3. Received: "
                    f"mask of length {len(mask)}."
                )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_scale": self.use_scale,
                "score_mode": self.score_mode,
                "dropout": self.dropout,
                "seed": self.seed,
            }
        )
        return config
