"""``Concatenate``: joins a list of inputs along an axis; its functional form ``concatenate``."""

from __future__ import annotations

import numpy as np

from numpykeras.layers.merging.base_merge import Merge
from numpykeras.ops import autodiff


class Concatenate(Merge):
    """Concatenates a list of inputs along ``axis``.

    Args:
        axis: the axis to concatenate along (default -1, the last axis).

    Input shape:
        A list of arrays of the same rank whose shapes agree on every axis except ``axis``.

    Output shape:
        The common shape, with the sizes along ``axis`` added up.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Argument `axis` must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def _mismatch(self, input_shape):
        return ValueError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis. Received: input_shape={[tuple(s) for s in input_shape]} "
            f"(layer '{self.name}', axis={self.axis})"
        )

    def _check_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                "A `Concatenate` layer should be called on a list of at least 1 input (layer "
                f"'{self.name}'). Received: input_shape={input_shape}"
            )
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise self._mismatch(input_shape)
        (rank,) = ranks
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Invalid `axis` for layer '{self.name}': axis={self.axis} for inputs of rank "
                f"{rank}. Received: input_shape={[tuple(s) for s in input_shape]}"
            )
        axis = self.axis % rank
        for a in range(rank):
            if a == axis:
                continue
            sizes = {s[a] for s in input_shape} - {None}
            if len(sizes) > 1:
                raise self._mismatch(input_shape)

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        output = list(input_shape[0])
        axis = self.axis % len(output)
        for a in range(len(output)):  # a None size on another axis may be known on a later input
            if a != axis and output[a] is None:
                output[a] = next((s[a] for s in input_shape if s[a] is not None), None)
        sizes = [s[axis] for s in input_shape]
        output[axis] = None if None in sizes else int(sum(sizes))
        return tuple(output)

    def compute_mask(self, inputs, previous_mask=None):
        """As Keras: each input's mask (all true where it has none) broadcast to the input's
        shape, concatenated along ``axis``, then any over the last axis."""
        if previous_mask is None or not isinstance(previous_mask, (list, tuple)):
            return None
        if all(m is None for m in previous_mask):
            return None
        masks = []
        for x, m in zip(inputs, previous_mask):
            shape = np.shape(autodiff.unwrap(x))
            if m is None:
                masks.append(np.ones(shape, dtype=bool))
            else:
                m = np.asarray(m, dtype=bool)
                if m.ndim < len(shape):
                    m = np.broadcast_to(m[..., None], shape)
                masks.append(m)
        return np.any(np.concatenate(masks, axis=self.axis), axis=-1)

    def _call_with_ops(self, inputs, training=False):
        from numpykeras import ops

        return ops.concatenate(list(inputs), axis=self.axis)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A `Concatenate` layer should be called on a list of inputs (layer "
                f"'{self.name}'). Received: inputs of shape {np.shape(inputs)}"
            )
        self._check_shapes([tuple(x.shape) for x in inputs])
        return np.concatenate(inputs, axis=self.axis)

    def forward(self, inputs, training=False):
        y = self.call(inputs)
        return y, [x.shape[self.axis] for x in inputs]

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        sizes = cache
        split_points = np.cumsum(sizes)[:-1]
        # each input's gradient is its slice of dy along the concatenation axis
        return [np.ascontiguousarray(g) for g in np.split(dy, split_points, axis=self.axis)], {}

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to the ``Concatenate`` layer: ``concatenate([x1, x2], axis=-1)``.

    Args:
        inputs: a list of arrays or symbolic tensors.
        axis: the concatenation axis.
        **kwargs: standard layer keyword arguments.

    Returns:
        The concatenation of the inputs along ``axis``.
    """
    return Concatenate(axis=axis, **kwargs)(inputs)
