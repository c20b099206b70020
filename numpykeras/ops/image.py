"""``keras.ops.image``: resizing, geometric transforms, colour spaces, patches and filters.

Images are ``(batch, height, width, channels)`` (or one image without the batch axis;
``data_format="channels_first"`` puts channels after the batch axis). Every transform is linear in
the image and is written as a gather or a per-axis weight matrix applied with ops, so it is
differentiable in the image, and its gradient is the exact adjoint (TensorFlow's for ``resize``;
TensorFlow's projective-transform gradient is an approximation, ours the adjoint).

The interpolation conventions are TensorFlow's: ``resize`` uses half-pixel centres
(``tf.image.resize``), ``affine_transform`` maps output pixel indices to input ones
(``ImageProjectiveTransformV3``), ``map_coordinates`` follows ``scipy.ndimage``.
"""

from __future__ import annotations

import builtins
import itertools

import numpy as np

from numpykeras import backend
from numpykeras.ops import dtypes
from numpykeras.ops.autodiff import unwrap
from numpykeras.ops.numpy import (
    _float_arg,
    _is_tracked,
    _shape,
    abs,
    add,
    cast,
    clip,
    divide,
    dtype,
    expand_dims,
    get_item,
    maximum,
    mean,
    minimum,
    moveaxis,
    multiply,
    pad,
    reshape,
    round,
    squeeze,
    stack,
    subtract,
    take,
    take_along_axis,
    tensordot,
    where,
)

__all__ = [
    "affine_transform",
    "crop_images",
    "elastic_transform",
    "extract_patches",
    "extract_patches_3d",
    "gaussian_blur",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "perspective_transform",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "scale_and_translate",
    "sobel_edges",
    "ssim",
]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")
AFFINE_TRANSFORM_INTERPOLATIONS = ("nearest", "bilinear")
AFFINE_TRANSFORM_FILL_MODES = ("constant", "nearest", "wrap", "reflect")
MAP_COORDINATES_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
SCALE_AND_TRANSLATE_METHODS = (
    "linear",
    "bilinear",
    "trilinear",
    "cubic",
    "bicubic",
    "tricubic",
    "lanczos3",
    "lanczos5",
)


# --------------------------------------------------------------------------- helpers


def _data_format(data_format):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def _check_rank(images, name="images"):
    rank = len(_shape(images))
    if rank not in (3, 4):
        raise ValueError(
            "Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
            f"Received input with shape: {name}.shape={_shape(images)}"
        )
    return rank


def _to_batch_last(images, data_format):
    """``images`` as a channels-last batch, and how to undo it."""
    rank = _check_rank(images)
    x = images if rank == 4 else expand_dims(images, 0)
    if data_format == "channels_first":
        x = moveaxis(x, 1, -1)

    def undo(y):
        if data_format == "channels_first":
            y = moveaxis(y, -1, 1)
        return y if rank == 4 else squeeze(y, 0)

    return x, undo


_floating = _float_arg  # floats unchanged (tracked ones stay tracked), ints as floatx


def _along(x, weights, axis):
    """``weights`` (``(out, in)``) applied along ``axis`` of ``x``."""
    return moveaxis(tensordot(x, weights, axes=([axis], [1])), -1, axis)


def _restore_dtype(y, original):
    """Keras's cast back to an integer input dtype: rounded, then saturated."""
    if dtype(y) == original:
        return y
    if not dtypes.is_float(original):
        from numpykeras.ops.core import saturate_cast

        return saturate_cast(round(y), original)
    return cast(y, original)


# --------------------------------------------------------------------------- colour


def rgb_to_grayscale(images, data_format=None):
    """Luma ``0.2989 R + 0.5870 G + 0.1140 B`` as one channel (1-channel images pass)."""
    data_format = _data_format(data_format)
    _check_rank(images)
    axis = -1 if data_format == "channels_last" else -3
    channels = _shape(images)[axis]
    if channels not in (1, 3):
        raise ValueError(
            "Invalid channel size: expected 3 (RGB) or 1 (Grayscale). Received input with "
            f"shape: images.shape={_shape(images)}"
        )
    if channels == 1:
        return images if _is_tracked(images) else np.array(unwrap(images))
    original = dtype(images)
    compute = dtypes.result_type(original, float)
    x = cast(images, compute)
    weights = np.asarray([0.2989, 0.5870, 0.1140], dtype=compute)
    gray = expand_dims(tensordot(moveaxis(x, axis, -1), weights, axes=([-1], [0])), axis)
    return cast(gray, original) if original != compute else gray


def _check_float(images):
    if not dtypes.is_float(dtype(images)):
        raise ValueError(
            f"Invalid images dtype: expected float dtype. Received: images.dtype={dtype(images)}"
        )


def _channels(images, data_format):
    x, undo = _to_batch_last(images, data_format)
    return [get_item(x, (Ellipsis, i)) for i in range(3)], undo


def rgb_to_hsv(images, data_format=None):
    """RGB in ``[0, 1]`` to hue, saturation and value in ``[0, 1]`` (TensorFlow's formulas)."""
    data_format = _data_format(data_format)
    _check_float(images)
    (r, g, b), undo = _channels(images, data_format)
    value = maximum(maximum(r, g), b)
    spread = subtract(value, minimum(minimum(r, g), b))
    lit = np.asarray(unwrap(value)) > 0
    saturation = where(lit, divide(spread, where(lit, value, 1.0)), 0.0)
    positive = np.asarray(unwrap(spread)) > 0
    norm = divide(1.0 / 6.0, where(positive, spread, 1.0))
    rv, gv = np.asarray(unwrap(r)) == unwrap(value), np.asarray(unwrap(g)) == unwrap(value)
    hue = where(
        rv,
        multiply(norm, subtract(g, b)),
        where(
            gv,
            add(multiply(norm, subtract(b, r)), 2.0 / 6.0),
            add(multiply(norm, subtract(r, g)), 4.0 / 6.0),
        ),
    )
    hue = where(positive, hue, 0.0)
    hue = where(np.asarray(unwrap(hue)) < 0, add(hue, 1.0), hue)
    return undo(stack([hue, saturation, value], axis=-1))


def hsv_to_rgb(images, data_format=None):
    """Hue, saturation and value in ``[0, 1]`` to RGB (TensorFlow's formulas)."""
    data_format = _data_format(data_format)
    _check_float(images)
    (h, s, v), undo = _channels(images, data_format)
    dh = multiply(h, 6.0)
    dr = clip(subtract(abs(subtract(dh, 3.0)), 1.0), 0.0, 1.0)
    dg = clip(subtract(2.0, abs(subtract(dh, 2.0))), 0.0, 1.0)
    db = clip(subtract(2.0, abs(subtract(dh, 4.0))), 0.0, 1.0)
    one_s = subtract(1.0, s)
    out = [multiply(add(one_s, multiply(s, d)), v) for d in (dr, dg, db)]
    return undo(stack(out, axis=-1))


# --------------------------------------------------------------------------- resize


def _resize_weights(n_in, n_out, method, antialias, dt):
    """The ``(n_out, n_in)`` matrix of ``tf.image.resize`` along one axis."""
    scale = n_in / n_out
    out = np.arange(n_out, dtype=np.float64)
    if method == "nearest":  # half-pixel centres, floor (in float32, as TensorFlow)
        f32 = np.float32
        src = np.floor((np.arange(n_out, dtype=f32) + f32(0.5)) * _scale32(n_in, n_out))
        src = np.minimum(src, n_in - 1).astype(np.int64)
        w = np.zeros((n_out, n_in))
        w[np.arange(n_out), src] = 1.0
        return w.astype(dt)
    if method == "area":  # the average of the input cells the output cell overlaps
        lo, hi = out * scale, (out + 1) * scale
        cells = np.arange(n_in, dtype=np.float64)
        overlap = np.clip(
            np.minimum(hi[:, None], cells[None, :] + 1) - np.maximum(lo[:, None], cells[None, :]),
            0,
            None,
        )
        return (overlap / scale).astype(dt)
    if antialias or method in ("lanczos3", "lanczos5"):
        kernel = {"bilinear": "linear", "bicubic": "cubic"}.get(method, method)
        return _scale_translate_weights(n_in, n_out, n_out / n_in, 0.0, kernel, antialias).T.astype(
            dt
        )
    # TensorFlow's half-pixel kernels compute positions in float32: mirror that, so that
    # weights (and the rounding of integer images) agree
    f32 = np.float32
    src = (np.arange(n_out, dtype=f32) + f32(0.5)) * f32(_scale32(n_in, n_out)) - f32(0.5)
    w = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if method == "bilinear":
        floor = np.floor(src)
        lerp = (src - floor).astype(np.float64)
        lower = np.maximum(floor, 0).astype(np.int64)
        upper = np.minimum(np.ceil(src), n_in - 1).astype(np.int64)
        np.add.at(w, (rows, lower), 1.0 - lerp)
        np.add.at(w, (rows, upper), lerp)
        return w.astype(dt)
    # bicubic: Keys' kernel (a = -0.5) over 4 taps, from TensorFlow's 1024-entry table (the
    # fractional position rounded to 1/1024); taps outside the image get weight 0 and the
    # others are renormalised
    base = np.floor(src)
    offset = np.rint((src - base) * f32(_TABLE)).astype(np.int64)
    near, far = _cubic_table()
    weights = np.stack(
        [far[offset], near[offset], near[_TABLE - offset], far[_TABLE - offset]], axis=1
    )
    taps = base[:, None].astype(np.int64) + np.arange(-1, 3)[None, :]
    inside = (taps >= 0) & (taps < n_in)
    weights = np.where(inside, weights, f32(0))
    weights = weights / weights.sum(axis=1, keepdims=True, dtype=f32)
    np.add.at(w, (np.repeat(rows, 4), np.clip(taps, 0, n_in - 1).reshape(-1)), weights.reshape(-1))
    return w.astype(dt)


_TABLE = 1024


def _scale32(n_in, n_out):
    """TensorFlow's resize scale, ``in / out`` in float32."""
    return np.float32(n_in) / np.float32(n_out)


def _cubic_table():
    """Keys' cubic kernel (a = -0.5) at ``i / 1024`` (``near``, distances in [0, 1]) and at
    ``1 + i / 1024`` (``far``), as float32."""
    a = -0.5
    x = np.arange(_TABLE + 1) / _TABLE
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x = x + 1.0
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return near.astype(np.float32), far.astype(np.float32)


def _keys_cubic(x):
    x = np.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, far, near))


def _crop_or_pad_to_aspect(x, size, crop, fill_value):
    """Keras's ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio`` on a channels-last batch."""
    _, height, width, channels = _shape(x)
    th, tw = size
    if crop:
        ch = builtins.max(builtins.min(height, int(np.float32(width * th) / np.float32(tw))), 1)
        cw = builtins.max(builtins.min(width, int(np.float32(height * tw) / np.float32(th))), 1)
        h0 = int(np.float32(height - ch) / 2)
        w0 = int(np.float32(width - cw) / 2)
        return get_item(x, (slice(None), slice(h0, h0 + ch), slice(w0, w0 + cw)))
    ph = builtins.max(height, int(np.float32(width * th) / np.float32(tw)))
    pw = builtins.max(width, int(np.float32(height * tw) / np.float32(th)))
    h0 = int(np.float32(ph - height) / 2)
    w0 = int(np.float32(pw - width) / 2)
    if h0 > 0:
        x = pad(x, ((0, 0), (h0, h0), (0, 0), (0, 0)), constant_values=fill_value)
    if w0 > 0:
        x = pad(x, ((0, 0), (0, 0), (w0, w0), (0, 0)), constant_values=fill_value)
    return x


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
):
    """Resizes images to ``size = (height, width)``, as ``tf.image.resize`` (half-pixel
    centres; ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``, ``"lanczos3"``,
    ``"lanczos5"``; ``antialias`` widens the kernel when downsampling). Integer images are
    rounded and saturated back to their dtype."""
    data_format = _data_format(data_format)
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"`size` must have positive height and width. Received: size={size}")
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected of one "
            f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}"
        )
    if fill_mode != "constant":
        raise ValueError(
            "Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
            f"Received: fill_mode={fill_mode}"
        )
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError(
            "Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`."
        )
    original = dtype(images)
    x, undo = _to_batch_last(images, data_format)
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        x = _crop_or_pad_to_aspect(x, size, crop_to_aspect_ratio, fill_value)
    x = _floating(x)
    dt = dtype(x)
    _, height, width, _ = _shape(x)
    y = _along(x, _resize_weights(height, int(size[0]), interpolation, antialias, dt), 1)
    y = _along(y, _resize_weights(width, int(size[1]), interpolation, antialias, dt), 2)
    return undo(_restore_dtype(y, original))


# --------------------------------------------------------------------------- scale and translate


def _scale_translate_weights(n_in, n_out, scale, translation, kernel, antialias):
    """The ``(n_in, n_out)`` sampling matrix of ``jax.image.scale_and_translate``."""
    inv = 1.0 / scale
    kernel_scale = builtins.max(inv, 1.0) if antialias else 1.0
    sample = (np.arange(n_out) + 0.5) * inv - translation * inv - 0.5
    x = np.abs(sample[None, :] - np.arange(n_in)[:, None]) / kernel_scale
    if kernel == "linear":
        w = np.maximum(0.0, 1.0 - x)
    elif kernel == "cubic":
        w = _keys_cubic(x)
    else:
        radius = 3.0 if kernel == "lanczos3" else 5.0
        with np.errstate(invalid="ignore", divide="ignore"):
            y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
            w = np.where(x > 1e-3, y / np.where(x != 0, np.pi**2 * x**2, 1.0), 1.0)
        w = np.where(x > radius, 0.0, w)
    total = w.sum(axis=0, keepdims=True)
    w = np.where(
        np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps),
        w / np.where(total != 0, total, 1.0),
        0.0,
    )
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return np.where(inside[None, :], w, 0.0)


def scale_and_translate(
    images, output_shape, scale, translation, spatial_dims, method, antialias=True
):
    """Resamples ``images`` along ``spatial_dims`` to ``output_shape`` with the given ``scale``
    and ``translation`` per axis (``jax.image.scale_and_translate``)."""
    if method not in SCALE_AND_TRANSLATE_METHODS:
        raise ValueError(
            "Invalid value for argument `method`. Expected of one "
            f"{SCALE_AND_TRANSLATE_METHODS}. Received: method={method}"
        )
    kernel = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(method, method)
    kernel = "cubic" if kernel == "tricubic" else kernel
    scale = np.asarray(unwrap(scale), dtype=np.float64).reshape(-1)
    translation = np.asarray(unwrap(translation), dtype=np.float64).reshape(-1)
    original = dtype(images)
    x = _floating(images)
    ndim = len(_shape(x))
    for i, d in enumerate(spatial_dims):
        d = d % ndim
        w = _scale_translate_weights(
            _shape(x)[d], int(output_shape[d]), scale[i], translation[i], kernel, antialias
        )
        x = _along(x, w.T.astype(dtype(x)), d)
    if not dtypes.is_float(original):
        lo, hi = np.min(unwrap(images)), np.max(unwrap(images))
        return cast(clip(round(x), lo, hi), original)
    return x


# --------------------------------------------------------------------------- projective warps


def _map_tf(coord, size, mode):
    """TensorFlow's ``MapCoordinate`` for out-of-range sample positions (float32 arrays)."""
    if mode == "constant":
        return coord
    f32 = np.float32
    if size <= 1:
        return np.zeros_like(coord)
    if mode == "nearest":
        return np.clip(coord, f32(0), f32(size - 1))
    out = coord.copy()
    with np.errstate(invalid="ignore"):
        neg, pos = out < 0, out > size - 1  # one branch or the other, as TensorFlow's if/else
        if mode == "reflect":  # (d c b a | a b c d | d c b a)
            period = 2 * size
            c = out[neg]
            c = f32(period) * np.trunc(-c / f32(period)).astype(f32) + c
            out[neg] = np.where(c < -size, c + f32(period), -c - f32(1))
            c = out[pos]
            c = c - f32(period) * np.trunc(c / f32(period)).astype(f32)
            out[pos] = np.where(c >= size, f32(period) - c - f32(1), c)
        else:  # wrap: (a b c d | a b c d | a b c d)
            span = f32(size - 1)
            out[neg] = out[neg] + f32(size) * (np.trunc(-out[neg] / span) + f32(1))
            out[pos] = out[pos] - f32(size) * np.trunc(out[pos] / span)
    return np.clip(out, f32(0), f32(size - 1))


def _projective_sample(x, transforms, interpolation, fill_mode, fill_value):
    """``ImageProjectiveTransformV3`` on a channels-last batch: output pixel ``(row, col)``
    reads the input at ``((a0 col + a1 row + a2) / k, (b0 col + b1 row + b2) / k)``,
    ``k = c0 col + c1 row + 1``, as a gather of the 1 or 4 neighbours. Positions are
    computed in float32 in TensorFlow's order, so that ties round the same way."""
    n, height, width, channels = _shape(x)
    f32 = np.float32
    t = np.asarray(unwrap(transforms), dtype=f32)
    t = np.broadcast_to(t.reshape(-1, 8), (n, 8))
    rows, cols = np.meshgrid(
        np.arange(height, dtype=f32), np.arange(width, dtype=f32), indexing="ij"
    )
    rows, cols = rows.reshape(1, -1), cols.reshape(1, -1)
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i : i + 1] for i in range(8))
    k = c0 * cols + c1 * rows + f32(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        src_x = _map_tf((a0 * cols + a1 * rows + a2) / k, width, fill_mode)
        src_y = _map_tf((b0 * cols + b1 * rows + b2) / k, height, fill_mode)
    flat = reshape(x, (n, height * width, channels))
    dt = dtype(x)
    fill = np.asarray(fill_value, dtype=dt)

    def read(yi, xi):
        inside = (yi >= 0) & (yi < height) & (xi >= 0) & (xi < width) & (k != 0)
        index = np.where(inside, yi * width + xi, 0).astype(np.int64)
        values = take_along_axis(flat, index[..., None], axis=1)
        return where(inside[..., None], values, fill)

    if interpolation == "nearest":  # round half away from zero (std::round)
        yi = np.trunc(src_y + np.copysign(f32(0.5), src_y))
        xi = np.trunc(src_x + np.copysign(f32(0.5), src_x))
        return reshape(read(_to_index(yi), _to_index(xi)), (n, height, width, channels))
    y0, x0 = np.floor(src_y), np.floor(src_x)
    # TensorFlow's weights: (ceil - v) and (v - floor) with ceil = floor + 1, in float32
    wy1, wx1 = (src_y - y0)[..., None], (src_x - x0)[..., None]
    wy0, wx0 = ((y0 + 1) - src_y)[..., None], ((x0 + 1) - src_x)[..., None]
    y0, x0 = _to_index(y0), _to_index(x0)
    top = add(multiply(read(y0, x0), wx0.astype(dt)), multiply(read(y0, x0 + 1), wx1.astype(dt)))
    bottom = add(
        multiply(read(y0 + 1, x0), wx0.astype(dt)), multiply(read(y0 + 1, x0 + 1), wx1.astype(dt))
    )
    out = add(multiply(top, wy0.astype(dt)), multiply(bottom, wy1.astype(dt)))
    return reshape(out, (n, height, width, channels))


def _to_index(v):
    """Float positions as int64 (non-finite ones, from ``k == 0``, as an invalid -1)."""
    return np.where(np.isfinite(v), v, -1).astype(np.int64)


def affine_transform(
    images,
    transform,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0,
    data_format=None,
):
    """Applies projective transforms ``[a0, a1, a2, b0, b1, b2, c0, c1]`` (one, or one per
    image) mapping output pixel indices to input ones (``tf.raw_ops.ImageProjectiveTransformV3``),
    with ``"nearest"`` or ``"bilinear"`` interpolation and ``fill_mode`` ``"constant"``,
    ``"nearest"``, ``"wrap"`` or ``"reflect"``."""
    data_format = _data_format(data_format)
    if interpolation not in AFFINE_TRANSFORM_INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected of one "
            f"{AFFINE_TRANSFORM_INTERPOLATIONS}. Received: interpolation={interpolation}"
        )
    if fill_mode not in AFFINE_TRANSFORM_FILL_MODES:
        raise ValueError(
            "Invalid value for argument `fill_mode`. Expected of one "
            f"{AFFINE_TRANSFORM_FILL_MODES}. Received: fill_mode={fill_mode}"
        )
    if len(_shape(transform)) not in (1, 2):
        raise ValueError(
            "Invalid transform rank: expected rank 1 (single transform) or rank 2 (batch of "
            f"transforms). Received input with shape: transform.shape={_shape(transform)}"
        )
    original = dtype(images)
    x, undo = _to_batch_last(images, data_format)
    y = _projective_sample(_floating(x), transform, interpolation, fill_mode, fill_value)
    return undo(_restore_dtype(y, original))


def _homography(start_points, end_points):
    """The 8 projective coefficients mapping ``end_points`` to ``start_points`` (per batch)."""
    s = np.asarray(unwrap(start_points), dtype=np.float32).astype(np.float64).reshape(-1, 4, 2)
    e = np.asarray(unwrap(end_points), dtype=np.float32).astype(np.float64).reshape(-1, 4, 2)
    n = s.shape[0]
    a = np.zeros((n, 8, 8))
    target = np.zeros((n, 8))
    for i in range(4):  # two equations per point
        ex, ey, sx, sy = e[:, i, 0], e[:, i, 1], s[:, i, 0], s[:, i, 1]
        a[:, 2 * i, 0], a[:, 2 * i, 1], a[:, 2 * i, 2] = ex, ey, 1.0
        a[:, 2 * i, 6], a[:, 2 * i, 7] = -sx * ex, -sx * ey
        a[:, 2 * i + 1, 3], a[:, 2 * i + 1, 4], a[:, 2 * i + 1, 5] = ex, ey, 1.0
        a[:, 2 * i + 1, 6], a[:, 2 * i + 1, 7] = -sy * ex, -sy * ey
        target[:, 2 * i], target[:, 2 * i + 1] = sx, sy
    return np.linalg.solve(a, target[..., None])[..., 0]


def perspective_transform(
    images,
    start_points,
    end_points,
    interpolation="bilinear",
    fill_value=0,
    data_format=None,
):
    """Warps images so that the four ``start_points`` (``(4, 2)`` x, y pairs, or a batch of
    them) land on ``end_points``."""
    data_format = _data_format(data_format)
    if interpolation not in AFFINE_TRANSFORM_INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected of one "
            f"{AFFINE_TRANSFORM_INTERPOLATIONS}. Received: interpolation={interpolation}"
        )
    for name, pts in (("start_points", start_points), ("end_points", end_points)):
        shape = _shape(pts)
        if len(shape) not in (2, 3) or shape[-2:] != (4, 2):
            raise ValueError(
                f"Invalid {name} shape: expected (4,2) for a single image or (N,4,2) for a "
                f"batch. Received shape: {shape}"
            )
    if _shape(start_points) != _shape(end_points):
        raise ValueError(
            "start_points and end_points must have the same shape. Received "
            f"start_points.shape={_shape(start_points)}, end_points.shape={_shape(end_points)}"
        )
    original = dtype(images)
    x, undo = _to_batch_last(images, data_format)
    transform = _homography(start_points, end_points)
    y = _projective_sample(_floating(x), transform, interpolation, "constant", fill_value)
    return undo(_restore_dtype(y, original))


# --------------------------------------------------------------------------- map_coordinates


def _mirror(index, size):
    """``index`` folded into ``[0, size)`` by mirroring about the edge cells' centres."""
    if size == 1:
        return np.zeros_like(index)
    s = size - 1
    return np.abs(np.mod(index + s, 2 * s) - s)


def _fix_index(index, size, mode):
    """Indices into ``size`` cells and which are valid, for the ``scipy.ndimage`` fill modes:
    ``"reflect"`` (d c b a | a b c d | d c b a), ``"mirror"`` (d c b | a b c d | c b a),
    ``"wrap"`` (a b c d | a b c d), ``"nearest"`` (a a | a b c d | d d), ``"constant"``."""
    if mode == "constant":
        return np.clip(index, 0, size - 1), (index >= 0) & (index < size)
    valid = np.ones(index.shape, bool)
    if mode == "nearest":
        return np.clip(index, 0, size - 1), valid
    if mode == "wrap":
        return np.mod(index, size), valid
    if mode == "mirror":
        return _mirror(index, size), valid
    return (_mirror(2 * index + 1, 2 * size + 1) - 1) // 2, valid


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Samples ``inputs`` at ``coordinates`` (one array per axis of ``inputs``) by nearest
    (``order=0``) or linear (``order=1``) interpolation, as ``scipy.ndimage.map_coordinates``;
    integer inputs are rounded."""
    shape = _shape(inputs)
    coords = np.asarray(unwrap(coordinates))
    if coords.ndim < 2:
        raise ValueError(
            "Invalid coordinates rank: expected at least rank 2. Received input with shape: "
            f"{coords.shape}"
        )
    if coords.shape[0] != len(shape):
        raise ValueError(
            "First dim of `coordinates` must be the same as the rank of `inputs`. Received "
            f"inputs with shape: {shape} and coordinate leading dim of {coords.shape[0]}"
        )
    if fill_mode not in MAP_COORDINATES_FILL_MODES:
        raise ValueError(
            "Invalid value for argument `fill_mode`. Expected one of "
            f"{set(MAP_COORDINATES_FILL_MODES)}. Received: fill_mode={fill_mode}"
        )
    if order not in (0, 1):
        raise NotImplementedError("map_coordinates currently requires order<=1")
    original = dtype(inputs)
    compute = coords.dtype.name if dtypes.is_float(coords.dtype) else original
    if not dtypes.is_float(compute):
        compute = backend.floatx()
    flat = reshape(cast(inputs, compute) if dtype(inputs) != compute else inputs, (-1,))
    strides = np.cumprod((1,) + shape[:0:-1])[::-1]
    per_axis = []
    for c, size in zip(coords, shape):
        if order == 0:
            nodes = [((np.round(c) if c.dtype.kind == "f" else c).astype(np.int64), 1.0)]
        else:
            lower = np.floor(c)
            upper_weight = (c - lower).astype(compute)
            nodes = [
                (lower.astype(np.int64), 1 - upper_weight),
                (lower.astype(np.int64) + 1, upper_weight),
            ]
        per_axis.append([(*_fix_index(i, size, fill_mode), w) for i, w in nodes])
    result = None
    fill = np.asarray(fill_value, dtype=compute)
    for combo in itertools.product(*per_axis):
        index = np.sum([i * s for (i, _, _), s in zip(combo, strides)], axis=0)
        valid = np.logical_and.reduce([v for _, v, _ in combo])
        weight = np.prod(np.stack([np.broadcast_to(w, index.shape) for _, _, w in combo]), axis=0)
        gathered = take(flat, index)
        if fill_mode == "constant":
            gathered = where(valid, gathered, fill)
        term = multiply(gathered, weight.astype(compute))
        result = term if result is None else add(result, term)
    if not dtypes.is_float(original):
        result = round(result)
    return cast(result, original) if dtype(result) != original else result


# --------------------------------------------------------------------------- filters


def _gaussian_1d(size, sigma, dt):
    x = np.arange(size, dtype=dt) - (size - 1) / 2
    k = np.exp(-0.5 * (x / np.asarray(sigma, dt)) ** 2)
    return (k / k.sum()).astype(dt)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Gaussian blur with a ``kernel_size`` (height, width) kernel of standard deviations
    ``sigma`` (the first applies across columns, as Keras), zero-padded to keep the size."""
    from numpykeras.ops.nn import depthwise_conv

    data_format = _data_format(data_format)
    x, undo = _to_batch_last(images, data_format)
    dt = dtype(x)
    ky = _gaussian_1d(int(kernel_size[1]), float(sigma[1]), dt)
    kx = _gaussian_1d(int(kernel_size[0]), float(sigma[0]), dt)
    kernel = np.outer(ky, kx)  # (size[1], size[0]) as Keras's tensordot(y, x)
    channels = _shape(x)[-1]
    kernel = np.tile(kernel.reshape(kernel_size[0], kernel_size[1], 1, 1), (1, 1, channels, 1))
    return undo(depthwise_conv(x, kernel.astype(dt), 1, "same"))


def _reflect_pad(x, axis, amount):
    """``x`` padded by ``amount`` mirrored cells (edge excluded) on both sides of ``axis``
    (a gather, so differentiable)."""
    n = _shape(x)[axis]
    index = np.abs(np.arange(-amount, n + amount))
    index = np.where(index >= n, 2 * (n - 1) - index, index)
    return take(x, index, axis=axis)


def sobel_edges(images, data_format=None):
    """Sobel gradients ``(dy, dx)`` of each channel, reflect-padded: ``(..., channels, 2)``
    (``tf.image.sobel_edges``)."""
    from numpykeras.ops.nn import depthwise_conv

    data_format = _data_format(data_format)
    x = _float_arg(images)
    if data_format == "channels_first":
        x = moveaxis(x, 1, -1)
    dt = dtype(x)
    channels = _shape(x)[-1]
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dt)
    kernels = np.stack([ky, ky.T], axis=-1)  # (3, 3, 2)
    kernel = np.tile(kernels[:, :, None, :], (1, 1, channels, 1))  # (3, 3, C, 2)
    padded = _reflect_pad(_reflect_pad(x, 1, 1), 2, 1)
    edges = depthwise_conv(padded, kernel, 1, "valid")  # (N, H, W, C * 2)
    n, h, w = _shape(edges)[:3]
    edges = reshape(edges, (n, h, w, channels, 2))
    if data_format == "channels_first":
        edges = moveaxis(edges, 3, 1)
    return edges


def ssim(
    image1,
    image2,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    data_format=None,
):
    """Structural similarity of two images (or batches), averaged over the valid windows of a
    ``filter_size`` Gaussian and over channels."""
    from numpykeras.ops.nn import conv

    data_format = _data_format(data_format)
    _check_rank(image1, "image1")
    _check_rank(image2, "image2")
    original = dtype(image1)
    compute = dtypes.result_type(original, float)
    a, b = cast(image1, compute), cast(image2, compute)
    unbatched = len(_shape(a)) == 3
    if unbatched:
        a, b = expand_dims(a, 0), expand_dims(b, 0)
    if data_format == "channels_first":
        a, b = moveaxis(a, 1, -1), moveaxis(b, 1, -1)
    n, h, w, c = _shape(a)
    g = _gaussian_1d(filter_size, filter_sigma, compute)
    kernel = np.outer(g, g).reshape(filter_size, filter_size, 1, 1).astype(compute)

    def per_channel(t):
        return reshape(moveaxis(t, -1, 1), (n * c, h, w, 1))

    def blur(t):
        return conv(t, kernel, 1, "valid")

    a, b = per_channel(a), per_channel(b)
    mu1, mu2 = blur(a), blur(b)
    mu1_sq, mu2_sq, mu12 = multiply(mu1, mu1), multiply(mu2, mu2), multiply(mu1, mu2)
    s1 = subtract(blur(multiply(a, a)), mu1_sq)
    s2 = subtract(blur(multiply(b, b)), mu2_sq)
    s12 = subtract(blur(multiply(a, b)), mu12)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    numerator = multiply(add(multiply(mu12, 2.0), c1), add(multiply(s12, 2.0), c2))
    denominator = multiply(add(add(mu1_sq, mu2_sq), c1), add(add(s1, s2), c2))
    value = mean(divide(numerator, denominator), axis=(1, 2, 3))
    value = mean(reshape(value, (n, c)), axis=-1)
    if unbatched:
        value = squeeze(value, 0)
    return cast(value, original) if original != compute else value


def elastic_transform(
    images,
    alpha=20.0,
    sigma=5.0,
    interpolation="bilinear",
    fill_mode="reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
):
    """Random elastic deformation: displacement fields drawn from a standard normal (seeded
    by ``seed``, numpykeras's generator, so the draws differ from TensorFlow's), scaled by
    ``sigma``, Gaussian-blurred (``6 sigma | 1`` kernel) and scaled by ``alpha``, then
    sampled with :func:`map_coordinates`."""
    from numpykeras import random

    data_format = _data_format(data_format)
    if interpolation not in AFFINE_TRANSFORM_INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected of one "
            f"{AFFINE_TRANSFORM_INTERPOLATIONS}. Received: interpolation={interpolation}"
        )
    if fill_mode not in AFFINE_TRANSFORM_FILL_MODES:
        raise ValueError(
            "Invalid value for argument `fill_mode`. Expected of one "
            f"{AFFINE_TRANSFORM_FILL_MODES}. Received: fill_mode={fill_mode}"
        )
    original = dtype(images)
    x, undo = _to_batch_last(images, data_format)
    x = _floating(x)
    dt = dtype(x)
    n, height, width, channels = _shape(x)
    k = int(sigma) * 6 | 1
    gen = random.SeedGenerator(seed) if not isinstance(seed, random.SeedGenerator) else seed
    fields = []
    for _ in range(2):
        noise = np.asarray(random.normal((n, height, width, 1), seed=gen), dtype=dt) * sigma
        blurred = gaussian_blur(noise, (k, k), (sigma, sigma))
        fields.append(np.asarray(unwrap(blurred))[..., 0] * alpha)
    rows, cols = np.meshgrid(np.arange(height, dtype=dt), np.arange(width, dtype=dt), indexing="ij")
    order = AFFINE_TRANSFORM_INTERPOLATIONS.index(interpolation)
    out = []
    for i in range(n):
        coords = np.stack([rows + fields[1][i], cols + fields[0][i]])
        per_channel = [
            map_coordinates(get_item(x, (i, Ellipsis, ch)), coords, order, fill_mode, fill_value)
            for ch in range(channels)
        ]
        out.append(stack(per_channel, axis=-1))
    return undo(_restore_dtype(stack(out, axis=0), original))


# --------------------------------------------------------------------------- patches, pad, crop


def _extract(images, size, strides, dilation_rate, padding, data_format, rank):
    from numpykeras.ops.nn import conv

    data_format = _data_format(data_format)
    size = (size,) * rank if isinstance(size, int) else tuple(size)
    strides = size if not strides else strides
    channels = _shape(images)[-1] if data_format == "channels_last" else _shape(images)[-rank - 1]
    out_dim = int(np.prod(size)) * channels
    dt = dtype(images)
    kernel = np.eye(out_dim, dtype=dt if dtypes.is_float(dt) else backend.floatx())
    kernel = kernel.reshape(size + (channels, out_dim))
    unbatched = len(_shape(images)) == rank + 1
    x = expand_dims(images, 0) if unbatched else images
    patches = conv(x, kernel, strides, padding, data_format, dilation_rate)
    patches = squeeze(patches, 0) if unbatched else patches
    return patches if dtypes.is_float(dt) else cast(patches, dt)


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of ``size`` (height, width), flattened into the channel axis; a 3-tuple
    ``size`` extracts 3-D patches from volumes."""
    if not isinstance(size, int):
        if not isinstance(size, (tuple, list)):
            raise TypeError(
                "Invalid `size` argument. Expected an int or a tuple. "
                f"Received: size={size} of type {type(size).__name__}"
            )
        if len(size) not in (2, 3):
            raise ValueError(
                "Invalid `size` argument. Expected a tuple of length 2 or 3. "
                f"Received: size={size} with length {len(size)}"
            )
    rank = 3 if not isinstance(size, int) and len(size) == 3 else 2
    return _extract(images, size, strides, dilation_rate, padding, data_format, rank)


def extract_patches_3d(
    volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None
):
    """3-D patches of ``size`` (depth, height, width), flattened into the channel axis."""
    return _extract(volumes, size, strides, dilation_rate, padding, data_format, 3)


def _exactly_two(a, b, c, names):
    if [a, b, c].count(None) != 1:
        raise ValueError(
            f"Must specify exactly two of {', '.join(names)}. Received: "
            + ", ".join(f"{n}={v}" for n, v in zip(names, (a, b, c)))
        )
    for n, v in zip(names, (a, b, c)):
        if v is not None and v < 0:
            raise ValueError(f"{n} must be >= 0. Received: {n}={v}")


def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Zero-pads images (two of top/bottom padding and target height, and two of left/right
    padding and target width)."""
    data_format = _data_format(data_format)
    rank = _check_rank(images)
    _exactly_two(
        top_padding,
        bottom_padding,
        target_height,
        ("top_padding", "bottom_padding", "target_height"),
    )
    _exactly_two(
        left_padding, right_padding, target_width, ("left_padding", "right_padding", "target_width")
    )
    shape = _shape(images)
    height, width = (shape[-3], shape[-2]) if data_format == "channels_last" else shape[-2:]
    top = target_height - bottom_padding - height if top_padding is None else top_padding
    bottom = target_height - top - height if bottom_padding is None else bottom_padding
    left = target_width - right_padding - width if left_padding is None else left_padding
    right = target_width - left - width if right_padding is None else right_padding
    for name, v in (("top", top), ("bottom", bottom), ("left", left), ("right", right)):
        if v < 0:
            raise ValueError(f"{name}_padding must be >= 0. Received: {name}_padding={v}")
    widths = [(top, bottom), (left, right)]
    widths = widths + [(0, 0)] if data_format == "channels_last" else [(0, 0)] + widths
    if rank == 4:
        widths = [(0, 0)] + widths
    return pad(images, tuple(widths))


def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Crops images (two of top/bottom cropping and target height, and two of left/right
    cropping and target width)."""
    data_format = _data_format(data_format)
    rank = _check_rank(images)
    _exactly_two(
        top_cropping,
        bottom_cropping,
        target_height,
        ("top_cropping", "bottom_cropping", "target_height"),
    )
    _exactly_two(
        left_cropping,
        right_cropping,
        target_width,
        ("left_cropping", "right_cropping", "target_width"),
    )
    shape = _shape(images)
    height, width = (shape[-3], shape[-2]) if data_format == "channels_last" else shape[-2:]
    top = height - target_height - bottom_cropping if top_cropping is None else top_cropping
    th = height - bottom_cropping - top if target_height is None else target_height
    left = width - target_width - right_cropping if left_cropping is None else left_cropping
    tw = width - right_cropping - left if target_width is None else target_width
    for name, v in (
        ("top_cropping", top),
        ("target_height", th),
        ("left_cropping", left),
        ("target_width", tw),
    ):
        if v < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={v}")
    key = [slice(top, top + th), slice(left, left + tw)]
    key = key + [slice(None)] if data_format == "channels_last" else [slice(None)] + key
    if rank == 4:
        key = [slice(None)] + key
    return get_item(images, tuple(key))
