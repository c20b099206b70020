"""Output-size and padding arithmetic shared by the convolution and pooling kernels.

All functions work on one spatial axis at a time. The conventions are TensorFlow's (and so Keras's):

- ``"valid"``: no padding, windows that would run past the end are dropped.
- ``"same"``: enough zero padding that the output has ``ceil(H / S)`` positions; when the total
  padding is odd the extra pixel goes at the end (bottom / right).
"""

from __future__ import annotations

import numpy as np

_PADDINGS = ("valid", "same", "causal", "full")


def normalize_tuple(value, n, name, allow_zero=False):
    """Turn an int or an iterable of ints into a tuple of ``n`` ints, as Keras does.

    Args:
        value: an int (repeated ``n`` times) or a sequence of ``n`` ints.
        n: the length of the tuple wanted.
        name: the argument's name, for error messages (e.g. ``"strides"``).
        allow_zero: whether 0 is allowed (otherwise every value must be >= 1).

    Returns:
        A tuple of ``n`` Python ints.

    Raises:
        ValueError: if ``value`` has the wrong length, holds non-integers or values out of range.
    """
    if _is_integer_scalar(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value}"
            ) from None
        if len(values) != n or not all(_is_integer_scalar(v) for v in values):
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value}"
            )
        values = tuple(int(v) for v in values)
    lowest = 0 if allow_zero else 1
    if any(v < lowest for v in values):
        req = "`>= 0`" if allow_zero else "`> 0`"
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value} "
            f"including values that do not satisfy {req}."
        )
    return values


def _is_integer_scalar(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    # NumPy integer scalars (np.int64 etc.)
    return hasattr(v, "dtype") and getattr(v, "ndim", 1) == 0 and v.dtype.kind in "iu"


def normalize_padding(padding, allowed=("valid", "same")) -> str:
    """Lower-case ``padding`` and check it is one of ``allowed``.

    Raises:
        ValueError: for anything else (including non-strings).
    """
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(
            f"The `padding` argument must be one of {set(allowed)}. Received: padding={padding}"
        )
    return value


def conv_output_length(input_length, filter_size, padding, stride, dilation=1):
    """Number of output positions of a convolution or pooling along one axis.

    With input length ``H``, filter size ``F``, stride ``S`` and dilation ``D`` (the dilated filter
    covers ``F_eff = D * (F - 1) + 1`` inputs):

    - ``"valid"``: ``floor((H - D * (F - 1) - 1) / S) + 1``
    - ``"same"`` and ``"causal"``: ``ceil(H / S)``
    - ``"full"``: ``floor((H + D * (F - 1) - 1) / S) + 1``

    These are the textbook formula ``floor((H + 2P - F) / S) + 1`` for an explicit symmetric
    padding of ``P`` pixels per side, written with ``F_eff`` for ``F``: ``"valid"`` is ``P = 0`` and
    ``"full"`` is ``P = F_eff - 1``. ``"same"`` picks the (possibly asymmetric) total padding ``2P``
    that makes the result ``ceil(H / S)``; see :func:`same_padding`.

    Args:
        input_length: ``H``, an int, or ``None`` for an unknown size.
        filter_size: ``F``, the (undilated) window size.
        padding: ``"valid"``, ``"same"``, ``"causal"`` or ``"full"`` (any case).
        stride: ``S``.
        dilation: ``D``.

    Returns:
        The output length (an int, which is ``<= 0`` when the window does not fit in a ``"valid"``
        input), or ``None`` when ``input_length`` is ``None``.
    """
    if input_length is None:
        return None
    padding = normalize_padding(padding, _PADDINGS)
    dilated = dilation * (filter_size - 1) + 1  # F_eff
    if padding == "valid":
        return (input_length - dilated) // stride + 1
    if padding == "full":
        return (input_length + dilated - 2) // stride + 1
    return -(-input_length // stride)  # ceil(H / S) for "same" and "causal"


def same_padding(input_length, filter_size, stride, dilation=1):
    """Zero padding ``(before, after)`` that TensorFlow adds for ``padding="same"`` along one axis.

    ``total = max((out - 1) * S + D * (F - 1) + 1 - H, 0)`` with ``out = ceil(H / S)``;
    ``before = total // 2`` and ``after = total - before``, so an odd extra pixel goes at the end.
    """
    out = -(-input_length // stride)
    total = max((out - 1) * stride + dilation * (filter_size - 1) + 1 - input_length, 0)
    before = total // 2
    return before, total - before


def padding_amounts(input_length, filter_size, padding, stride, dilation=1):
    """``(before, after)`` padding along one axis for ``"valid"`` (none) or ``"same"``."""
    if normalize_padding(padding) == "valid":
        return 0, 0
    return same_padding(input_length, filter_size, stride, dilation)


def offset_slices(offset, input_length, output_length, stride, pad_before):
    """Which outputs a window offset touches, and which inputs it reads, without padding the input.

    Output position ``o`` reads input ``r = o * stride + offset - pad_before`` at window offset
    ``offset`` (already multiplied by the dilation). Positions whose ``r`` falls in the padding are
    skipped, so a kernel can loop over window offsets and work on real pixels only.

    Returns:
        ``(out_slice, in_slice)``: ``x[in_slice]`` lines up with ``y[out_slice]``; both are empty
        (``None, None``) when the offset only ever sees padding.
    """
    start = offset - pad_before  # input index read by output 0
    o_lo = max(0, -(start // stride))  # ceil(-start / stride)
    o_hi = min(output_length, (input_length - 1 - start) // stride + 1)
    if o_hi <= o_lo:
        return None, None
    r_lo = o_lo * stride + start
    r_hi = (o_hi - 1) * stride + start + 1
    return slice(o_lo, o_hi), slice(r_lo, r_hi, stride)


def padded_shape(shape, pad_width) -> tuple:
    """``shape`` after adding ``pad_width`` (``((before, after), ...)``, one pair per axis)."""
    return tuple(d + int(a) + int(b) for d, (a, b) in zip(shape, pad_width))


def pad_zeros(x: np.ndarray, pad_width) -> np.ndarray:
    """``np.pad(x, pad_width)`` with zeros, in one copy of ``x`` plus the zero borders.

    ``np.pad`` is general (any mode) and several times slower on large images; this writes the
    borders and copies the interior once.

    Args:
        x: any array.
        pad_width: ``((before, after), ...)``, one pair per axis of ``x``.
    """
    pad_width = tuple((int(a), int(b)) for a, b in pad_width)
    shape = padded_shape(x.shape, pad_width)
    out = np.empty(shape, dtype=x.dtype)
    inner = []
    for axis, (a, b) in enumerate(pad_width):
        before = (slice(None),) * axis
        if a:
            out[before + (slice(0, a),)] = 0
        if b:
            out[before + (slice(shape[axis] - b, shape[axis]),)] = 0
        inner.append(slice(a, a + x.shape[axis]))
    out[tuple(inner)] = x
    return out
