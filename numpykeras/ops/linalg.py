"""``keras.ops.linalg``: norms and the basic matrix functions (with VJPs where listed)."""

from __future__ import annotations

import numpy as np

from numpykeras.ops.autodiff import primitive
from numpykeras.ops.numpy import (
    _float_input,
    _is_tracked,
    _norm_axes,
    _shape,
    abs,
    expand_dims,
    matmul,
    max,
    min,
    multiply,
    negative,
    power,
    sqrt,
    square,
    squeeze,
    sum,
    swapaxes,
)

__all__ = ["det", "inv", "norm", "solve", "cholesky", "qr", "svd", "eigh"]


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``np.linalg.norm`` (``ord=2``/``"nuc"`` of matrices have no
    gradient here)."""
    x = x if _is_tracked(x) else _float_input(x)
    ndim = len(_shape(x))
    axes = _norm_axes(axis, ndim)
    if axis is None and ord is not None and ndim > 2:
        raise ValueError(f"Improper number of dimensions to norm: {ndim}")
    if len(axes) == 1 or (axis is None and ndim == 1):
        a = axes[0] if axis is not None else None
        if ord is None or ord == 2:
            return sqrt(sum(square(x), axis=a, keepdims=keepdims))
        if ord == np.inf:
            return max(abs(x), axis=a, keepdims=keepdims)
        if ord == -np.inf:
            return min(abs(x), axis=a, keepdims=keepdims)
        if ord == 0:
            return sum(
                (abs(np.asarray(x)) != 0).astype(np.asarray(x).dtype), axis=a, keepdims=keepdims
            )
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order '{ord}' for vectors")
        return power(sum(power(abs(x), ord), axis=a, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2:
        raise ValueError(f"Improper number of axes for norm: axis={axis}")
    r, c = axes
    if ord is None or ord == "fro":
        return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        s = sum(abs(x), axis=inner, keepdims=True)
        pick = max if ord in (1, np.inf) else min
        out = pick(s, axis=outer, keepdims=True)
        return out if keepdims else squeeze(out, axes)
    if ord in (2, -2, "nuc"):
        return np.asarray(np.linalg.norm(np.asarray(x), ord=ord, axis=axes, keepdims=keepdims))
    raise ValueError(f"Invalid norm order {ord!r} for matrices")


@primitive
def inv(x):
    """The inverse of (a batch of) square matrices."""
    return np.linalg.inv(_float_input(x))


inv.defvjp(
    lambda g, ans, x: (negative(matmul(swapaxes(ans, -1, -2), matmul(g, swapaxes(ans, -1, -2)))),)
)


@primitive
def det(x):
    """The determinant of (a batch of) square matrices."""
    return np.asarray(np.linalg.det(_float_input(x)))


det.defvjp(
    lambda g, ans, x: (multiply(expand_dims(multiply(g, ans), (-1, -2)), swapaxes(inv(x), -1, -2)),)
)


def solve(a, b):
    """``x`` with ``a @ x = b`` (differentiable through ``inv``)."""
    bs = _shape(b)
    if len(bs) == len(_shape(a)) - 1:
        return matmul(inv(a), expand_dims(b, -1))[..., 0]
    return matmul(inv(a), b)


def cholesky(x, upper=False):
    """The Cholesky factor (no gradient)."""
    L = np.linalg.cholesky(_float_input(x))
    return np.swapaxes(L, -1, -2).conj() if upper else L


def qr(x, mode="reduced"):
    """QR decomposition (no gradient)."""
    return np.linalg.qr(_float_input(x), mode=mode)


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition (no gradient)."""
    return np.linalg.svd(_float_input(x), full_matrices=full_matrices, compute_uv=compute_uv)


def eigh(x):
    """Eigenvalues and eigenvectors of symmetric matrices (no gradient)."""
    return np.linalg.eigh(_float_input(x))
