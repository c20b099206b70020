"""``keras.ops.rearrange``: einops-style axis rearrangement (a reshape, a transpose and a
reshape, so differentiable)."""

from __future__ import annotations

import re

import numpy as np

from numpykeras.ops.numpy import _shape, reshape, transpose

__all__ = ["rearrange"]

_TOKEN = re.compile(r"\w+|\([\w\s]*\)")


def _groups(side):
    """``"b (h w) c"`` -> ``[["b"], ["h", "w"], ["c"]]``."""
    tokens = _TOKEN.findall(side)
    leftover = _TOKEN.sub("", side).strip()
    if leftover:
        raise ValueError(f"Unsupported characters in rearrange pattern: {leftover!r}")
    return [t[1:-1].split() if t.startswith("(") else [t] for t in tokens]


def rearrange(tensor, pattern, **axes_lengths):
    """Rearranges the axes of ``tensor`` as described by an einops ``pattern`` such as
    ``"b (h1 h) w c -> (b h1) h w c"`` (``h1=2``): parenthesised groups on the left are split
    (sizes from ``axes_lengths``, one may be inferred), axes are permuted, and groups on the
    right are merged."""
    if pattern.count("->") != 1:
        raise ValueError(f"The pattern must contain exactly one '->'. Received: {pattern!r}")
    left, right = (_groups(side) for side in pattern.split("->"))
    shape = _shape(tensor)
    if len(left) != len(shape):
        raise ValueError(
            f"The pattern {pattern!r} has {len(left)} input axes, but the tensor has rank "
            f"{len(shape)}."
        )
    sizes = {}
    for group, dim in zip(left, shape):
        known = [a for a in group if a in axes_lengths]
        unknown = [a for a in group if a not in axes_lengths]
        if len(group) == 1 and not known:
            sizes[group[0]] = dim
            continue
        if len(unknown) > 1:
            raise ValueError(f"Could not infer the sizes of {unknown} in {pattern!r}.")
        product = int(np.prod([axes_lengths[a] for a in known], dtype=np.int64))
        for a in known:
            sizes[a] = int(axes_lengths[a])
        if unknown:
            if product == 0 or dim % product:
                raise ValueError(
                    f"Axis of size {dim} can not be split into {group} with {axes_lengths}."
                )
            sizes[unknown[0]] = dim // product
        elif product != dim:
            raise ValueError(f"Axis of size {dim} does not match {group} = {product}.")
    flat_left = [a for g in left for a in g]
    flat_right = [a for g in right for a in g]
    if sorted(flat_left) != sorted(flat_right):
        raise ValueError(
            f"The pattern {pattern!r} must name the same axes on both sides. "
            f"Received: {flat_left} and {flat_right}"
        )
    decomposed = tuple(sizes[a] for a in flat_left)
    if decomposed != shape:
        tensor = reshape(tensor, decomposed)
    order = [flat_left.index(a) for a in flat_right]
    if order != list(range(len(order))):
        tensor = transpose(tensor, order)
    out = tuple(int(np.prod([sizes[a] for a in g], dtype=np.int64)) for g in right)
    return reshape(tensor, out)
