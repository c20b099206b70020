"""``keras.ops.math``: logsumexp, erf, top_k, segment reductions and friends."""

from __future__ import annotations

import numpy as np

from numpykeras.ops.autodiff import stop_gradient, unwrap
from numpykeras.ops.numpy import (
    _float_input,
    _is_tracked,
    add,
    erf,
    exp,
    log,
    max,
    reciprocal,
    sqrt,
    squeeze,
    subtract,
    sum,
    take_along_axis,
)

__all__ = ["erf", "in_top_k", "logsumexp", "rsqrt", "segment_max", "segment_sum", "top_k"]


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, stabilised by the (constant) maximum."""
    x = x if _is_tracked(x) else _float_input(x)
    m = stop_gradient(max(x, axis=axis, keepdims=True))
    m = np.where(np.isfinite(m), m, 0.0).astype(m.dtype)
    out = add(log(sum(exp(subtract(x, m)), axis=axis, keepdims=True)), m)
    return out if keepdims else squeeze(out, axis)


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return reciprocal(sqrt(x))


def top_k(x, k, sorted=True):
    """The ``k`` largest values along the last axis and their indices (int32)."""
    idx = np.argsort(-np.asarray(unwrap(x)), axis=-1, kind="stable")[..., :k].astype("int32")
    return take_along_axis(x, idx, axis=-1), idx


def in_top_k(targets, predictions, k):
    """True where ``targets`` is among the ``k`` largest ``predictions`` of its row."""
    p = np.asarray(unwrap(predictions))
    t = np.asarray(unwrap(targets)).astype(np.int64)
    target_vals = np.take_along_axis(p, t[:, None], axis=-1)
    return np.sum(p > target_vals, axis=-1) < k


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of ``data``'s rows per segment id."""
    from numpykeras.ops.numpy import _scatter_add

    ids = np.asarray(unwrap(segment_ids)).astype(np.int64)
    n = int(num_segments) if num_segments is not None else int(ids.max()) + 1
    return _scatter_add(data, ids, axis=0, size=n)


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of ``data``'s rows per segment id (no gradient)."""
    d = np.asarray(unwrap(data))
    ids = np.asarray(unwrap(segment_ids)).astype(np.int64)
    n = int(num_segments) if num_segments is not None else int(ids.max()) + 1
    out = np.full(
        (n,) + d.shape[1:], -np.inf if d.dtype.kind == "f" else np.iinfo(d.dtype).min, dtype=d.dtype
    )
    np.maximum.at(out, ids, d)
    return out
