"""``keras.ops.linalg``: norms, decompositions and solvers, with TensorFlow's gradients.

Decompositions with several outputs (``eigh``, ``svd``, ``qr``) are one primitive each whose
result is the outputs packed side by side along a last axis (:func:`_pack`); the public function
slices them apart, so one VJP sees the cotangents of every output at once (zeros for the unused
ones). Every VJP is written with ops, so gradients of gradients work too.
"""

from __future__ import annotations

import builtins

import numpy as np

from numpykeras.ops import dtypes
from numpykeras.ops.autodiff import (
    GradientTape,
    flatten,
    pack_as,
    primitive,
    tracked_value,
    unwrap,
)
from numpykeras.ops.numpy import (
    _float_arg,
    _float_input,
    _is_tracked,
    _norm_axes,
    _shape,
    abs,
    add,
    cast,
    concatenate,
    divide,
    dtype,
    expand_dims,
    get_item,
    matmul,
    max,
    min,
    moveaxis,
    multiply,
    negative,
    power,
    reshape,
    sqrt,
    square,
    squeeze,
    subtract,
    sum,
    swapaxes,
    take_along_axis,
    tril,
    triu,
    zeros_like,
)

__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]


# --------------------------------------------------------------------------- helpers


_floating = _float_arg  # floats unchanged (tracked ones stay tracked), ints as floatx


def _t(x):
    """The transpose of the last two axes."""
    return swapaxes(x, -1, -2)


def _check_matrix(x, name, square=False):
    shape = _shape(x)
    if len(shape) < 2:
        raise ValueError(
            f"Input tensor to `{name}` must have rank >= 2. Received: x.ndim={len(shape)}"
        )
    if square and shape[-1] != shape[-2]:
        raise ValueError(
            f"Input tensor to `{name}` must be square (its last two dimensions equal). "
            f"Received: x.shape={shape}"
        )


def _diag_embed(v):
    """Matrices with ``v`` (``(..., n)``) on their diagonals."""
    n = _shape(v)[-1]
    return multiply(expand_dims(v, -1), np.eye(n, dtype=dtype(v)))


def _diag_part(m):
    """The diagonals (``(..., n)``) of square matrices."""
    n = _shape(m)[-1]
    return sum(multiply(m, np.eye(n, dtype=dtype(m))), axis=-1)


def _set_diag_zero(m):
    n = _shape(m)[-1]
    return multiply(m, 1.0 - np.eye(n, dtype=dtype(m)))


def _safe_reciprocal(x, epsilon=1e-20):
    """``x / (x**2 + epsilon)``: 1/x away from 0, 0 at 0 (TensorFlow's Lorentz broadening)."""
    return divide(x, add(square(x), epsilon))


def _pack(*arrays):
    """Arrays sharing their batch axes (all but the last two or one, as ``batch``), flattened
    and joined along one last axis."""
    return np.concatenate([a.reshape(a.shape[: a.ndim - k] + (-1,)) for a, k in arrays], -1)


def _unpack(packed, shapes):
    """The arrays of core ``shapes`` packed by :func:`_pack` (ops, so gradients flow)."""
    out, start = [], 0
    batch = _shape(packed)[:-1]
    for core in shapes:
        size = int(np.prod(core, dtype=np.int64))
        part = get_item(packed, (Ellipsis, slice(start, start + size)))
        out.append(reshape(part, batch + tuple(core)))
        start += size
    return out


def _pack_cotangents(*gs):
    """Cotangents of unpacked outputs, packed back (the VJP's view of :func:`_unpack`)."""
    parts = []
    for g, k in gs:
        shape = _shape(g)
        parts.append(reshape(g, shape[: len(shape) - k] + (-1,)))
    return concatenate(parts, axis=-1)


# --------------------------------------------------------------------------- determinants


@primitive
def inv(x):
    """The inverse of (a batch of) square matrices."""
    _check_matrix(x, "inv", square=True)
    return np.linalg.inv(_float_input(x))


inv.defvjp(lambda g, ans, x: (negative(matmul(_t(ans), matmul(g, _t(ans)))),))


@primitive
def det(x):
    """The determinant of (a batch of) square matrices."""
    _check_matrix(x, "det", square=True)
    return np.asarray(np.linalg.det(_float_input(x)))


det.defvjp(lambda g, ans, x: (multiply(expand_dims(multiply(g, ans), (-1, -2)), _t(inv(x))),))


@primitive
def _logabsdet(x):
    _check_matrix(x, "slogdet", square=True)
    return np.asarray(np.linalg.slogdet(_float_input(x))[1])


_logabsdet.defvjp(lambda g, ans, x: (multiply(expand_dims(g, (-1, -2)), _t(inv(x))),))


def _slogdet(x):
    """``(sign, log|det|)`` of square matrices (the gradient flows through the second)."""
    sign = np.asarray(np.linalg.slogdet(_float_input(unwrap(x)))[0])
    return sign, _logabsdet(_floating(x))


def logdet(x):
    """The log-determinant of Hermitian positive definite matrices."""
    return _logabsdet(_floating(x))


# --------------------------------------------------------------------------- solvers


@primitive
def _solve(a, b):
    a, b = _float_input(a), _float_input(b)
    dt = dtypes.result_type(a.dtype.name, b.dtype.name)
    return np.linalg.solve(a.astype(dt), b.astype(dt))


def _solve_vjp(g, ans, a, b):
    gb = _solve(_t(a), g)
    ga = negative(matmul(gb, _t(ans))) if _is_tracked(a) else None
    return ga, gb if _is_tracked(b) else None


_solve.defvjp(_solve_vjp)


def _matrix_rhs(fn, a, b):
    """``fn(a, b)`` with a vector ``b`` (rank one less than ``a``) as a one-column matrix."""
    if len(_shape(b)) == len(_shape(a)) - 1:
        return squeeze(fn(a, expand_dims(b, -1)), -1)
    return fn(a, b)


def _check_solve(a, b, name):
    _check_matrix(a, name, square=True)
    if (
        len(_shape(b)) < 1
        or _shape(b)[-1 if len(_shape(b)) == len(_shape(a)) - 1 else -2] != (_shape(a)[-1])
    ):
        raise ValueError(
            f"Incompatible shapes between `a` and `b` for `{name}`: a.shape={_shape(a)}, "
            f"b.shape={_shape(b)}"
        )


def solve(a, b):
    """``x`` with ``a @ x = b`` (``b`` a matrix, or a vector)."""
    _check_solve(a, b, "solve")
    return _matrix_rhs(_solve, _floating(a), _floating(b))


@primitive
def _tri_solve(a, b, lower):
    a, b = _float_input(a), _float_input(b)
    dt = dtypes.result_type(a.dtype.name, b.dtype.name)
    n = a.shape[-1]
    mask = np.tri(n, dtype=bool) if lower else np.tri(n, dtype=bool).T
    return np.linalg.solve(np.where(mask, a, 0).astype(dt), b.astype(dt))


def _tri_solve_vjp(g, ans, a, b, lower):
    gb = _tri_solve(_t(a), g, lower=not lower)
    ga = None
    if _is_tracked(a):
        ga = negative(matmul(gb, _t(ans)))
        ga = tril(ga) if lower else triu(ga)
    return ga, gb if _is_tracked(b) else None


_tri_solve.defvjp(_tri_solve_vjp)


def solve_triangular(a, b, lower=False):
    """``x`` with ``a @ x = b`` for triangular ``a`` (only its lower or upper triangle is
    read)."""
    _check_solve(a, b, "solve_triangular")
    return _matrix_rhs(
        lambda a_, b_: _tri_solve(a_, b_, lower=bool(lower)), _floating(a), _floating(b)
    )


# --------------------------------------------------------------------------- Cholesky


@primitive
def _cholesky(x):
    x = _float_input(x)
    try:
        out = np.linalg.cholesky(x)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"Cholesky decomposition failed: {e}") from None
    if not np.all(np.isfinite(out)):
        raise ValueError("Cholesky decomposition failed: the input is not positive definite.")
    return out


def _cholesky_vjp(g, ans, x):
    # TensorFlow's: l^-T ((l^T g) on and below the diagonal, the diagonal halved) l^-1, made
    # symmetric
    n = _shape(ans)[-1]
    l_inv = _tri_solve(ans, np.broadcast_to(np.eye(n, dtype=dtype(ans)), _shape(ans)), lower=True)
    middle = matmul(_t(ans), g)
    middle = multiply(tril(middle), np.tri(n, dtype=dtype(ans)) - 0.5 * np.eye(n, dtype=dtype(ans)))
    grad = matmul(matmul(_t(l_inv), middle), l_inv)
    return (multiply(add(grad, _t(grad)), 0.5),)


_cholesky.defvjp(_cholesky_vjp)


def cholesky(x, upper=False):
    """The Cholesky factor of symmetric positive definite matrices: lower ``L`` with
    ``x = L L^T`` (or ``L^T`` when ``upper``)."""
    _check_matrix(x, "cholesky", square=True)
    factor = _cholesky(_floating(x))
    return _t(factor) if upper else factor


def cholesky_inverse(x, upper=False):
    """The inverse of ``A = L L^T`` given its Cholesky factor ``x = L`` (or ``x = L^T`` when
    ``upper``)."""
    _check_matrix(x, "cholesky_inverse", square=True)
    x = _floating(x)
    n = _shape(x)[-1]
    identity = np.broadcast_to(np.eye(n, dtype=dtype(x)), _shape(x))
    inv_factor = _tri_solve(x, identity, lower=not upper)
    if upper:
        return matmul(inv_factor, _t(inv_factor))
    return matmul(_t(inv_factor), inv_factor)


# --------------------------------------------------------------------------- eigen


@primitive
def _eigh_packed(x):
    w, v = np.linalg.eigh(_float_input(x))
    return _pack((w, 1), (v, 2))


def _eigh_vjp(g, ans, x):
    n = _shape(x)[-1]
    w, v = _unpack(ans, [(n,), (n, n)])
    gw, gv = _unpack(g, [(n,), (n, n)])
    f = _set_diag_zero(_safe_reciprocal(subtract(expand_dims(w, -2), expand_dims(w, -1))))
    inner = add(_diag_embed(gw), multiply(f, matmul(_t(v), gv)))
    grad = matmul(v, matmul(inner, _t(v)))
    grad = tril(add(grad, _t(grad)))  # eigh reads the lower triangle
    return (subtract(grad, multiply(_diag_embed(_diag_part(grad)), 0.5)),)


_eigh_packed.defvjp(_eigh_vjp)


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (from their lower
    triangle)."""
    _check_matrix(x, "eigh", square=True)
    n = _shape(x)[-1]
    w, v = _unpack(_eigh_packed(_floating(x)), [(n,), (n, n)])
    return w, v


def eig(x):
    """Eigenvalues and eigenvectors of general square matrices (complex; no gradient)."""
    _check_matrix(x, "eig", square=True)
    xv = _float_input(unwrap(x))
    w, v = np.linalg.eig(xv)
    ctype = "complex128" if xv.dtype == np.float64 else "complex64"
    return w.astype(ctype), v.astype(ctype)


# --------------------------------------------------------------------------- SVD


@primitive
def _svd_packed(x, full_matrices):
    u, s, vh = np.linalg.svd(_float_input(x), full_matrices=full_matrices)
    return _pack((u, 2), (s, 1), (np.swapaxes(vh, -1, -2), 2))


def _svd_shapes(shape, full_matrices):
    m, n = shape[-2:]
    k = np.minimum(m, n)
    if full_matrices:
        return [(m, m), (k,), (n, n)]
    return [(m, k), (k,), (n, k)]


def _svd_vjp(g, ans, x, full_matrices):
    shapes = _svd_shapes(_shape(x), full_matrices)
    u, s, v = _unpack(ans, shapes)
    gu, gs, gv = _unpack(g, shapes)
    return (_svd_grad(u, s, v, gu, gs, gv, full_matrices),)


def _svd_grad(u, s, v, gu, gs, gv, full_matrices):
    """TensorFlow's SVD gradient (Giles; Townsend for the reduced case) for ``a = u s v^T``."""
    m, n = _shape(u)[-2], _shape(v)[-2]
    transposed = m > n
    if transposed:  # the gradient of a^T = v s u^T, transposed at the end
        m, n = n, m
        u, v, gu, gv = v, u, gv, gu
    if full_matrices and n - m > 1:
        raise NotImplementedError(
            "svd gradient is not implemented for abs(m - n) > 1 when full_matrices is True. "
            f"Received: m={m} and n={n}."
        )
    s_mat = _diag_embed(s)
    s2 = square(s)
    f = _set_diag_zero(_safe_reciprocal(subtract(expand_dims(s2, -2), expand_dims(s2, -1))))
    v1 = get_item(v, (Ellipsis, slice(None), slice(None, m)))
    gv1 = get_item(gv, (Ellipsis, slice(None), slice(None, m)))
    f_u = multiply(f, matmul(_t(u), gu))
    f_v = multiply(f, matmul(_t(v1), gv1))
    core = add(
        add(_diag_embed(gs), matmul(add(f_u, _t(f_u)), s_mat)),
        matmul(s_mat, add(f_v, _t(f_v))),
    )
    grad = matmul(u, matmul(core, _t(v1)))
    if m != n:
        gv1t = _t(gv1)
        rest = subtract(gv1t, matmul(matmul(gv1t, v1), _t(v1)))
        if full_matrices:
            v2 = get_item(v, (Ellipsis, slice(None), slice(m, n)))
            gv2 = get_item(gv, (Ellipsis, slice(None), slice(m, n)))
            rest = subtract(rest, matmul(matmul(_t(v1), gv2), _t(v2)))
        grad = add(grad, matmul(matmul(u, _diag_embed(_safe_reciprocal(s))), rest))
    return _t(grad) if transposed else grad


_svd_packed.defvjp(_svd_vjp)


@primitive
def _singular_values(x):
    return np.linalg.svd(_float_input(x), compute_uv=False)


def _singular_values_vjp(g, ans, x):
    u, s, vt = svd(x, full_matrices=False)
    return (matmul(multiply(u, expand_dims(g, -2)), vt),)


_singular_values.defvjp(_singular_values_vjp)


def svd(x, full_matrices=True, compute_uv=True):
    """Singular value decomposition ``x = u @ diag(s) @ vh``: returns ``(u, s, vh)``, or ``s``
    alone when not ``compute_uv``."""
    _check_matrix(x, "svd")
    x = _floating(x)
    if not compute_uv:
        return _singular_values(x)
    shapes = _svd_shapes(_shape(x), full_matrices)
    u, s, v = _unpack(_svd_packed(x, full_matrices=bool(full_matrices)), shapes)
    return u, s, _t(v)


# --------------------------------------------------------------------------- QR


@primitive
def _qr_packed(x, mode):
    q, r = np.linalg.qr(_float_input(x), mode=mode)
    return _pack((q, 2), (r, 2))


def _qr_shapes(shape, mode):
    m, n = shape[-2:]
    k = m if mode == "complete" else np.minimum(m, n)
    return [(m, k), (k, n)]


def _qr_vjp(g, ans, x, mode):
    m, n = _shape(x)[-2:]
    if mode == "complete" and m > n:
        raise NotImplementedError(
            "QR gradient is not implemented when nrows > ncols and mode='complete'."
        )
    shapes = _qr_shapes(_shape(x), mode)
    q, r = _unpack(ans, shapes)
    dq, dr = _unpack(g, shapes)
    if m >= n:
        return (_qr_grad_deep(q, r, dq, dr),)
    # wide: x = [x1, y], r = [u, v]; reduce to the square case
    y = get_item(x, (Ellipsis, slice(None), slice(m, None)))
    u = get_item(r, (Ellipsis, slice(None), slice(None, m)))
    dv = get_item(dr, (Ellipsis, slice(None), slice(m, None)))
    du = get_item(dr, (Ellipsis, slice(None), slice(None, m)))
    dy = matmul(q, dv)
    dx = _qr_grad_deep(q, u, add(dq, matmul(y, _t(dv))), du)
    return (concatenate([dx, dy], axis=-1),)


def _qr_grad_deep(q, r, dq, dr):
    """TensorFlow's QR gradient for ``m >= n`` (Roberts and Roberts, arXiv:2009.10071)."""

    def times_r_inv_t(z):  # z r^-T
        return _t(_tri_solve(r, _t(z), lower=False))

    qdq = matmul(_t(q), dq)
    rdr = matmul(r, _t(dr))
    low = tril(add(subtract(qdq, _t(qdq)), subtract(rdr, _t(rdr))))
    grad_a = matmul(q, add(dr, times_r_inv_t(low)))
    grad_b = times_r_inv_t(subtract(dq, matmul(q, qdq)))
    return add(grad_a, grad_b)


_qr_packed.defvjp(_qr_vjp)


def qr(x, mode="reduced"):
    """QR decomposition ``x = q @ r`` (``mode``: ``"reduced"`` or ``"complete"``)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(
            "`mode` argument value not supported. Expected one of {'reduced', 'complete'}. "
            f"Received: mode={mode}"
        )
    _check_matrix(x, "qr")
    x = _floating(x)
    q, r = _unpack(_qr_packed(x, mode=mode), _qr_shapes(_shape(x), mode))
    return q, r


# --------------------------------------------------------------------------- LU, rank, pinv


def _lu_decompose(a):
    """Partial-pivoting LU of square float matrices ``(..., n, n)``: the packed factors and the
    row order ``perm`` with ``a[..., perm, :] = L @ U`` (one column at a time, vectorised over
    the batch)."""
    a = np.array(a)
    n = a.shape[-1]
    batch = a.shape[:-2]
    a = a.reshape((-1, n, n))
    rows = np.arange(a.shape[0])
    perm = np.broadcast_to(np.arange(n), (a.shape[0], n)).copy()
    for k in range(n):
        pivot = k + np.argmax(np.abs(a[:, k:, k]), axis=1)
        a[rows, k], a[rows, pivot] = a[rows, pivot], a[rows, k].copy()
        perm[rows, k], perm[rows, pivot] = perm[rows, pivot], perm[rows, k].copy()
        diag = a[:, k, k]
        safe = np.where(diag == 0, 1, diag)
        a[:, k + 1 :, k] = np.where(diag[:, None] == 0, 0, a[:, k + 1 :, k] / safe[:, None])
        a[:, k + 1 :, k + 1 :] -= a[:, k + 1 :, k, None] * a[:, k, None, k + 1 :]
    return a.reshape(batch + (n, n)), perm.reshape(batch + (n,))


@primitive
def _lu_packed(x):
    """The packed factors with the row order ``perm`` (as floats) in an extra last column."""
    lu, perm = _lu_decompose(_float_input(x))
    return np.concatenate([lu, perm[..., None].astype(lu.dtype)], axis=-1)


def _lu_vjp(g, ans, x):
    # A[perm] = L U: the adjoint of L-bar (strictly lower) and U-bar (upper) is
    # L^-T (tril(L^T L-bar, -1) + triu(U-bar U^T)) U^-T, then unpermuted
    n = _shape(ans)[-2]
    lu = get_item(ans, (Ellipsis, slice(0, n)))
    g = get_item(g, (Ellipsis, slice(0, n)))
    lower = add(tril(lu, -1), np.eye(n, dtype=dtype(lu)))
    upper = triu(lu)
    middle = add(tril(matmul(_t(lower), tril(g, -1)), -1), triu(matmul(triu(g), _t(upper))))
    inner = _tri_solve(_t(lower), middle, lower=False)  # L^-T middle
    grad = _t(_tri_solve(upper, _t(inner), lower=False))  # (L^-T middle) U^-T
    perm = np.asarray(unwrap(ans))[..., n].astype(np.int64)
    inverse = np.argsort(perm, axis=-1)
    return (take_along_axis(grad, inverse[..., None], axis=-2),)


_lu_packed.defvjp(_lu_vjp)


def lu_factor(x):
    """LU decomposition with partial pivoting: ``(lu, p)`` with ``L`` (unit diagonal, below it)
    and ``U`` (on and above it) packed in ``lu`` and ``x = (L @ U)[..., p, :]`` (``p`` int32,
    as Keras's TensorFlow backend). Differentiable in ``lu`` (TensorFlow's LU gradient)."""
    _check_matrix(x, "lu_factor", square=True)
    packed = _lu_packed(_floating(x))
    n = _shape(packed)[-2]
    perm = np.asarray(unwrap(packed))[..., n].astype(np.int64)
    inverse = np.argsort(perm, axis=-1)  # x[perm] = L U, so x = (L U)[inverse]
    return get_item(packed, (Ellipsis, slice(0, n))), inverse.astype("int32")


def matrix_rank(x, tol=None):
    """The number of singular values above ``tol`` (default ``max(m, n) * eps * max(s)``)."""
    _check_matrix(x, "matrix_rank")
    xv = _float_input(unwrap(x))
    s = np.linalg.svd(xv, compute_uv=False)
    if tol is None:
        tol = s.max(axis=-1, keepdims=True) * builtins.max(*xv.shape[-2:]) * np.finfo(xv.dtype).eps
    else:
        tol = np.asarray(unwrap(tol), dtype=s.dtype)[..., None]
    return np.asarray(np.sum(s > tol, axis=-1), dtype="int32")


@primitive
def _pinv(x, rcond, inclusive):
    """The pseudo-inverse from the SVD: singular values below ``rcond * max(s)`` (or equal,
    unless ``inclusive``) are dropped."""
    x = _float_input(x)
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    cut = rcond * s[..., :1]
    keep = s >= cut if inclusive else s > cut
    s_inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0).astype(x.dtype)
    return np.swapaxes(vh, -1, -2) @ (s_inv[..., :, None] * np.swapaxes(u, -1, -2))


def _pinv_vjp(g, ans, x, rcond, inclusive):
    # d pinv for constant rank (Golub and Pereyra): the adjoint of
    # -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P
    p = ans
    m, n = _shape(x)[-2:]
    i_ap = subtract(np.eye(m, dtype=dtype(p)), matmul(x, p))
    i_pa = subtract(np.eye(n, dtype=dtype(p)), matmul(p, x))
    first = negative(matmul(_t(p), matmul(g, _t(p))))
    second = matmul(matmul(i_ap, _t(g)), matmul(p, _t(p)))
    third = matmul(matmul(_t(p), p), matmul(_t(g), i_pa))
    return (add(add(first, second), third),)


_pinv.defvjp(_pinv_vjp)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse (singular values at most ``rcond * max(s)`` dropped;
    default ``rcond = 10 * max(m, n) * eps``)."""
    _check_matrix(x, "pinv")
    x = _floating(x)
    if rcond is None:
        rcond = 10.0 * builtins.max(*_shape(x)[-2:]) * float(np.finfo(dtype(x)).eps)
    return _pinv(x, rcond=float(unwrap(rcond)), inclusive=False)


def lstsq(a, b, rcond=None):
    """The least-squares solution ``x`` of ``a @ x = b`` (``a`` a matrix, ``b`` a vector or
    matrix), from the SVD: singular values below ``rcond * max(s)`` are dropped (default
    ``eps * max(m, n)``)."""
    if len(_shape(a)) != 2:
        raise TypeError(f"{len(_shape(a))}-dimensional array given. Array must be two-dimensional")
    if len(_shape(b)) not in (1, 2):
        raise TypeError(
            f"{len(_shape(b))}-dimensional array given. Array must be one or two-dimensional"
        )
    if _shape(a)[0] != _shape(b)[0]:
        raise ValueError("Leading dimensions of input arrays must match")
    a = _floating(a)
    eps = float(np.finfo(dtype(a)).eps)
    if rcond is None:
        rcond = eps * builtins.max(*_shape(a))
    elif rcond < 0:
        rcond = eps
    return matmul(_pinv(a, rcond=float(rcond), inclusive=True), cast(b, dtype(a)))


# --------------------------------------------------------------------------- norms


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, as ``np.linalg.norm`` (ints give floatx)."""
    x = _float_arg(x)
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
            xv = np.asarray(unwrap(x))
            return sum((xv != 0).astype(xv.dtype), axis=a, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"Invalid `ord` argument for vector norm. Received: ord={ord}")
        return power(sum(power(abs(x), ord), axis=a, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2:
        raise ValueError(f"Invalid axis values. Received: axis={axis}")
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
        s = _singular_values(moveaxis(x, axes, (-2, -1)))
        out = max(s, axis=-1) if ord == 2 else min(s, axis=-1) if ord == -2 else sum(s, axis=-1)
        return expand_dims(out, sorted(axes)) if keepdims else out
    raise ValueError(f"Invalid `ord` argument for matrix norm. Received: ord={ord}")


# --------------------------------------------------------------------------- forward mode


def jvp(fun, primals, tangents, has_aux=False):
    """The Jacobian-vector product of ``fun`` at ``primals`` along ``tangents``.

    Forward mode through reverse mode: the VJP ``u -> J^T u`` is linear in ``u``, so
    differentiating ``<J^T u, t>`` with respect to ``u`` gives ``J t`` (two gradient passes;
    every op on the path needs a VJP made of differentiable ops).

    Returns:
        ``(primals_out, tangents_out)``, plus ``aux`` when ``has_aux``.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("`primals` and `tangents` must be tuples or lists of arguments.")
    primal_flat = [np.array(_float_input(unwrap(p))) for p in flatten(primals)]
    tangent_flat = [
        np.asarray(unwrap(t), dtype=p.dtype) for t, p in zip(flatten(tangents), primal_flat)
    ]
    with GradientTape(persistent=True) as outer:
        with GradientTape(persistent=True) as inner:
            inner.watch(primal_flat)
            # leaf Tensors, so that Python operators in `fun` record too
            args = pack_as(list(primals), [tracked_value(p) for p in primal_flat])
            result = fun(*args)
            out, aux = result if has_aux else (result, None)
        out_flat = flatten(out)
        seeds = [np.zeros(_shape(o), dtype=dtype(o)) for o in out_flat]
        outer.watch(seeds)
        grads = inner.gradient(out_flat, primal_flat, output_gradients=seeds)
        pairing = [sum(multiply(g, t)) for g, t in zip(grads, tangent_flat) if g is not None]
        total = pairing[0] if pairing else None
        for term in pairing[1:]:
            total = add(total, term)
    if total is None:
        tangents_out = [zeros_like(o) for o in out_flat]
    else:
        tangents_out = outer.gradient(total, seeds, unconnected_gradients="zero")
    out_values = pack_as(out, [np.asarray(unwrap(o)) for o in out_flat])
    tangents_out = pack_as(out, [np.asarray(unwrap(t)) for t in tangents_out])
    if has_aux:
        return out_values, tangents_out, aux
    return out_values, tangents_out
