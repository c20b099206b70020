"""N-dimensional convolution and pooling for ranks the 2-D kernels of ``ops/conv.py`` and
``ops/pooling.py`` do not cover (3-D volumes), channels last.

Windows are strided views (``sliding_window_view``) of the padded input, contracted with the
kernel in one ``tensordot``; the input gradient adds one strided slice per kernel offset (a
loop over the ``prod(kernel_size)`` offsets, not over elements). The convolution and its two
adjoints are bilinear, so their VJPs are the same three primitives: gradients of gradients work.

``geo`` (a hashable tuple) holds ``strides``, ``dilation``, explicit ``pads`` ((before, after)
per spatial axis) and ``groups``.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from numpykeras.ops.autodiff import primitive


class Geometry(NamedTuple):
    strides: tuple
    dilation: tuple
    pads: tuple  # ((before, after), ...) per spatial axis
    groups: int = 1


def geometry(spatial, kernel_spatial, strides, dilation, padding, groups=1) -> Geometry:
    """TensorFlow's explicit padding for ``"valid"``/``"same"`` along each spatial axis."""
    pads = []
    for n, k, s, d in zip(spatial, kernel_spatial, strides, dilation):
        if padding == "same":
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append((0, 0))
    return Geometry(tuple(strides), tuple(dilation), tuple(pads), int(groups))


def output_spatial(spatial, kernel_spatial, geo: Geometry) -> tuple:
    return tuple(
        (n + b + a - (k - 1) * d - 1) // s + 1
        for n, k, s, d, (b, a) in zip(spatial, kernel_spatial, geo.strides, geo.dilation, geo.pads)
    )


def _windows(xp, kernel_spatial, geo: Geometry, out):
    """``(N, *out, C, *kernel_spatial)`` view of the padded input's windows."""
    nd = len(kernel_spatial)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel_spatial, geo.dilation)]
    view = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(1, nd + 1)))
    key = (
        (slice(None),)
        + tuple(slice(0, o * s, s) for o, s in zip(out, geo.strides))
        + (slice(None),)
        + tuple(slice(None, None, d) for d in geo.dilation)
    )
    return view[key]


def _pad(x, geo: Geometry, value=0.0):
    return np.pad(x, ((0, 0),) + geo.pads + ((0, 0),), constant_values=value)


def _float_pair(a, b):
    a, b = np.asarray(a), np.asarray(b)
    dt = np.result_type(a.dtype, b.dtype)
    if dt.kind != "f":
        dt = np.dtype("float32")
    return a.astype(dt, copy=False), b.astype(dt, copy=False)


@primitive
def conv(x, kernel, geo):
    """``y[n, o..., f] = sum x_pad[n, o*s + i*d, c] kernel[i..., c, f]`` (grouped channels)."""
    x, kernel = _float_pair(x, kernel)
    nd = x.ndim - 2
    ks = kernel.shape[:nd]
    out = output_spatial(x.shape[1:-1], ks, geo)
    if min(out) <= 0:
        raise ValueError(
            "The convolution operation resulted in an empty output. Output shape: "
            f"{(x.shape[0],) + out + (kernel.shape[-1],)}."
        )
    win = _windows(_pad(x, geo), ks, geo, out)  # (N, *out, C, *ks)
    g = geo.groups
    cin, fout = kernel.shape[-2], kernel.shape[-1]
    parts = []
    for j in range(g):
        wj = win[(Ellipsis, slice(j * cin, (j + 1) * cin)) + (slice(None),) * nd]
        kj = kernel[..., j * (fout // g) : (j + 1) * (fout // g)]
        # contract (C, *ks) of the windows with (*ks, C) of the kernel
        kj = np.moveaxis(kj, nd, 0)  # (C, *ks, F/g)
        parts.append(
            np.tensordot(wj, kj, axes=(list(range(nd + 1, 2 * nd + 2)), list(range(nd + 1))))
        )
    return np.concatenate(parts, axis=-1) if g > 1 else parts[0]


def _offsets(ks):
    return itertools.product(*[range(k) for k in ks])


def _offset_key(offset, geo: Geometry, out):
    return (slice(None),) + tuple(
        slice(i * d, i * d + (o - 1) * s + 1, s)
        for i, d, s, o in zip(offset, geo.dilation, geo.strides, out)
    )


@primitive
def conv_dx(g, kernel, x_shape, geo):
    """The adjoint of :func:`conv` in ``x``, applied to ``g`` (``x_shape``: ``x``'s shape)."""
    g, kernel = _float_pair(g, kernel)
    nd = g.ndim - 2
    ks = kernel.shape[:nd]
    out = g.shape[1:-1]
    padded = (
        (x_shape[0],)
        + tuple(n + b + a for n, (b, a) in zip(x_shape[1:-1], geo.pads))
        + (x_shape[-1],)
    )
    dxp = np.zeros(padded, g.dtype)
    groups, cin, fout = geo.groups, kernel.shape[-2], kernel.shape[-1]
    fg = fout // groups
    for offset in _offsets(ks):
        key = _offset_key(offset, geo, out)
        k = kernel[offset]  # (C/g, F)
        for j in range(groups):
            contrib = g[..., j * fg : (j + 1) * fg] @ k[:, j * fg : (j + 1) * fg].T
            dxp[key + (Ellipsis, slice(j * cin, (j + 1) * cin))] += contrib
    crop = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(x_shape[1:-1], geo.pads))
    return np.ascontiguousarray(dxp[crop])


@primitive
def conv_dk(x, g, k_shape, geo):
    """The adjoint of :func:`conv` in the kernel, applied to ``g``."""
    x, g = _float_pair(x, g)
    nd = x.ndim - 2
    ks = tuple(k_shape[:nd])
    out = g.shape[1:-1]
    win = _windows(_pad(x, geo), ks, geo, out)  # (N, *out, C, *ks)
    groups, cin, fout = geo.groups, k_shape[-2], k_shape[-1]
    fg = fout // groups
    dk = np.zeros(k_shape, g.dtype)
    lead = list(range(nd + 1))
    for j in range(groups):
        wj = win[(Ellipsis, slice(j * cin, (j + 1) * cin)) + (slice(None),) * nd]
        part = np.tensordot(wj, g[..., j * fg : (j + 1) * fg], axes=(lead, lead))  # (C, *ks, F)
        dk[..., j * fg : (j + 1) * fg] = np.moveaxis(part, 0, nd)
    return dk


def _tracked(x):
    from numpykeras.ops.autodiff import Tensor

    return type(x) is Tensor


conv.defvjp(
    lambda g, ans, x, kernel, geo: (
        conv_dx(g, kernel, x_shape=_shape(x), geo=geo) if _tracked(x) else None,
        conv_dk(x, g, k_shape=_shape(kernel), geo=geo) if _tracked(kernel) else None,
    )
)
conv_dx.defvjp(
    lambda gg, ans, g, kernel, x_shape, geo: (
        conv(gg, kernel, geo=geo) if _tracked(g) else None,
        conv_dk(gg, g, k_shape=_shape(kernel), geo=geo) if _tracked(kernel) else None,
    )
)
conv_dk.defvjp(
    lambda gk, ans, x, g, k_shape, geo: (
        conv_dx(g, gk, x_shape=_shape(x), geo=geo) if _tracked(x) else None,
        conv(x, gk, geo=geo) if _tracked(g) else None,
    )
)


def _shape(x):
    from numpykeras.ops.autodiff import unwrap

    return tuple(np.shape(unwrap(x)))


# --------------------------------------------------------------------------- pooling


@primitive
def max_pool(x, pool, geo):
    """Max pooling (padding cells never win)."""
    x = np.asarray(x)
    out = output_spatial(x.shape[1:-1], pool, geo)
    win = _windows(_pad(x, geo, -np.inf), pool, geo, out)
    return win.reshape(win.shape[: -len(pool)] + (-1,)).max(axis=-1)


@primitive
def _max_pool_grad(g, x, pool, geo):
    """The gradient of :func:`max_pool`: each window's ``g`` to its first maximum."""
    x = np.asarray(x)
    g = np.asarray(g, dtype=x.dtype)
    nd = len(pool)
    out = g.shape[1:-1]
    xp = _pad(x, geo, -np.inf)
    win = _windows(xp, pool, geo, out)
    flat = win.reshape(win.shape[:-nd] + (-1,))
    first = np.argmax(flat, axis=-1)  # first maximum, row-major over the window
    within = np.unravel_index(first, pool)  # window offsets, each (N, *out, C)
    grids = np.indices(first.shape, sparse=True)
    index = [grids[0]]
    for a in range(nd):
        index.append(grids[1 + a] * geo.strides[a] + within[a] * geo.dilation[a])
    index.append(grids[-1])
    dxp = np.zeros(xp.shape, x.dtype)
    np.add.at(dxp, tuple(index), g)
    crop = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(x.shape[1:-1], geo.pads))
    return np.ascontiguousarray(dxp[crop])


def _max_pool_grad_vjp(gg, ans, g, x, pool, geo):
    raise NotImplementedError("Second derivatives through 3-D max_pool are not implemented.")


max_pool.defvjp(lambda g, ans, x, pool, geo: (_max_pool_grad(g, x, pool=pool, geo=geo),))
_max_pool_grad.defvjp(_max_pool_grad_vjp)


def _counts(spatial, pool, geo, out):
    """How many real (unpadded) cells each output window covers, ``(1, *out, 1)``."""
    ones = np.ones((1,) + tuple(spatial) + (1,))
    win = _windows(_pad(ones, geo), pool, geo, out)
    return win.reshape(win.shape[: -len(pool)] + (-1,)).sum(-1)


@primitive
def avg_pool(x, pool, geo):
    """Average pooling over the real cells of each window."""
    x = np.asarray(x)
    out = output_spatial(x.shape[1:-1], pool, geo)
    win = _windows(_pad(x, geo), pool, geo, out)
    total = win.reshape(win.shape[: -len(pool)] + (-1,)).sum(-1)
    return (total / _counts(x.shape[1:-1], pool, geo, out)).astype(x.dtype)


@primitive
def _avg_pool_grad(g, x_shape, pool, geo):
    g = np.asarray(g)
    out = g.shape[1:-1]
    share = g / _counts(x_shape[1:-1], pool, geo, out).astype(g.dtype)
    padded = (x_shape[0],) + tuple(n + b + a for n, (b, a) in zip(x_shape[1:-1], geo.pads))
    dxp = np.zeros(padded + (x_shape[-1],), g.dtype)
    for offset in _offsets(pool):
        dxp[_offset_key(offset, geo, out)] += share
    crop = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(x_shape[1:-1], geo.pads))
    return np.ascontiguousarray(dxp[crop])


avg_pool.defvjp(
    lambda g, ans, x, pool, geo: (_avg_pool_grad(g, x_shape=_shape(x), pool=pool, geo=geo),)
)
_avg_pool_grad.defvjp(lambda gg, ans, g, x_shape, pool, geo: (avg_pool(gg, pool=pool, geo=geo),))
