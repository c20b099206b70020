"""2-D max and average pooling (NHWC) and their gradients, in NumPy.

Semantics are TensorFlow's ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``:

- ``"same"`` padding is TensorFlow's (odd extra pixel at the bottom / right); padded cells never
  win a max and are not counted in an average (the divisor is the number of real pixels in the
  window);
- the max-pool gradient goes to ONE input per window: the first maximum in row-major order within
  the window (so a window of equal values, e.g. zeros after a ReLU, sends it to its top-left pixel),
  and a pixel shared by overlapping windows receives the sum of what each window sends it.

Kernels loop over the ``ph * pw`` window offsets only, each step a vectorised operation on a
strided view of the whole batch (``x[:, i::sh, j::sw]``), never a loop over pixels. For the common
2x2 / 2 case the max is three ``np.maximum`` calls and the argmax a few in-place uint8 operations;
padded offsets are handled by slicing the outputs each offset touches, so no padded copy of the
input is made.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numpykeras import backend
from numpykeras.ops._parallel import kernel_threads, map_chunks
from numpykeras.ops.padding import (
    conv_output_length,
    normalize_padding,
    normalize_tuple,
    offset_slices,
    padding_amounts,
)


class _PoolGeometry(NamedTuple):
    n: int
    h: int
    w: int
    c: int
    ph: int
    pw: int
    sh: int
    sw: int
    ho: int
    wo: int
    pad_top: int
    pad_left: int
    padding: str

    @property
    def padded(self) -> bool:
        return self.padding == "same" and (
            (self.ho - 1) * self.sh + self.ph > self.h or (self.wo - 1) * self.sw + self.pw > self.w
        )

    @property
    def tiled(self) -> bool:
        """Windows do not overlap and no padding is involved: plain reshapes work."""
        return self.sh == self.ph and self.sw == self.pw and not self.padded

    def taps(self):
        """``(k, out_rows, out_cols, in_rows, in_cols)`` for each window offset ``k = i*pw + j``."""
        result = []
        for i in range(self.ph):
            oh, rh = offset_slices(i, self.h, self.ho, self.sh, self.pad_top)
            for j in range(self.pw):
                ow, rw = offset_slices(j, self.w, self.wo, self.sw, self.pad_left)
                if oh is not None and ow is not None:
                    result.append((i * self.pw + j, oh, ow, rh, rw))
        return result


class MaxPoolCache(NamedTuple):
    """What :func:`max_pool2d_backward` needs: which input won each window.

    Windows that tile the input (no overlap, no padding) record one boolean mask per window offset
    in ``winners``; other geometries record the winning offset of every output in ``argmax``.
    """

    argmax: np.ndarray | None  # (N, Ho, Wo, C) uint8, row-major offset i*pw + j of the max
    input_shape: tuple
    pool_size: tuple
    strides: tuple
    padding: str
    dtype: np.dtype
    winners: np.ndarray | None = None  # (ph*pw, N, Ho, Wo, C) bool, True at each window's winner


def _as_input(x) -> np.ndarray:
    if isinstance(x, backend.Variable):
        x = x.value
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    return x


def _pool_geometry(input_shape, pool_size, strides, padding, op_name) -> _PoolGeometry:
    if len(input_shape) != 4:
        raise ValueError(
            f"`{op_name}` expects `inputs` of rank 4 (batch, height, width, channels). "
            f"Received: inputs.shape={tuple(input_shape)}"
        )
    pool_size = normalize_tuple(pool_size, 2, "pool_size")
    strides = pool_size if strides is None else normalize_tuple(strides, 2, "strides")
    padding = normalize_padding(padding)
    n, h, w, c = (int(d) for d in input_shape)
    (ph, pw), (sh, sw) = pool_size, strides
    ho = conv_output_length(h, ph, padding, sh)
    wo = conv_output_length(w, pw, padding, sw)
    if ho <= 0 or wo <= 0:
        raise ValueError(
            "Computed output size would be zero or negative. Received: "
            f"`inputs.shape={tuple(input_shape)}`, `pool_size={pool_size}`, "
            f"`strides={strides}`, `padding={padding}`."
        )
    pad_top = padding_amounts(h, ph, padding, sh)[0]
    pad_left = padding_amounts(w, pw, padding, sw)[0]
    return _PoolGeometry(n, h, w, c, ph, pw, sh, sw, ho, wo, pad_top, pad_left, padding)


def _tile_views(x: np.ndarray, geo: _PoolGeometry):
    """For tiling windows: the (N, Ho, Wo, C) view of each window offset, in row-major order."""
    xc = x[:, : geo.ho * geo.ph, : geo.wo * geo.pw]  # drop rows / columns no window reaches
    return [xc[:, i :: geo.ph, j :: geo.pw] for i in range(geo.ph) for j in range(geo.pw)]


def _max_tiled(x: np.ndarray, geo: _PoolGeometry, out=None) -> np.ndarray:
    """Window maxima for tiling windows: first across window rows, whose views keep whole image
    rows contiguous, then across window columns on the smaller result (written to ``out`` when
    given, an ``(N, Ho, Wo, C)`` array)."""
    xc = x[:, : geo.ho * geo.ph, : geo.wo * geo.pw]
    rows = [xc[:, i :: geo.ph] for i in range(geo.ph)]  # (N, Ho, Wo*pw, C) each
    if geo.pw == 1:
        if out is None:
            out = rows[0].copy()
        else:
            out[...] = rows[0]
        for v in rows[1:]:
            np.maximum(out, v, out=out)
        return out
    r = rows[0].copy() if geo.ph == 1 else np.maximum(rows[0], rows[1])
    for v in rows[2:]:
        np.maximum(r, v, out=r)
    cols = [r[:, :, j :: geo.pw] for j in range(geo.pw)]  # (N, Ho, Wo, C) each
    y = np.maximum(cols[0], cols[1], out=out)
    for v in cols[2:]:
        np.maximum(y, v, out=y)
    return y


def pooled_shape(input_shape, pool_size, strides=None, padding="valid") -> tuple:
    """The output shape of :func:`max_pool2d` / :func:`avg_pool2d` for ``input_shape``."""
    geo = _pool_geometry(input_shape, pool_size, strides, padding, "max_pool2d")
    return (geo.n, geo.ho, geo.wo, geo.c)


def pool_tiles(input_shape, pool_size, strides=None, padding="valid"):
    """``(ph, pw, Ho, Wo)`` when the pooling windows tile the input (stride = pool size, no
    padding: each input pixel is in at most one window), else ``None``."""
    geo = _pool_geometry(input_shape, pool_size, strides, padding, "max_pool2d")
    return (geo.ph, geo.pw, geo.ho, geo.wo) if geo.tiled else None


def max_pool2d_into(x: np.ndarray, out: np.ndarray, pool_size, strides=None, padding="valid"):
    """:func:`max_pool2d` of ``x`` written into ``out`` (for fused kernels that pool chunk by
    chunk); ``x`` must already be a float array of rank 4 and ``out`` of the pooled shape."""
    geo = _pool_geometry(x.shape, pool_size, strides, padding, "max_pool2d")
    if geo.tiled:
        _max_tiled(x, geo, out=out)
    else:
        out[...] = _max_over_taps(x, geo, geo.taps())
    return out


def _winners_tiled(x: np.ndarray, y: np.ndarray, geo: _PoolGeometry, won=None) -> np.ndarray:
    """One mask per window offset, True where that offset holds its window's FIRST maximum.

    Offset ``k`` wins where ``x_k == y`` and no earlier offset did; the last offset wins wherever
    none did (this also gives NaN windows to it, as the uint8 ``argmax`` path does).
    """
    views = _tile_views(x, geo)
    count = len(views)
    if won is None:
        won = np.empty((count,) + y.shape, dtype=bool)
    if count == 1:
        won[0] = True
        return won
    seen = np.equal(views[0], y, out=won[0]).copy()
    for k in range(1, count - 1):
        np.equal(views[k], y, out=won[k])
        np.greater(won[k], seen, out=won[k])  # equal here and not before: e_k & ~seen
        np.logical_or(seen, won[k], out=seen)
    np.logical_not(seen, out=won[count - 1])
    return won


def _max_over_taps(x: np.ndarray, geo: _PoolGeometry, taps) -> np.ndarray:
    """Window maxima by a chain of ``np.maximum`` over the window offsets (padding never wins)."""
    if geo.padded:
        y = np.full((geo.n, geo.ho, geo.wo, geo.c), -np.inf, dtype=x.dtype)
        for _, oh, ow, rh, rw in taps:
            yv = y[:, oh, ow]
            np.maximum(yv, x[:, rh, rw], out=yv)
        return y
    # without padding every offset covers every output
    views = [x[:, rh, rw] for _, _, _, rh, rw in taps]
    if len(views) == 1:
        return views[0].copy()
    y = np.maximum(views[0], views[1])
    for v in views[2:]:
        np.maximum(y, v, out=y)
    return y


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    """2-D max pooling, as ``tf.nn.max_pool2d``.

    Args:
        x: ``(N, H, W, C)``, float32 or float64 (kept).
        pool_size: int or pair ``(ph, pw)``.
        strides: int or pair; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(N, Ho, Wo, C)``.
    """
    x = _as_input(x)
    geo = _pool_geometry(x.shape, pool_size, strides, padding, "max_pool2d")
    if geo.tiled:
        y = np.empty((geo.n, geo.ho, geo.wo, geo.c), dtype=x.dtype)
        _split_batch(lambda a, b: _max_tiled(x[a:b], geo, out=y[a:b]), x)
        return y
    return _max_over_taps(x, geo, geo.taps())


# Inputs smaller than this are pooled in the calling thread (a thread hand-off costs more).
_SPLIT_MIN_BYTES = 1 << 20


def _split_batch(fn, x: np.ndarray) -> None:
    """``fn(a, b)`` over contiguous batch ranges covering ``x``'s batch, one per kernel thread
    for large inputs (each ``fn`` must only write its own samples of its outputs)."""
    n = x.shape[0]
    threads = kernel_threads() if x.nbytes >= _SPLIT_MIN_BYTES else 1
    step = -(-n // min(threads, n))
    starts = list(range(0, n, step))
    map_chunks(lambda part: [fn(a, min(a + step, n)) for a in part], starts)


def max_pool2d_forward(x, pool_size, strides=None, padding="valid"):
    """Max pooling that also records, per output, which input won (for the backward pass).

    Returns:
        ``(y, cache)``: ``y`` as :func:`max_pool2d`; ``cache`` a :class:`MaxPoolCache` to hand to
        :func:`max_pool2d_backward`.
    """
    x = _as_input(x)
    geo = _pool_geometry(x.shape, pool_size, strides, padding, "max_pool2d")
    window = geo.ph * geo.pw
    if window > 255:
        raise ValueError(
            f"`pool_size` is too large: at most 255 pixels per window are supported. "
            f"Received: pool_size={(geo.ph, geo.pw)}"
        )
    if geo.tiled:
        y = np.empty((geo.n, geo.ho, geo.wo, geo.c), dtype=x.dtype)
        winners = np.empty((geo.ph * geo.pw,) + y.shape, dtype=bool)

        def pool(a, b):
            _max_tiled(x[a:b], geo, out=y[a:b])
            _winners_tiled(x[a:b], y[a:b], geo, won=winners[:, a:b])

        _split_batch(pool, x)
        cache = MaxPoolCache(
            None, tuple(x.shape), (geo.ph, geo.pw), (geo.sh, geo.sw), geo.padding, x.dtype, winners
        )
        return y, cache
    taps = geo.taps()
    y = _max_over_taps(x, geo, taps)
    # argmax = first offset k (row-major) with x_k == y. Going through the offsets backwards,
    # argmax <- k where x_k == y, else unchanged; as uint8 arithmetic without branches:
    # argmax = k + (x_k != y) * (argmax - k), valid because argmax > k before step k.
    argmax = np.full(y.shape, window - 1, dtype=np.uint8)
    differs = np.empty(y.shape, dtype=bool)
    for k, oh, ow, rh, rw in reversed(taps):
        if k == window - 1:
            continue
        av, dv = argmax[:, oh, ow], differs[:, oh, ow]
        np.not_equal(x[:, rh, rw], y[:, oh, ow], out=dv)
        av -= np.uint8(k)
        av *= dv.view(np.uint8)
        av += np.uint8(k)
    cache = MaxPoolCache(
        argmax, tuple(x.shape), (geo.ph, geo.pw), (geo.sh, geo.sw), geo.padding, x.dtype
    )
    return y, cache


def max_pool2d_backward(dy, cache: MaxPoolCache):
    """Gradient of max pooling: each output's gradient goes to the input that won its window.

    Args:
        dy: ``(N, Ho, Wo, C)`` upstream gradient.
        cache: the :class:`MaxPoolCache` returned by :func:`max_pool2d_forward`.

    Returns:
        ``dx`` with the input's shape and dtype.
    """
    if not isinstance(cache, MaxPoolCache):
        raise TypeError(
            "`max_pool2d_backward` expects the cache returned by `max_pool2d_forward`. "
            f"Received: cache of type {type(cache).__name__}"
        )
    geo = _pool_geometry(
        cache.input_shape, cache.pool_size, cache.strides, cache.padding, "max_pool2d"
    )
    dy = np.asarray(dy, dtype=cache.dtype)
    expected = (geo.n, geo.ho, geo.wo, geo.c)
    if dy.shape != expected:
        raise ValueError(
            "The upstream gradient must have the shape of the pooling output. "
            f"Expected: {expected}. Received: dy.shape={dy.shape}"
        )
    if _covers_exactly(geo):
        dx = np.empty(cache.input_shape, dtype=cache.dtype)  # every pixel is written once below
    else:
        dx = np.zeros(cache.input_shape, dtype=cache.dtype)
    if cache.winners is not None:
        # tiling windows: each input is in at most one window, so each offset's view is written once
        def spread(a, b):
            for dxv, won in zip(_tile_views(dx[a:b], geo), cache.winners[:, a:b]):
                np.multiply(dy[a:b], won, out=dxv)

        _split_batch(spread, dx)
        return dx
    taps = geo.taps()
    overlapping = geo.sh < geo.ph or geo.sw < geo.pw
    for k, oh, ow, rh, rw in taps:
        won = cache.argmax[:, oh, ow] == k  # (N, h', w', C) bool
        dxv = dx[:, rh, rw]
        if overlapping:
            dxv += dy[:, oh, ow] * won
        else:
            np.multiply(dy[:, oh, ow], won, out=dxv)  # each input is in at most one window
    return dx


def _covers_exactly(geo: _PoolGeometry) -> bool:
    """Windows tile the input exactly: no overlap, no gap, no padding, nothing cropped."""
    return geo.tiled and geo.ho * geo.ph == geo.h and geo.wo * geo.pw == geo.w


def _window_counts(geo: _PoolGeometry):
    """Real (unpadded) pixels per window: ``(Ho, 1)`` row counts and ``(Wo, 1)`` column counts."""
    rows = np.zeros(geo.ho, dtype=np.int64)
    cols = np.zeros(geo.wo, dtype=np.int64)
    for i in range(geo.ph):
        oh, _ = offset_slices(i, geo.h, geo.ho, geo.sh, geo.pad_top)
        if oh is not None:
            rows[oh] += 1
    for j in range(geo.pw):
        ow, _ = offset_slices(j, geo.w, geo.wo, geo.sw, geo.pad_left)
        if ow is not None:
            cols[ow] += 1
    return rows, cols


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    """2-D average pooling, as ``tf.nn.avg_pool2d`` (padded cells are not counted).

    Args:
        x: ``(N, H, W, C)``.
        pool_size, strides, padding: as in :func:`max_pool2d`.

    Returns:
        ``(N, Ho, Wo, C)`` in the dtype of ``x``.
    """
    x = _as_input(x)
    geo = _pool_geometry(x.shape, pool_size, strides, padding, "avg_pool2d")
    taps = geo.taps()
    if not geo.padded:
        # every offset covers every output; the divisor is the full window size
        views = [x[:, rh, rw] for _, _, _, rh, rw in taps]
        y = views[0].copy() if len(views) == 1 else np.add(views[0], views[1])
        for v in views[2:]:
            y += v
        y /= x.dtype.type(geo.ph * geo.pw)
        return y
    y = np.zeros((geo.n, geo.ho, geo.wo, geo.c), dtype=x.dtype)
    for _, oh, ow, rh, rw in taps:
        y[:, oh, ow] += x[:, rh, rw]
    rows, cols = _window_counts(geo)
    count = (rows[:, None] * cols[None, :]).astype(x.dtype)  # (Ho, Wo) real pixels per window
    y /= count[:, :, None]
    return y


def avg_pool2d_backward(dy, x_shape, pool_size, strides=None, padding="valid"):
    """Gradient of :func:`avg_pool2d`: each output spreads ``dy / count`` evenly over its window.

    Args:
        dy: ``(N, Ho, Wo, C)`` upstream gradient (its float dtype is kept).
        x_shape: the input's shape ``(N, H, W, C)``.
        pool_size, strides, padding: as given to :func:`avg_pool2d`.

    Returns:
        ``dx`` of shape ``x_shape``.
    """
    dy = _as_input(dy)
    geo = _pool_geometry(tuple(x_shape), pool_size, strides, padding, "avg_pool2d")
    if dy.shape != (geo.n, geo.ho, geo.wo, geo.c):
        raise ValueError(
            "The upstream gradient must have the shape of the pooling output. "
            f"Expected: {(geo.n, geo.ho, geo.wo, geo.c)}. Received: dy.shape={dy.shape}"
        )
    rows, cols = _window_counts(geo)
    count = (rows[:, None] * cols[None, :]).astype(dy.dtype)  # (Ho, Wo)
    share = dy / count[:, :, None]  # (N, Ho, Wo, C)
    if _covers_exactly(geo):
        dx = np.empty((geo.n, geo.h, geo.w, geo.c), dtype=dy.dtype)
    else:
        dx = np.zeros((geo.n, geo.h, geo.w, geo.c), dtype=dy.dtype)
    overlapping = geo.sh < geo.ph or geo.sw < geo.pw
    for _, oh, ow, rh, rw in geo.taps():
        if overlapping:
            dx[:, rh, rw] += share[:, oh, ow]
        else:
            dx[:, rh, rw] = share[:, oh, ow]
    return dx
