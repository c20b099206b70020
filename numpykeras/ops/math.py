"""``keras.ops.math``: special functions, segment reductions, top-k, FFTs and short-time Fourier
transforms.

Complex values cross the API as ``(real, imag)`` pairs of float arrays, as in Keras. The FFTs are
primitives whose VJPs are FFTs again (the adjoint of the DFT is ``n`` times the inverse DFT), so
gradients of gradients work; the STFT and its inverse are made of framing, windowing and the
real FFTs, so they differentiate for free.
"""

from __future__ import annotations

import math

import numpy as np

from numpykeras.ops import _special, dtypes
from numpykeras.ops.autodiff import primitive, stop_gradient, unwrap
from numpykeras.ops.linalg import logdet
from numpykeras.ops.numpy import (
    _float_arg,
    _float_input,
    _is_tracked,
    _scatter_add,
    _shape,
    add,
    cast,
    divide,
    dtype,
    equal,
    erf,
    exp,
    expand_dims,
    get_item,
    log,
    logical_and,
    max,
    multiply,
    pad,
    reciprocal,
    reshape,
    sqrt,
    square,
    squeeze,
    subtract,
    sum,
    take,
    take_along_axis,
    where,
)

__all__ = [
    "cdist",
    "erf",
    "erfc",
    "erfinv",
    "extract_sequences",
    "fft",
    "fft2",
    "ifft2",
    "in_top_k",
    "irfft",
    "istft",
    "logdet",
    "logsumexp",
    "rfft",
    "rsqrt",
    "segment_max",
    "segment_min",
    "segment_prod",
    "segment_sum",
    "stft",
    "top_k",
    "view_as_complex",
    "view_as_real",
]


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, stabilised by the (constant) maximum."""
    x = _float_arg(x)
    m = stop_gradient(max(x, axis=axis, keepdims=True))
    m = np.where(np.isfinite(m), m, 0.0).astype(m.dtype)
    out = add(log(sum(exp(subtract(x, m)), axis=axis, keepdims=True)), m)
    return out if keepdims else squeeze(out, axis)


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return reciprocal(sqrt(x))


@primitive
def erfc(x):
    """The complementary error function ``1 - erf(x)`` (accurate in the tail)."""
    x = _float_input(x)
    return _special.erfc(x).astype(x.dtype)


erfc.defvjp(lambda g, ans, x: (g * (-2.0 / math.sqrt(math.pi)) * exp(-(x * x)),))


@primitive
def erfinv(x):
    """The inverse error function on ``(-1, 1)`` (``+-inf`` at ``+-1``, NaN outside)."""
    x = _float_input(x)
    return _special.erfinv(x).astype(x.dtype)


erfinv.defvjp(lambda g, ans, x: (g * (math.sqrt(math.pi) / 2.0) * exp(ans * ans),))


def top_k(x, k, sorted=True):
    """The ``k`` largest values along the last axis and their indices (int32; ties go to the
    lower index)."""
    idx = np.argsort(-np.asarray(unwrap(x)), axis=-1, kind="stable")[..., :k].astype("int32")
    return take_along_axis(x, idx, axis=-1), idx


def in_top_k(targets, predictions, k):
    """True where ``targets`` is among the ``k`` largest ``predictions`` of its row."""
    p = np.asarray(unwrap(predictions))
    t = np.asarray(unwrap(targets)).astype(np.int64)
    target_vals = np.take_along_axis(p, t[:, None], axis=-1)
    return np.sum(p > target_vals, axis=-1) < k


def cdist(x, y):
    """Euclidean distances between the rows of ``x`` (``(..., p, d)``) and of ``y``
    (``(..., r, d)``): ``(..., p, r)``."""
    if len(_shape(x)) < 2 or len(_shape(y)) < 2:
        raise ValueError("`cdist` inputs must have rank >= 2")
    if _shape(x)[-1] != _shape(y)[-1]:
        raise ValueError("Last dimension of inputs to `cdist` must match")
    diff = subtract(expand_dims(x, -2), expand_dims(y, -3))
    return sqrt(sum(square(diff), axis=-1))


# --------------------------------------------------------------------------- segments


def _segment_args(data, segment_ids, num_segments, sorted):
    ids = np.asarray(unwrap(segment_ids))
    if ids.ndim != 1:
        raise ValueError(
            "Argument `segment_ids` should be an 1-D vector, got shape: "
            f"{ids.ndim}. Consider either flatten input with segment_ids.reshape((-1)) and "
            "data.reshape((-1, ) + data.shape[len(segment_ids.shape):]) or vectorize with vmap."
        )
    if ids.shape[0] != _shape(data)[0]:
        raise ValueError(
            "Argument `segment_ids` and `data` should have same leading dimension. Got "
            f"{ids.shape} v.s. {_shape(data)}."
        )
    if sorted and num_segments is not None:
        raise ValueError(
            "Argument `num_segments` cannot be set when sorted is True. Received: "
            f"num_segments={num_segments}, sorted={sorted}."
        )
    ids = ids.astype(np.int64)
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    return ids, n


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of ``data``'s rows per segment id (ids outside ``[0, num_segments)`` dropped)."""
    ids, n = _segment_args(data, segment_ids, num_segments, sorted)
    keep = (ids >= 0) & (ids < n)
    if not keep.all():
        data, ids = take(data, np.flatnonzero(keep), axis=0), ids[keep]
    return _scatter_add(data, ids, axis=0, size=n)


@primitive
def _segment_extremum(data, ids, n, kind):
    d = np.asarray(data)
    if kind == "max":
        fill = np.finfo(d.dtype).min if d.dtype.kind == "f" else np.iinfo(d.dtype).min
        ufunc = np.maximum
    elif kind == "min":
        fill = np.finfo(d.dtype).max if d.dtype.kind == "f" else np.iinfo(d.dtype).max
        ufunc = np.minimum
    else:
        fill, ufunc = 1, np.multiply
    out = np.full((n,) + d.shape[1:], fill, dtype=d.dtype)
    keep = (ids >= 0) & (ids < n)
    ufunc.at(out, ids[keep], d[keep])
    return out


def _mask_rows(x, keep):
    """``x`` with the rows where ``keep`` is False zeroed."""
    if keep.all():
        return x
    return where(np.reshape(keep, (-1,) + (1,) * (len(_shape(x)) - 1)), x, 0)


def _segment_extremum_vjp(g, ans, data, ids, n, kind):
    keep = (ids >= 0) & (ids < n)  # ids out of range get no gradient
    safe = np.where(keep, ids, 0)
    gathered = take(ans, safe, axis=0)
    if kind == "prod":  # TensorFlow's: a segment with one zero passes the others' product
        is_zero = np.asarray(unwrap(data)) == 0
        zeros = np.zeros((n,) + is_zero.shape[1:], np.int64)
        np.add.at(zeros, ids[keep], is_zero[keep])
        g = where(zeros > 1, 0.0, g)
        nonzero_prod = _segment_extremum(where(is_zero, 1.0, data), ids, n=n, kind="prod")
        partial = where(
            is_zero, take(nonzero_prod, safe, axis=0), divide(gathered, where(is_zero, 1.0, data))
        )
        return (multiply(_mask_rows(take(g, safe, axis=0), keep), partial), None)
    chosen = logical_and(equal(data, gathered), _mask_rows(np.ones(_shape(data), bool), keep))
    counts = segment_sum(cast(chosen, dtype(g)), ids, num_segments=n)
    share = take(divide(g, where(equal(counts, 0), 1.0, counts)), safe, axis=0)
    return (where(chosen, share, 0.0), None)


_segment_extremum.defvjp(_segment_extremum_vjp)


def _segment_reduce(data, segment_ids, num_segments, sorted, kind):
    ids, n = _segment_args(data, segment_ids, num_segments, sorted)
    if kind == "prod" and not _is_tracked(data):
        data = np.asarray(unwrap(data))
    out = _segment_extremum(data, ids, n=n, kind=kind)
    if sorted and kind in ("max", "min"):  # TensorFlow's sorted segments give 0 when empty
        present = np.zeros(n, bool)
        present[ids[(ids >= 0) & (ids < n)]] = True
        out = _mask_rows(out, present)
    return out


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of ``data``'s rows per segment id (the lowest value of the dtype for empty
    segments, 0 when ``sorted``); ties share the gradient."""
    return _segment_reduce(data, segment_ids, num_segments, sorted, "max")


def segment_min(data, segment_ids, num_segments=None, sorted=False):
    """Minima of ``data``'s rows per segment id (the largest value of the dtype for empty
    segments, 0 when ``sorted``); ties share the gradient."""
    return _segment_reduce(data, segment_ids, num_segments, sorted, "min")


def segment_prod(data, segment_ids, num_segments=None, sorted=False):
    """Products of ``data``'s rows per segment id (1 for empty segments)."""
    return _segment_reduce(data, segment_ids, num_segments, sorted, "prod")


# --------------------------------------------------------------------------- complex helpers


def view_as_complex(x):
    """A complex64 array from the last axis (of size 2: real, imaginary) of ``x``."""
    xv = np.asarray(unwrap(x))
    if xv.ndim < 1 or xv.shape[-1] != 2:
        raise ValueError(
            "Last dimension of input must be size 2 (real and imaginary). "
            f"Received shape: {xv.shape}"
        )
    return (xv[..., 0] + 1j * xv[..., 1]).astype("complex64")


def view_as_real(x):
    """The real and imaginary parts of complex ``x`` stacked along a new last axis."""
    xv = np.asarray(unwrap(x))
    return np.stack([np.real(xv), np.imag(xv)], axis=-1)


def _complex_pair(x, name):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"Input `x` should be a tuple of two tensors - real and imaginary. Received: x={x}"
        )
    real, imag = x
    if _shape(real) != _shape(imag):
        raise ValueError(
            "Input `x` should be a tuple of two tensors - real and imaginary. Both the real and "
            "imaginary parts should have the same shape. Received: "
            f"x[0].shape = {_shape(real)}, x[1].shape = {_shape(imag)}"
        )
    for part in (real, imag):
        if not dtypes.is_float(dtype(part)):
            raise ValueError(
                f"At least one tensor in input `x` of `{name}` is not of type float. "
                f"Received: x={x}."
            )
    return real, imag


def _split(packed):
    """``(real, imag)`` from an array packed as ``stack([real, imag])``."""
    return get_item(packed, 0), get_item(packed, 1)


@primitive
def _dft(re, im, axes, inverse):
    """The (inverse, unnormalised) DFT over ``axes`` of ``re + i im``, packed as
    ``stack([real, imag])``."""
    re, im = np.asarray(re), np.asarray(im)
    z = re + 1j * im.astype(re.dtype)
    if inverse:
        n = int(np.prod([z.shape[a] for a in axes]))
        out = np.fft.ifftn(z, axes=axes) * n
    else:
        out = np.fft.fftn(z, axes=axes)
    return np.stack([out.real, out.imag]).astype(re.dtype)


def _dft_vjp(g, ans, re, im, axes, inverse):
    # the adjoint of the unnormalised DFT is the unnormalised inverse DFT, and vice versa
    gr, gi = _split(g)
    return _split(_dft(gr, gi, axes=axes, inverse=not inverse))


_dft.defvjp(_dft_vjp)


def fft(x):
    """The FFT along the last axis of ``x = (real, imag)``; returns ``(real, imag)``."""
    re, im = _complex_pair(x, "fft")
    return _split(_dft(re, im, axes=(-1,), inverse=False))


def fft2(x):
    """The 2-D FFT over the last two axes of ``x = (real, imag)``; returns ``(real, imag)``."""
    re, im = _complex_pair(x, "fft2")
    return _split(_dft(re, im, axes=(-2, -1), inverse=False))


def ifft2(x):
    """The 2-D inverse FFT over the last two axes of ``x = (real, imag)``."""
    re, im = _complex_pair(x, "ifft2")
    h, w = _shape(re)[-2:]
    out_re, out_im = _split(_dft(re, im, axes=(-2, -1), inverse=True))
    return divide(out_re, h * w), divide(out_im, h * w)


def _fit_last(x, n):
    """``x`` cut or zero-padded along its last axis to length ``n``."""
    length = _shape(x)[-1]
    if length > n:
        return get_item(x, (Ellipsis, slice(0, n)))
    if length < n:
        return pad(x, ((0, 0),) * (len(_shape(x)) - 1) + ((0, n - length),))
    return x


@primitive
def _rfft(x, n):
    x = np.asarray(x)
    out = np.fft.rfft(x, n=n, axis=-1)
    return np.stack([out.real, out.imag]).astype(x.dtype)


def _rfft_vjp(g, ans, x, n):
    gr, gi = _split(g)
    # adjoint of the first n//2+1 rows of the DFT: the full-length inverse DFT of the
    # cotangent padded with zeros, real part
    full_r = _fit_last(gr, n)
    full_i = _fit_last(gi, n)
    back, _ = _split(_dft(full_r, full_i, axes=(-1,), inverse=True))
    return (_fit_last(back, _shape(x)[-1]),)


_rfft.defvjp(_rfft_vjp)


@primitive
def _irfft(re, im, n):
    re, im = np.asarray(re), np.asarray(im)
    return np.fft.irfft(re + 1j * im.astype(re.dtype), n=n, axis=-1).astype(re.dtype)


def _irfft_vjp(g, ans, re, im, n):
    # y = irfft(z): dL/dz = c_k / n * rfft(g), c_k = 1 at 0 and at n/2 (n even), else 2
    half = n // 2 + 1
    weights = np.full(half, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    weights = (weights / n).astype(dtype(g))
    gr, gi = _split(_rfft(g, n=n))
    m = _shape(re)[-1]
    return _fit_last(multiply(gr, weights), m), _fit_last(multiply(gi, weights), m)


_irfft.defvjp(_irfft_vjp)


def rfft(x, fft_length=None):
    """The FFT of the real ``x`` along its last axis (``fft_length // 2 + 1`` frequencies);
    returns ``(real, imag)``."""
    x = _float_arg(x)
    n = _shape(x)[-1] if fft_length is None else int(fft_length)
    return _split(_rfft(x, n=n))


def irfft(x, fft_length=None):
    """The inverse of :func:`rfft`: a real signal of length ``fft_length`` (default
    ``2 * (m - 1)``) from ``x = (real, imag)`` of ``m`` frequencies."""
    re, im = _complex_pair(x, "irfft")
    n = 2 * (_shape(re)[-1] - 1) if fft_length is None else int(fft_length)
    return _irfft(re, im, n=n)


# --------------------------------------------------------------------------- framing and STFT


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` every ``sequence_stride`` along the last axis:
    ``(..., num_frames, sequence_length)``."""
    n = _shape(x)[-1]
    frames = 1 + (n - sequence_length) // sequence_stride if n >= sequence_length else 0
    index = (
        np.arange(frames)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    ).astype(np.int64)
    return take(x, index, axis=len(_shape(x)) - 1)


def _periodic_window(window, sequence_length, dtype_):
    if window is None:
        return None
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(
                'If a string is passed to `window`, it must be one of `"hann"`, `"hamming"`. '
                f"Received: window={window}"
            )
        a = 0.5 if window == "hann" else 0.54
        k = np.arange(sequence_length)
        win = a - (1.0 - a) * np.cos(2.0 * np.pi * k / sequence_length)
        return win.astype(dtype_)
    win = np.asarray(unwrap(window), dtype=dtype_)
    if win.ndim != 1 or win.shape[-1] != sequence_length:
        raise ValueError(
            f"The shape of `window` must be equal to [sequence_length].Received: window "
            f"shape={win.shape}"
        )
    return win


def _padded_window(window, sequence_length, fft_length, dtype_):
    win = _periodic_window(window, sequence_length, dtype_)
    if win is None:
        return None
    l_pad = (fft_length - sequence_length) // 2
    return np.pad(win, (l_pad, fft_length - sequence_length - l_pad))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform along the last axis: ``(real, imag)`` of shape
    ``(..., frames, fft_length // 2 + 1)``, as ``tf.signal.stft`` with a periodic window
    zero-padded to ``fft_length``, after reflect-padding by ``fft_length // 2`` when
    ``center``."""
    name = dtype(x)
    if name not in ("float32", "float64"):
        raise TypeError(
            f"Invalid input type. Expected `float32` or `float64`. Received: input type={name}"
        )
    if fft_length < sequence_length:
        raise ValueError(
            "`fft_length` must equal or larger than `sequence_length`. Received: "
            f"sequence_length={sequence_length}, fft_length={fft_length}"
        )
    win = _padded_window(window, sequence_length, fft_length, name)
    if center:
        half = fft_length // 2
        x = pad(x, ((0, 0),) * (len(_shape(x)) - 1) + ((half, half),), mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride)
    if win is not None:
        frames = multiply(frames, win)
    return _split(_rfft(frames, n=fft_length))


def istft(
    x,
    sequence_length,
    sequence_stride,
    fft_length,
    length=None,
    window="hann",
    center=True,
):
    """The inverse of :func:`stft` (``tf.signal.inverse_stft`` with its window normalisation):
    overlap-added inverse real FFTs of the frames of ``x = (real, imag)``."""
    re, im = _complex_pair(x, "istft")
    name = dtype(re)
    frames_count = _shape(re)[-2]
    frames = _irfft(re, im, n=fft_length)  # (..., frames, fft_length)
    win = _padded_window(window, sequence_length, fft_length, name)
    if win is not None:
        # divide by the sum of the squared windows overlapping each position of a frame
        overlaps = -(-fft_length // sequence_stride)
        denom = np.pad(win.astype(np.float64) ** 2, (0, overlaps * sequence_stride - fft_length))
        denom = np.tile(denom.reshape(overlaps, sequence_stride).sum(0), overlaps)[:fft_length]
        frames = multiply(frames, (win / denom).astype(name))
    total = fft_length + sequence_stride * (frames_count - 1)
    index = (
        np.arange(frames_count)[:, None] * sequence_stride + np.arange(fft_length)[None, :]
    ).astype(np.int64)
    axis = len(_shape(frames)) - 2
    batch = _shape(frames)[:axis]
    flat = reshape(frames, batch + (frames_count * fft_length,))
    signal = _scatter_add(flat, index.reshape(-1), axis=axis, size=total)
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = total - fft_length // 2
    else:
        end = total
    return get_item(signal, (Ellipsis, slice(start, end)))
