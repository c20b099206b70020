"""``MultiHeadAttention``: scaled dot-product attention over several learned projections."""

from __future__ import annotations

import math
import string

import numpy as np

from numpykeras import constraints, initializers, ops, regularizers
from numpykeras.layers.attention.attention import _bool_mask
from numpykeras.layers.core.einsum_dense import EinsumDense
from numpykeras.layers.layer import Layer
from numpykeras.layers.node import KerasTensor
from numpykeras.ops import autodiff
from numpykeras.random.random import dropout as random_dropout
from numpykeras.random.seed_generator import SeedGenerator

_LETTERS = string.ascii_lowercase


def _projection_equation(free_dims, bound_dims, output_dims):
    """``(equation, bias_axes, output rank)`` of a projection keeping ``free_dims`` leading
    axes, contracting ``bound_dims`` and creating ``output_dims`` axes."""
    free = _LETTERS[:free_dims]
    bound = _LETTERS[free_dims : free_dims + bound_dims]
    out = _LETTERS[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def _given_or_attached(mask, x):
    return mask if mask is not None else autodiff.get_keras_mask(x)


def _partial_shape(output_rank, last_dims):
    return [None] * (output_rank - len(last_dims)) + list(last_dims)


def _attention_equations(rank, attention_axes):
    """The einsum equations of the query-key product and of the weighted sum of values, for
    projected tensors ``(batch, <other axes>, <attention axes>, heads, channels)``, and the rank
    of the scores ``(batch, <other axes>, heads, <query axes>, <key axes>)``."""
    target = _LETTERS[:rank]
    batch_axes = [i for i in range(rank) if i not in attention_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch_axes or i == rank - 1:
            source += target[i]
        else:
            source += _LETTERS[offset]
            offset += 1
    product = "".join(
        [target[i] for i in batch_axes]
        + [target[i] for i in attention_axes]
        + [source[i] for i in attention_axes]
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017).

    ``query``, ``key`` and ``value`` are each projected to ``num_heads`` heads (``EinsumDense``
    sub-layers named ``query``, ``key``, ``value``, kernels ``(dim, num_heads, key_dim)``); each
    head attends with ``softmax(q k^T / sqrt(key_dim))``; the heads' outputs are projected back
    (``attention_output``, kernel ``(num_heads, value_dim, dim)``).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default ``key_dim``).
        dropout: dropout rate of the attention weights.
        use_bias: whether the projections have biases.
        output_shape: the output's last axes (default: the query's last axis).
        attention_axes: the axes attention runs over (default: all axes but the batch and the
            features).
        sliding_window: optional int: positions attend only to those fewer than this many steps
            away.
        flash_attention: accepted for Keras compatibility; numpykeras always computes the
            scores explicitly.
        kernel_initializer, bias_initializer: the projections' initializers.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional regularizers.
        kernel_constraint, bias_constraint: optional constraints.
        use_gate: whether a sigmoid-gated projection of the query (sub-layer ``gate``)
            multiplies the attention output.
        seed: optional int, the seed of the dropout.

    Call arguments:
        query: ``(batch, T, dim)`` (or more axes with ``attention_axes``).
        value: ``(batch, S, dim)``.
        key: optional ``(batch, S, dim)`` (default ``value``).
        query_mask, value_mask, key_mask: optional boolean ``(batch, T)`` / ``(batch, S)``
            masks; in a model they come from the inputs' masks (``Embedding(mask_zero=True)``).
        attention_mask: optional boolean ``(batch, T, S)``: which keys each query may attend to.
        return_attention_scores: also return the weights ``(batch, num_heads, T, S)``.
        training: whether dropout applies.
        use_causal_mask: position ``i`` attends only to positions ``j <= i``.

    Input shape:
        ``query`` ``(batch_size, ..., dim)``, ``value`` and ``key`` of the same rank.

    Output shape:
        ``(batch_size, ..., dim)`` (the query's shape, or ``output_shape`` last).
    """

    supports_masking = True

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        for name, value, optional in (
            ("num_heads", num_heads, False),
            ("key_dim", key_dim, False),
            ("value_dim", value_dim, True),
        ):
            if optional and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"integer{' or `None`' if optional else ''}. Received: {name}={value}"
                )
        super().__init__(**kwargs)
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout = dropout
        self._use_bias = use_bias
        self._use_gate = use_gate
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(
                    f"Invalid `output_shape`: {output_shape}. When specified, the "
                    "`output_shape` should be of type tuple, list, or int."
                ) from None
        self._output_shape = output_shape
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                "`attention_axes` must be an int, list, or tuple. "
                f"Received: attention_axes={attention_axes}"
            )
        self._attention_axes = attention_axes
        if sliding_window is not None and (
            not isinstance(sliding_window, int) or sliding_window <= 0
        ):
            raise ValueError(
                "`sliding_window` must be `None` or a positive integer. "
                f"Received: sliding_window={sliding_window}"
            )
        self._sliding_window = sliding_window
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self._seed_generator = SeedGenerator(seed) if dropout > 0 else None

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def _sublayer_kwargs(self):
        def fresh(init):
            return type(init).from_config(init.get_config())

        return dict(
            kernel_initializer=fresh(self._kernel_initializer),
            bias_initializer=fresh(self._bias_initializer),
            kernel_regularizer=self._kernel_regularizer,
            bias_regularizer=self._bias_regularizer,
            kernel_constraint=self._kernel_constraint,
            bias_constraint=self._bias_constraint,
            activity_regularizer=self._activity_regularizer,
            dtype=self.dtype,
        )

    def _projection(self, rank, heads_dim, name, activation=None):
        equation, bias_axes, out_rank = _projection_equation(rank - 1, 1, 2)
        return EinsumDense(
            equation,
            output_shape=_partial_shape(out_rank - 1, [self._num_heads, heads_dim]),
            bias_axes=bias_axes if self._use_bias else None,
            activation=activation,
            name=name,
            **self._sublayer_kwargs(),
        )

    def build(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        self._query_dense = self._projection(len(query_shape), self._key_dim, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._projection(len(key_shape), self._key_dim, "key")
        self._key_dense.build(key_shape)
        if self._use_gate:
            self._gate_dense = self._projection(
                len(query_shape), self._value_dim, "gate", activation="sigmoid"
            )
            self._gate_dense.build(query_shape)
        self._value_dense = self._projection(len(value_shape), self._value_dim, "value")
        self._value_dense.build(value_shape)
        rank = len(value_shape) + 1  # the projected tensors' rank
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(
                a if a >= 0 else (rank - 1) + a for a in self._attention_axes
            )
        self._dot_product_equation, self._combine_equation, scores_rank = _attention_equations(
            rank, self._attention_axes
        )
        self._norm_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        output_shape = self._output_shape or (query_shape[-1],)
        equation, bias_axes, out_rank = _projection_equation(
            len(query_shape) - 1, 2, len(output_shape)
        )
        self._output_dense = EinsumDense(
            equation,
            output_shape=_partial_shape(out_rank - 1, output_shape),
            bias_axes=bias_axes if self._use_bias else None,
            name="attention_output",
            **self._sublayer_kwargs(),
        )
        projected = list(self._query_dense.compute_output_shape(query_shape))
        projected[-1] = self._value_dim
        self._output_dense.build(tuple(projected))
        self.built = True

    def _saveable_children(self):
        """Where Keras saves the weights: under the sub-layers' public property names."""
        children = [
            ("key_dense", self._key_dense),
            ("output_dense", self._output_dense),
            ("query_dense", self._query_dense),
            ("value_dense", self._value_dense),
        ]
        if self._use_gate:
            children.append(("_gate_dense", self._gate_dense))
        return children

    def _masked_softmax(self, scores, attention_mask=None):
        """Softmax over the attention axes; masked-out positions get weight 0 (a row masked
        out entirely gets all zeros), as Keras's ``Softmax`` layer with a mask."""
        if attention_mask is None:
            return self._softmax(scores)
        axis = -len(self._attention_axes) * 2 - 1
        while attention_mask.ndim < len(ops.shape(scores)):
            attention_mask = np.expand_dims(attention_mask, axis)
        weights = self._softmax(ops.where(attention_mask, scores, -1e9))
        return ops.where(attention_mask, weights, 0.0)

    def _softmax(self, scores):
        if len(self._norm_axes) == 1:
            return ops.softmax(scores, axis=self._norm_axes[0])
        return ops.exp(scores - ops.logsumexp(scores, axis=self._norm_axes, keepdims=True))

    def _compute_attention(
        self, query, key, value, attention_mask=None, training=None, return_attention_scores=False
    ):
        """Scaled dot-product attention of the projected ``(batch, T, heads, channels)``
        tensors: ``(output, weights)``."""
        fused = not (self._dropout > 0.0 or return_attention_scores or len(ops.shape(query)) != 4)
        query = ops.multiply(query, np.float32(self._inverse_sqrt_key_dim))
        scores = ops.einsum(self._dot_product_equation, key, query)
        if fused:
            # Keras's `ops.dot_product_attention` route: masked-out logits are set to a large
            # negative number, so a query row masked out entirely averages all values.
            if attention_mask is not None:
                while attention_mask.ndim < 4:
                    attention_mask = np.expand_dims(
                        attention_mask, -len(self._attention_axes) * 2 - 1
                    )
                scores = ops.where(attention_mask, scores, np.float32(-0.7 * 3.38953e38))
            weights = ops.softmax(scores, axis=-1)
        else:
            weights = self._masked_softmax(scores, attention_mask)
        dropped = weights
        if training and self._dropout > 0.0:
            dropped = random_dropout(weights, self._dropout, seed=self._seed_generator)
        output = ops.einsum(self._combine_equation, dropped, value)
        return output, (None if fused else weights)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        if key is None:
            key = value
        # Masks attached to the arrays (a model's outputs carry theirs, as Keras's
        # `_keras_mask`) stand in for masks not given.
        query_mask = _given_or_attached(query_mask, query)
        value_mask = _given_or_attached(value_mask, value)
        key_mask = _given_or_attached(key_mask, key) if key is not value else key_mask
        attention_mask = self._compute_attention_mask(
            query,
            value,
            query_mask=query_mask,
            value_mask=value_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
        )
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        output, scores = self._compute_attention(
            q, k, v, attention_mask, training, return_attention_scores
        )
        if gate is not None:
            output = ops.multiply(output, gate)
        output = self._output_dense(output)
        if return_attention_scores:
            return output, scores
        return output

    def _compute_attention_mask(
        self,
        query,
        value,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
    ):
        """The boolean ``(batch, T, S)`` mask combining the query, value and key masks, the
        causal and sliding-window masks and ``attention_mask`` (``None`` if there is none)."""
        auto = None

        def both(a, b):
            return b if a is None else np.logical_and(a, b)

        if query_mask is not None:
            auto = _bool_mask(query_mask)[..., None]
        if value_mask is not None:
            auto = both(auto, np.expand_dims(_bool_mask(value_mask), -2))
        if key_mask is not None:
            auto = both(auto, np.expand_dims(_bool_mask(key_mask), -2))
        t, s = ops.shape(query)[1], ops.shape(value)[1]
        if use_causal_mask:
            auto = both(auto, np.tril(np.ones((t, s), dtype=bool))[None])
        if self._sliding_window is not None:
            distance = np.abs(np.arange(t)[:, None] - np.arange(s)[None, :])
            auto = both(auto, (distance < self._sliding_window)[None])
        if attention_mask is not None:
            attention_mask = np.asarray(ops.convert_to_numpy(attention_mask)).astype(bool)
        if auto is not None:
            attention_mask = (
                auto if attention_mask is None else np.logical_and(attention_mask, auto)
            )
        return attention_mask

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def compute_output_spec(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        """The symbolic output, and with ``return_attention_scores`` the symbolic scores
        (``(batch, num_heads, T, S)`` for 3-D inputs), of a call on symbolic tensors."""
        query_shape, value_shape = tuple(query.shape), tuple(value.shape)
        key_shape = value_shape if key is None else tuple(key.shape)
        output = KerasTensor(
            self.compute_output_shape(query_shape, value_shape, key_shape), dtype=self.dtype
        )
        if not return_attention_scores:
            return output
        # The scores' axes: the projected query's axes other than the attention axes and the
        # channels (batch, others, heads), then the query's and the key's attention axes.
        rank = len(query_shape) + 1
        axes = self._attention_axes
        if axes is None:
            axes = tuple(range(1, rank - 2))
        axes = tuple(a if a >= 0 else (rank - 1) + a for a in axes)
        projected_query = query_shape[:-1] + (self._num_heads, self._key_dim)
        projected_key = key_shape[:-1] + (self._num_heads, self._key_dim)
        scores = (
            [projected_query[i] for i in range(rank - 1) if i not in axes]
            + [projected_query[i] for i in axes]
            + [projected_key[i] for i in axes]
        )
        return output, KerasTensor(tuple(scores), dtype=self.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self._num_heads,
                "key_dim": self._key_dim,
                "value_dim": self._value_dim,
                "dropout": self._dropout,
                "use_bias": self._use_bias,
                "use_gate": self._use_gate,
                "output_shape": self._output_shape,
                "attention_axes": self._attention_axes,
                "sliding_window": self._sliding_window,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers.serialize(self._activity_regularizer),
                "kernel_constraint": constraints.serialize(self._kernel_constraint),
                "bias_constraint": constraints.serialize(self._bias_constraint),
                "seed": self.seed,
            }
        )
        return config
