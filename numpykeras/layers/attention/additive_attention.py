"""``AdditiveAttention``: Bahdanau-style attention, scores ``sum(scale * tanh(q + k))``."""

from __future__ import annotations

from numpykeras import ops
from numpykeras.layers.attention.attention import Attention


class AdditiveAttention(Attention):
    """Additive attention layer, a.k.a. Bahdanau-style attention.

    Scores are ``sum(scale * tanh(query[:, :, None] + key[:, None]), axis=-1)``; their softmax
    over the values weights a sum of ``value``.

    Args:
        use_scale: whether to learn a ``(dim,)`` vector ``scale`` (initialized
            ``"glorot_uniform"``) weighting the ``tanh`` terms; else they are summed.
        dropout: fraction of the attention weights dropped in training.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]`` (``key`` defaults to ``value``).
        mask: optional ``[query_mask, value_mask]``.
        return_attention_scores: also return the attention weights ``(batch, Tq, Tv)``.
        training: whether dropout applies.
        use_causal_mask: position ``i`` attends only to positions ``j <= i``.

    Input shape:
        ``query`` ``(batch_size, Tq, dim)``, ``value`` and ``key`` ``(batch_size, Tv, dim)``.

    Output shape:
        ``(batch_size, Tq, dim)``, and the scores ``(batch_size, Tq, Tv)`` when asked.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")
        self.built = True

    def _calculate_scores(self, query, key):
        pairs = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        if self.use_scale:
            pairs = self.scale * pairs
        return ops.sum(pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
