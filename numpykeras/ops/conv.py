"""2-D convolution kernels (NHWC data, HWIO kernels) and their gradients, in NumPy.

Semantics are TensorFlow's ``tf.nn.conv2d`` / ``tf.nn.depthwise_conv2d``: cross-correlation (the
kernel is not flipped), no bias, ``"same"`` padding with the odd extra pixel at the bottom / right.

How the regular convolution is computed (im2col):

- the input windows are gathered by a strided view (``as_strided``, no Python loop over pixels)
  into a column matrix ``cols`` of shape ``(N * Ho * Wo, kh * kw * Cin)``, one row per output pixel,
  in the same (kh, kw, Cin) order as the HWIO kernel, so
  ``y = cols @ kernel.reshape(kh * kw * Cin, Cout)`` is ONE BLAS matmul;
- the output is computed in blocks (several samples, or a band of output rows of one large
  image) whose column matrix is about 2 MiB per kernel thread, so it stays in cache and memory
  stays bounded; when a layer has more filters than output pixels (the deep, small maps of a
  large network) the threads instead share one column matrix and split the filters;
- right after each block's matmul, while the block is in cache, an epilogue applies
  ``activation(z * scale + bias + residual)`` (``conv2d(..., bias=, scale=, residual=,
  activation=)``): a layer's bias and ReLU, and at inference a following BatchNormalization,
  residual ``Add`` and ReLU/ReLU6 (``models/_fusion.py``) without another pass over memory;
- in the backward pass the batch is processed in chunks; the kernel gradient is ``cols.T @ dy``
  (one matmul per chunk; a column of ones appended to ``cols`` makes its last row the bias
  gradient) and the input gradient is ``dy @ kernel[i, j].T`` per kernel offset, each
  added back into the input by one strided add (col2im); :func:`conv2d_backward_fused` also takes
  the ReLU's gradient chunk by chunk from the saved output;
- with few input channels (an RGB input layer) the column matrix is built channel-major instead,
  ``(kh * kw * Cin, N * Ho * Wo)``, so the copies run over whole output rows;
- a 1x1 convolution is a plain matmul on the (strided) input;
- at inference, a convolution followed by max pooling can run as one kernel
  (:func:`conv2d_max_pool2d`): with tiling pooling windows the column matrix's rows are grouped
  by window offset (:class:`_Im2ColPooled`), so pooling is a maximum of a few contiguous blocks
  of each chunk's matmul output while it is in cache, and the full-size map is never stored;
- chunks are split between the kernel threads (``ops/_parallel.py``: Python threads, each with a
  one-thread BLAS), and their temporaries are per-thread scratch buffers reused from call to
  call (``ops/_scratch.py``).

Depthwise convolution does ``kh * kw`` vectorised multiply-adds over shifted views instead: each
output channel only sees one input channel, so there is no matmul to gain.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from numpykeras import backend
from numpykeras.ops._parallel import _SPLIT_MIN_MACS, kernel_threads, map_chunks, matmul
from numpykeras.ops._scratch import scratch
from numpykeras.ops.padding import (
    conv_output_length,
    normalize_padding,
    normalize_tuple,
    offset_slices,
    pad_zeros,
    padding_amounts,
)

# Target size of one chunk's column matrix (bytes); the batch is split so each chunk stays near it.
_CHUNK_BYTES = 4 * 1024 * 1024
# Depthwise convolutions with at least this many channels use one einsum per block.
_DEPTHWISE_EINSUM_MIN_CHANNELS = 64
# Forward blocks (see _forward_units) hold up to this many bytes of column matrix, split between
# the kernel threads: larger than the backward chunks, as a block's matmul gets more efficient
# with more rows and the forward pass keeps nothing else in cache (measured on ResNet50).
_FORWARD_CHUNK_BYTES = 8 * 1024 * 1024
# Smaller work (bytes of column matrix, or of padded input for depthwise) stays in one thread.
_SPLIT_MIN_BYTES = 256 * 1024
# Below this many input channels the column matrix is channel-major (see _Im2ColChannelsFirst).
_CHANNELS_FIRST_MAX_CIN = 8
# Activations that conv2d can apply in place, block by block.
_FUSED_ACTIVATIONS = (None, "relu", "relu6")


class _Geometry(NamedTuple):
    n: int
    h: int
    w: int
    cin: int
    kh: int
    kw: int
    cout: int
    groups: int
    sh: int
    sw: int
    dh: int
    dw: int
    ho: int
    wo: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int

    @property
    def cin_per_group(self) -> int:
        return self.cin // self.groups

    @property
    def cout_per_group(self) -> int:
        return self.cout // self.groups

    @property
    def padded(self) -> bool:
        return any((self.pad_top, self.pad_bottom, self.pad_left, self.pad_right))


def _as_float_array(x, name, dtype=None) -> np.ndarray:
    """``x`` as a float ndarray (floatx for non-float input, or ``dtype`` when given)."""
    if isinstance(x, backend.Variable):
        x = x.value
    x = np.asarray(x)
    if dtype is not None:
        return np.ascontiguousarray(x, dtype=dtype)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    return np.ascontiguousarray(x)


def _geometry(x, kernel, strides, padding, dilation_rate, groups, op_name, depthwise=False):
    """Check the arguments of a 2-D convolution and work out every size it needs."""
    if x.ndim != 4:
        raise ValueError(
            f"`{op_name}` expects `inputs` of rank 4 (batch, height, width, channels). "
            f"Received: inputs.shape={x.shape}"
        )
    if kernel.ndim != 4:
        raise ValueError(
            f"`{op_name}` expects a kernel of rank 4 (kernel_height, kernel_width, in_channels, "
            f"{'depth_multiplier' if depthwise else 'out_channels'}). "
            f"Received: kernel.shape={kernel.shape}"
        )
    strides = normalize_tuple(strides, 2, "strides")
    dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
    padding = normalize_padding(padding)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"The `groups` argument must be a positive integer. Received: {groups}")
    groups = int(groups)
    n, h, w, cin = x.shape
    kh, kw, kin, kout = kernel.shape
    if depthwise:
        if kin != cin:
            raise ValueError(
                f"The kernel's input channels must match the input's channels in `{op_name}`. "
                f"Received: inputs.shape={x.shape}, kernel.shape={kernel.shape}"
            )
        cout = cin * kout
    else:
        if cin % groups != 0 or kout % groups != 0:
            raise ValueError(
                "The number of input and output channels must both be divisible by `groups`. "
                f"Received: groups={groups}, input channels={cin}, output channels={kout}"
            )
        if kin * groups != cin:
            raise ValueError(
                f"The kernel's input channels times `groups` must equal the input's channels in "
                f"`{op_name}`. Received: inputs.shape={x.shape}, kernel.shape={kernel.shape}, "
                f"groups={groups}"
            )
        cout = kout
    sh, sw = strides
    dh, dw = dilation_rate
    ho = conv_output_length(h, kh, padding, sh, dh)
    wo = conv_output_length(w, kw, padding, sw, dw)
    if ho <= 0 or wo <= 0 or min(x.shape + kernel.shape) <= 0:
        raise ValueError(
            "Computed output size would be zero or negative. Received "
            f"`inputs shape={x.shape}`, `kernel shape={kernel.shape}`, "
            f"`strides={strides}`, `padding={padding}`, `dilation_rate={dilation_rate}`."
        )
    pt, pb = padding_amounts(h, kh, padding, sh, dh)
    pl, pr = padding_amounts(w, kw, padding, sw, dw)
    return _Geometry(n, h, w, cin, kh, kw, cout, groups, sh, sw, dh, dw, ho, wo, pt, pb, pl, pr)


def _padded_geometry(x, kernel, strides, padding, pads, dilation_rate, groups, op_name, **kw):
    """:func:`_geometry`, with ``pads = ((top, bottom), (left, right))`` zeros around ``x`` first.

    ``pads`` stands for a ``ZeroPadding2D`` layer in front of a ``"valid"`` convolution: the
    sizes are those of the padded input, and the zeros are written where the kernels gather
    their input (never as a padded copy of the whole input).
    """
    if pads is None:
        return _geometry(x, kernel, strides, padding, dilation_rate, groups, op_name, **kw)
    (pt, pb), (pl, pr) = ((int(a), int(b)) for a, b in pads)
    if normalize_padding(padding) != "valid" or min(pt, pb, pl, pr) < 0:
        raise ValueError(
            "`explicit_padding` needs padding='valid' and non-negative amounts. Received: "
            f"padding={padding!r}, explicit_padding={pads!r}"
        )
    if x.ndim == 4:  # the padded input's shape, without allocating it
        n, h, w, c = x.shape
        x = np.broadcast_to(np.zeros((), x.dtype), (n, h + pt + pb, w + pl + pr, c))
        geo = _geometry(x, kernel, strides, "valid", dilation_rate, groups, op_name, **kw)
        return geo._replace(h=h, w=w, pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr)
    return _geometry(x, kernel, strides, padding, dilation_rate, groups, op_name, **kw)


def _chunk_size(geo: _Geometry, itemsize: int) -> int:
    """How many samples go in one chunk: a chunk's column matrix is about ``_CHUNK_BYTES`` split
    between the kernel threads (each thread works on its own chunk), and there are at least as
    many chunks as threads when the batch allows."""
    per_sample = geo.ho * geo.wo * geo.kh * geo.kw * geo.cin * itemsize
    return _split_chunk(geo.n, per_sample, _CHUNK_BYTES)


def _split_chunk(n: int, per_sample: int, chunk_bytes: int) -> int:
    """Samples per chunk: about ``chunk_bytes`` split between the kernel threads, and at least
    one chunk per thread when the whole batch is worth splitting (``_SPLIT_MIN_BYTES``)."""
    threads = kernel_threads()
    per_sample = max(per_sample, 1)
    by_bytes = (chunk_bytes // threads) // per_sample
    if n * per_sample >= _SPLIT_MIN_BYTES:
        n = -(-n // threads)
    return int(max(1, min(n, by_bytes)))


class _Im2Col:
    """Gathers the column matrix of one batch chunk into a reusable buffer (one per call).

    With ``ones=True`` (groups == 1 only) the matrix has one more column, all ones, so that a bias
    row appended to the kernel matrix adds the bias inside the matmul, and the same row of the
    kernel gradient ``cols.T @ dy`` is the bias gradient.
    """

    def __init__(self, geo: _Geometry, chunk: int, dtype, ones=False):
        self.geo = g = geo
        width = g.groups * g.kh * g.kw * g.cin_per_group
        self.buf = scratch("im2col", (chunk * g.ho * g.wo, width + int(ones)), dtype)
        if ones:
            self.buf[:, width] = 1
        # cols[b, oh, ow, group, i, j, c] = x_padded[b, oh*sh + i*dh, ow*sw + j*dw, group*cg + c]
        # (a view of the first `width` columns of buf)
        self.cols = self.buf[:, :width].reshape(
            chunk, g.ho, g.wo, g.groups, g.kh, g.kw, g.cin_per_group
        )
        self.xpad = None
        if g.padded:
            # zero borders are written once; each chunk only overwrites the interior
            self.xpad = scratch(
                "xpad",
                (chunk, g.h + g.pad_top + g.pad_bottom, g.w + g.pad_left + g.pad_right, g.cin),
                dtype,
                zero=True,
            )

    def __call__(self, xc: np.ndarray) -> np.ndarray:
        """Column matrix for the chunk ``xc`` (b, H, W, Cin): (b*Ho*Wo, groups*kh*kw*cg [+ 1])."""
        g = self.geo
        b = xc.shape[0]
        src = xc
        if self.xpad is not None:
            src = self.xpad[:b]
            src[:, g.pad_top : g.pad_top + g.h, g.pad_left : g.pad_left + g.w] = xc
        s0, s1, s2, s3 = src.strides
        cg = g.cin_per_group
        windows = as_strided(
            src,
            shape=(b, g.ho, g.wo, g.groups, g.kh, g.kw, cg),
            strides=(s0, s1 * g.sh, s2 * g.sw, s3 * cg, s1 * g.dh, s2 * g.dw, s3),
            writeable=False,
        )
        np.copyto(self.cols[:b], windows)
        return self.buf[: b * g.ho * g.wo]


class _Im2ColChannelsFirst:
    """Column matrix in the transposed, channel-major layout ``(kh*kw*Cin [+ 1], b*Ho*Wo)``.

    Used for few input channels (e.g. an RGB input layer): gathering NHWC windows would copy runs of
    only ``Cin`` contiguous values, while here every run is a whole output row of ``Wo`` values. The
    same layout makes the kernel gradient ``cols @ dy`` and the col2im adds just as cheap. With
    ``ones=True`` a last row of ones carries the bias (see :class:`_Im2Col`).
    """

    def __init__(self, geo: _Geometry, chunk: int, dtype, ones=False):
        self.geo = g = geo
        k = g.kh * g.kw * g.cin
        self.buf = scratch("im2col", (k + int(ones), chunk * g.ho * g.wo), dtype)
        if ones:
            self.buf[k] = 1
        self.cols = self.buf[:k].reshape(g.kh, g.kw, g.cin, chunk, g.ho, g.wo)  # a view
        # (Cin, b, H + pads, W + pads); zero borders are written once, each chunk fills the interior
        self.xpad = scratch(
            "xpad",
            (g.cin, chunk, g.h + g.pad_top + g.pad_bottom, g.w + g.pad_left + g.pad_right),
            dtype,
            zero=True,
        )

    def __call__(self, xc: np.ndarray) -> np.ndarray:
        """Columns for the chunk ``xc`` (b, H, W, Cin), shape (kh*kw*Cin [+ 1], b*Ho*Wo)."""
        g = self.geo
        b = xc.shape[0]
        src = self.xpad[:, :b]
        src[:, :, g.pad_top : g.pad_top + g.h, g.pad_left : g.pad_left + g.w] = xc.transpose(
            3, 0, 1, 2
        )
        s0, s1, s2, s3 = src.strides
        # cols[i, j, c, b, oh, ow] = x_padded[c, b, oh*sh + i*dh, ow*sw + j*dw]
        windows = as_strided(
            src,
            shape=(g.kh, g.kw, g.cin, b, g.ho, g.wo),
            strides=(s2 * g.dh, s3 * g.dw, s0, s1, s2 * g.sh, s3 * g.sw),
            writeable=False,
        )
        np.copyto(self.cols[:, :, :, :b], windows)
        return self.buf[:, : b * g.ho * g.wo]


class _Im2ColPooled:
    """Column matrix whose rows (output pixels) are grouped by max-pooling window offset.

    For a convolution followed by a max pooling whose windows tile the output (stride = pool
    size, no padding), row ``((pi * pw + pj) * b + n) * Hp * Wp + hp * Wp + wp`` holds the
    window of conv output pixel ``(n, hp * ph + pi, wp * pw + pj)``. The matmul's output is then
    ``ph * pw`` contiguous ``(b * Hp * Wp, Cout)`` blocks, one per window offset, whose
    elementwise maximum is the pooled output in NHWC order: the pooling runs over long
    contiguous rows, and conv pixels that no window reads are never computed.
    ``channels_first`` gives the transposed ``(K, rows)`` layout of :class:`_Im2ColChannelsFirst`.
    """

    def __init__(self, geo: _Geometry, pool, chunk: int, dtype, channels_first: bool):
        self.geo = g = geo
        self.ph, self.pw, self.hp, self.wp = pool
        self.channels_first = channels_first
        k = g.kh * g.kw * g.cin
        rows = chunk * self.ph * self.pw * self.hp * self.wp
        self.buf = scratch("im2col", (k, rows) if channels_first else (rows, k), dtype)
        hp_, wp_ = g.h + g.pad_top + g.pad_bottom, g.w + g.pad_left + g.pad_right
        if channels_first:  # (Cin, b, H + pads, W + pads)
            self.xpad = scratch("xpad", (g.cin, chunk, hp_, wp_), dtype, zero=True)
        else:
            self.xpad = None
            if g.padded:
                self.xpad = scratch("xpad", (chunk, hp_, wp_, g.cin), dtype, zero=True)

    def __call__(self, xc: np.ndarray) -> np.ndarray:
        """Columns for the chunk ``xc`` (b, H, W, Cin): (rows, K), or (K, rows) channels first."""
        g = self.geo
        ph, pw, hp, wp = self.ph, self.pw, self.hp, self.wp
        b = xc.shape[0]
        rows = b * ph * pw * hp * wp
        inner = (slice(g.pad_top, g.pad_top + g.h), slice(g.pad_left, g.pad_left + g.w))
        if self.channels_first:
            src = self.xpad[:, :b]
            src[(slice(None), slice(None)) + inner] = xc.transpose(3, 0, 1, 2)
            sc, sb, sy, sx = src.strides
        else:
            src = xc
            if self.xpad is not None:
                src = self.xpad[:b]
                src[(slice(None),) + inner] = xc
            sb, sy, sx, sc = src.strides
        # x_pad[n, ((hp * ph + pi) * sh + i * dh), ((wp * pw + pj) * sw + j * dw), c]
        pool_axes = ((ph, sy * g.sh), (pw, sx * g.sw), (b, sb), (hp, sy * g.sh * ph))
        pool_axes += ((wp, sx * g.sw * pw),)
        kernel_axes = ((g.kh, sy * g.dh), (g.kw, sx * g.dw), (g.cin, sc))
        axes = kernel_axes + pool_axes if self.channels_first else pool_axes + kernel_axes
        windows = as_strided(
            src,
            shape=tuple(a[0] for a in axes),
            strides=tuple(a[1] for a in axes),
            writeable=False,
        )
        if self.channels_first:
            out = self.buf[:, :rows]
        else:
            out = self.buf[:rows]
        np.copyto(out.reshape(windows.shape), windows)
        return out


def _channels_first(geo: _Geometry) -> bool:
    """Whether to use the channel-major column layout (few channels, long enough output rows)."""
    return geo.groups == 1 and geo.cin < _CHANNELS_FIRST_MAX_CIN and geo.wo >= 2 * geo.cin


def _grouped_kernel(kernel: np.ndarray, geo: _Geometry) -> np.ndarray:
    """HWIO kernel as (groups, kh*kw*cg, cout/groups); output channel o belongs to group o // og."""
    k = kernel.reshape(geo.kh * geo.kw * geo.cin_per_group, geo.groups, geo.cout_per_group)
    return k.transpose(1, 0, 2)


def _channel_vector(v, name, geo: _Geometry, dtype):
    """``v`` as a ``(Cout,)`` array of ``dtype``, or ``None``."""
    if v is None:
        return None
    v = _as_float_array(v, name, dtype=dtype)
    if v.shape != (geo.cout,):
        raise ValueError(
            f"The {name} must have one value per output channel. Expected: shape=({geo.cout},). "
            f"Received: {name}.shape={v.shape}"
        )
    return v


def _check_bias_activation(bias, activation, geo: _Geometry, dtype):
    """``bias`` as a ``(Cout,)`` array of ``dtype`` (or ``None``); ``activation`` must be known."""
    if activation not in _FUSED_ACTIVATIONS:
        raise ValueError(
            "The fused `activation` of `conv2d` must be 'relu', 'relu6' or None. "
            f"Received: activation={activation!r}"
        )
    return _channel_vector(bias, "bias", geo, dtype)


def _bias_act(z: np.ndarray, bias, activation) -> None:
    """``z = activation(z + bias)`` in place, on a block that is still in cache."""
    if bias is not None:
        z += bias
    if activation == "relu":
        np.maximum(z, 0, out=z)
    elif activation == "relu6":
        np.maximum(z, 0, out=z)
        np.minimum(z, 6, out=z)


class _Epilogue(NamedTuple):
    """What is done to each block of a convolution's output right after its matmul, while the
    block is in cache: ``z = activation(z * scale + bias + residual)``.

    ``scale`` and ``bias`` are ``(Cout,)`` vectors or ``None``; ``residual`` is ``None`` or the
    ``(N * Ho * Wo, Cout)`` array added to the output (a residual connection: the other input of
    an ``Add`` that follows the convolution).
    """

    scale: np.ndarray | None
    bias: np.ndarray | None
    residual: np.ndarray | None
    activation: str | None

    def __call__(self, z: np.ndarray, rows: slice, cols: slice = slice(None)) -> None:
        """Applies to ``z``: the block ``[rows, cols]`` of the flat ``(N*Ho*Wo, Cout)`` output."""
        if self.scale is not None:
            z *= self.scale[cols]
        if self.bias is not None:
            z += self.bias[cols]
        if self.residual is not None:
            z += self.residual[rows, cols]
        _bias_act(z, None, self.activation)


def _output(out, shape, dtype) -> np.ndarray:
    """``out`` checked to be a C-contiguous ``shape`` array of ``dtype``, or a new one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if (
        not isinstance(out, np.ndarray)
        or out.shape != tuple(shape)
        or out.dtype != dtype
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise ValueError(
            f"`out` must be a writeable C-contiguous array of shape {tuple(shape)} and dtype "
            f"{np.dtype(dtype).name}. Received: "
            f"{getattr(out, 'shape', None)}, {getattr(out, 'dtype', type(out).__name__)}"
        )
    return out


def _forward_units(geo: _Geometry, row_bytes: int) -> list:
    """Blocks ``(n0, b, r0, r1)`` of the output (samples ``n0:n0+b``, output rows ``r0:r1``) for
    the forward pass, each with about ``_FORWARD_CHUNK_BYTES / threads`` of column matrix
    (``row_bytes`` per output row), and at least one per kernel thread when worth splitting.

    Samples are grouped while one sample's columns fit the budget; a larger sample (a big image)
    is cut into blocks of whole output rows, so its column matrix still stays in cache.
    """
    threads = kernel_threads()
    budget = max(1, _FORWARD_CHUNK_BYTES // threads)
    per_sample = max(1, row_bytes * geo.ho)
    worth_splitting = geo.n * per_sample >= _SPLIT_MIN_BYTES
    if per_sample <= budget and (geo.n >= threads or not worth_splitting):
        b = _split_chunk(geo.n, per_sample, _FORWARD_CHUNK_BYTES)
        return [(n0, min(b, geo.n - n0), 0, geo.ho) for n0 in range(0, geo.n, b)]
    rows = max(1, budget // max(1, row_bytes))
    if worth_splitting and geo.n < threads:
        rows = min(rows, -(-geo.ho // -(-threads // geo.n)))  # a block per thread at least
    blocks = -(-geo.ho // rows)
    rows = -(-geo.ho // blocks)  # even blocks
    starts = range(0, geo.ho, rows)
    return [(n, 1, r0, min(r0 + rows, geo.ho)) for n in range(geo.n) for r0 in starts]


class _RowSource:
    """The input rows that an output block ``(n0, b, r0, r1)`` (see :func:`_forward_units`)
    reads, with their zero padding: copied into a zero-bordered scratch buffer when the layer
    pads, else a view of ``x``."""

    def __init__(self, x: np.ndarray, geo: _Geometry, max_b: int, max_rows: int):
        self.x, self.geo = x, geo
        g = geo
        self.xpad = None
        if g.padded:
            hin = (max_rows - 1) * g.sh + (g.kh - 1) * g.dh + 1
            wp = g.w + g.pad_left + g.pad_right
            self.xpad = scratch("xpad", (max_b, hin, wp, g.cin), x.dtype)
            # the left and right padding columns are zeroed once; each block writes the
            # interior columns of its rows and zeroes its top / bottom padding rows itself
            self.xpad[:, :, : g.pad_left] = 0
            self.xpad[:, :, g.pad_left + g.w :] = 0

    def __call__(self, n0: int, b: int, r0: int, r1: int) -> np.ndarray:
        """Input rows for output rows ``r0:r1`` of samples ``n0:n0+b``: (b, hin, W + pads, Cin)."""
        g = self.geo
        start = r0 * g.sh - g.pad_top  # first input row read (may be in the top padding)
        hin = (r1 - r0 - 1) * g.sh + (g.kh - 1) * g.dh + 1
        if self.xpad is None:
            return self.x[n0 : n0 + b, start : start + hin]
        buf = self.xpad[:b, :hin]
        lo, hi = max(start, 0), min(start + hin, g.h)
        inner = slice(g.pad_left, g.pad_left + g.w)
        buf[:, : lo - start, inner] = 0  # rows of the top padding
        buf[:, lo - start : hi - start, inner] = self.x[n0 : n0 + b, lo:hi]
        buf[:, hi - start :, inner] = 0  # rows of the bottom padding
        return buf

    def windows(self, src: np.ndarray, rows: int) -> np.ndarray:
        """The kernel windows of ``src`` (from ``__call__``) for ``rows`` output rows, a
        read-only view: ``w[n, oh, ow, i, j, c] = src[n, oh*sh + i*dh, ow*sw + j*dw, c]``."""
        g = self.geo
        s0, s1, s2, s3 = src.strides
        return as_strided(
            src,
            shape=(src.shape[0], rows, g.wo, g.kh, g.kw, g.cin),
            strides=(s0, s1 * g.sh, s2 * g.sw, s1 * g.dh, s2 * g.dw, s3),
            writeable=False,
        )


class _RowIm2Col:
    """Column matrix of one output block ``(n0, b, r0, r1)`` (see :func:`_forward_units`), in the
    (kh, kw, Cin) order of the kernel: ``(b * (r1 - r0) * Wo, kh * kw * Cin [+ 1])``. Only the
    input rows the block reads are copied (:class:`_RowSource`). With ``ones`` the matrix has a
    last column of ones (see :class:`_Im2Col`)."""

    def __init__(self, x: np.ndarray, geo: _Geometry, max_b: int, max_rows: int, ones=False):
        self.geo = g = geo
        self.source = _RowSource(x, geo, max_b, max_rows)
        self.width = g.kh * g.kw * g.cin
        self.buf = scratch("im2col", (max_b * max_rows * g.wo, self.width + int(ones)), x.dtype)
        if ones:
            self.buf[:, self.width] = 1

    def __call__(self, n0: int, b: int, r0: int, r1: int) -> np.ndarray:
        rows = r1 - r0
        windows = self.source.windows(self.source(n0, b, r0, r1), rows)  # (b, rows, Wo, kh, kw, C)
        m = b * rows * self.geo.wo
        cols = self.buf[:m]
        np.copyto(cols[:, : self.width].reshape(windows.shape), windows)
        return cols


def _first_row(geo: _Geometry, n0: int, r0: int) -> int:
    """Row of the flat ``(N * Ho * Wo, Cout)`` output where block ``(n0, ., r0, .)`` starts."""
    return (n0 * geo.ho + r0) * geo.wo


def _conv2d_blocks(x, kmat, geo: _Geometry, ones: bool, epilogue: _Epilogue, y2: np.ndarray):
    """``y2 = epilogue(cols @ kmat)`` block by block (groups == 1, channels-last columns)."""
    g = geo
    one_by_one = g.kh == 1 and g.kw == 1
    k = kmat.shape[0]
    row_bytes = g.wo * (g.cin + g.cout if one_by_one else k) * x.itemsize
    m_total = g.n * g.ho * g.wo
    threads = kernel_threads()
    if threads > 1 and m_total < g.cout and m_total * k * g.cout >= _SPLIT_MIN_MACS:
        # Few output pixels, many filters (the small, deep maps of a large network): both
        # threads share one column matrix and each computes half of the output channels, so
        # each reads half of the kernel instead of all of it.
        if one_by_one:
            cols = x[:, :: g.sh, :: g.sw].reshape(m_total, g.cin)
        else:
            cols = _RowIm2Col(x, geo, g.n, g.ho, ones)(0, g.n, 0, g.ho)
        step = -(-g.cout // threads)

        def column_work(part):
            for c0 in part:
                c = slice(c0, c0 + step)
                np.matmul(cols, kmat[:, c], out=y2[:, c])
                epilogue(y2[:, c], slice(None), c)

        map_chunks(column_work, list(range(0, g.cout, step)))
        return

    units = _forward_units(geo, row_bytes)
    max_b = max(u[1] for u in units)
    max_rows = max(u[3] - u[2] for u in units)
    xs = x[:, :: g.sh, :: g.sw] if one_by_one else None

    def work(part):  # the blocks in `part`, in one thread
        im2col = None if one_by_one else _RowIm2Col(x, geo, max_b, max_rows, ones)
        for n0, b, r0, r1 in part:
            if one_by_one:
                cols = xs[n0 : n0 + b, r0:r1].reshape(-1, g.cin)  # a copy only when strided
            else:
                cols = im2col(n0, b, r0, r1)  # (M, K [+ 1])
            row0 = _first_row(geo, n0, r0)
            rows = slice(row0, row0 + cols.shape[0])
            yc = y2[rows]  # (M, Cout)
            np.matmul(cols, kmat, out=yc)
            epilogue(yc, rows)

    map_chunks(work, units)


def conv2d(
    x,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    groups=1,
    bias=None,
    activation=None,
    scale=None,
    residual=None,
    out=None,
    explicit_padding=None,
):
    """2-D cross-correlation, as ``tf.nn.conv2d`` (NHWC, HWIO), with an optional fused epilogue.

    ``y[n, oh, ow, o] = sum_{i, j, c} x_pad[n, oh*sh + i*dh, ow*sw + j*dw, c] * kernel[i, j, c, o]``
    where, for ``groups > 1``, ``c`` runs over the input channels of output channel ``o``'s group.
    The optional extras give ``activation(y * scale + bias + residual)``, computed block by block
    right after each block's matmul (while it is in cache) instead of in extra passes over the
    whole output.
    With ``scale`` and ``bias`` from an inference-mode batch normalization, and ``residual`` the
    shortcut of a residual block, this is ResNet's conv -> BN -> add -> ReLU in one pass.

    Args:
        x: input of shape ``(N, H, W, Cin)``; its float dtype is kept (float32 or float64).
        kernel: ``(kh, kw, Cin // groups, Cout)``.
        strides: int or pair ``(sh, sw)``.
        padding: ``"valid"`` or ``"same"`` (any case).
        dilation_rate: int or pair ``(dh, dw)``.
        groups: number of channel groups; ``Cin`` and ``Cout`` must be multiples of it.
        bias: optional ``(Cout,)`` vector added to every output pixel.
        activation: ``None``, ``"relu"`` or ``"relu6"`` (``min(max(z, 0), 6)``), applied last.
        scale: optional ``(Cout,)`` vector multiplying each output channel (before the bias).
        residual: optional array of the output's shape ``(N, Ho, Wo, Cout)`` added before the
            activation.
        out: optional C-contiguous array of the output's shape and dtype to write into (it
            must not overlap ``x`` or ``residual``).
        explicit_padding: optional ``((top, bottom), (left, right))`` zeros around ``x``, with
            ``padding="valid"``: a ``ZeroPadding2D`` in front of the convolution, without the
            padded copy of ``x``.

    Returns:
        ``y`` of shape ``(N, Ho, Wo, Cout)`` and the dtype of ``x``.

    Raises:
        ValueError: on mismatched shapes, bad arguments, or an empty output.
    """
    x = _as_float_array(x, "inputs")
    kernel = _as_float_array(kernel, "kernel", dtype=x.dtype)
    geo = _padded_geometry(
        x, kernel, strides, padding, explicit_padding, dilation_rate, groups, "conv2d"
    )
    g = geo
    if g.padded and g.kh == 1 and g.kw == 1:  # the 1x1 paths read x directly: pad it first
        pads = ((0, 0), (g.pad_top, g.pad_bottom), (g.pad_left, g.pad_right), (0, 0))
        x = pad_zeros(x, pads)
        geo = g = _geometry(x, kernel, strides, "valid", dilation_rate, groups, "conv2d")
    bias = _check_bias_activation(bias, activation, geo, x.dtype)
    scale = _channel_vector(scale, "scale", geo, x.dtype)
    if residual is not None:
        residual = _as_float_array(residual, "residual", dtype=x.dtype)
        if residual.shape != (g.n, g.ho, g.wo, g.cout):
            raise ValueError(
                "The residual must have the shape of the convolution's output. Expected: "
                f"shape={(g.n, g.ho, g.wo, g.cout)}. Received: residual.shape={residual.shape}"
            )
        residual = residual.reshape(-1, g.cout)
    y = _output(out, (g.n, g.ho, g.wo, g.cout), x.dtype)
    y2 = y.reshape(-1, g.cout)  # (N*Ho*Wo, Cout)

    if g.groups > 1:
        chunk = _chunk_size(geo, x.itemsize)
        kmat = _grouped_kernel(kernel, geo)  # (groups, kh*kw*cg, og)
        im2col = _Im2Col(geo, chunk, x.dtype)
        for n0 in range(0, g.n, chunk):
            cols = im2col(x[n0 : n0 + chunk])  # (M, groups*K), M = b*Ho*Wo
            cols = cols.reshape(cols.shape[0], g.groups, -1)  # (M, groups, K)
            yc = y[n0 : n0 + chunk].reshape(-1, g.groups, g.cout_per_group)  # (M, groups, og)
            for gi in range(g.groups):
                yc[:, gi] = cols[:, gi] @ kmat[gi]
        _Epilogue(scale, bias, residual, activation)(y2, slice(None))
        return y

    kmat = kernel.reshape(g.kh * g.kw * g.cin, g.cout)  # (K, Cout)
    one_by_one = g.kh == 1 and g.kw == 1
    ones = False
    if g.n * g.ho * g.wo >= kmat.shape[0] and (scale is not None or not one_by_one):
        # More output rows than kernel rows: a pass over the kernel costs less than one over
        # the output, so the scale is folded into a copy of the kernel matrix, and where there
        # is a column matrix the bias rides inside the matmul (a last row of the kernel matrix,
        # a last column of ones in the column matrix). Else (the deep layers of a large
        # network on a small batch) the kernel is used as it is and the epilogue does both.
        ones = bias is not None and not one_by_one
        if scale is not None or ones:
            folded = np.empty((kmat.shape[0] + int(ones), g.cout), dtype=x.dtype)
            if scale is not None:
                np.multiply(kmat, scale, out=folded[: kmat.shape[0]])
            else:
                folded[: kmat.shape[0]] = kmat
            if ones:
                folded[-1] = bias
            kmat, scale = folded, None
            if ones:
                bias = None
    epilogue = _Epilogue(scale, bias, residual, activation)
    if not _channels_first(geo) or one_by_one:
        _conv2d_blocks(x, kmat, geo, ones, epilogue, y2)
        return y

    chunk = _chunk_size(geo, x.itemsize)

    def work(starts):  # the chunks at offsets `starts`, in one thread (few input channels)
        im2col = _Im2ColChannelsFirst(geo, chunk, x.dtype, ones=ones)
        for n0 in starts:
            cols = im2col(x[n0 : n0 + chunk])  # (K [+ 1], M)
            rows = slice(n0 * g.ho * g.wo, n0 * g.ho * g.wo + cols.shape[1])
            yc = y2[rows]  # (M, Cout)
            np.matmul(cols.T, kmat, out=yc)
            epilogue(yc, rows)

    map_chunks(work, list(range(0, g.n, chunk)))
    return y


def conv2d_max_pool2d(
    x,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    groups=1,
    bias=None,
    activation=None,
    pool_size=(2, 2),
    pool_strides=None,
    pool_padding="valid",
):
    """``max_pool2d(activation(conv2d(x, kernel) + bias))`` without the full convolution output.

    Inference kernel for a convolution followed by max pooling: each batch chunk is convolved
    into a small scratch block and pooled at once, while the block is in cache, so the large
    pre-pooling map is never written to memory. The bias and the ReLU are monotone, so they are
    applied after the pooling (``max_w relu(z_w + b) = relu(max_w z_w + b)``), to a quarter of
    the values for 2x2 pooling.

    Args:
        x, kernel, strides, padding, dilation_rate, groups, bias, activation: as :func:`conv2d`.
        pool_size, pool_strides, pool_padding: as ``pool_size``, ``strides`` and ``padding`` of
            :func:`numpykeras.ops.max_pool2d`.

    Returns:
        ``(N, Hp, Wp, Cout)``: the pooled output, in the dtype of ``x``.
    """
    from numpykeras.ops.pooling import max_pool2d, max_pool2d_into, pool_tiles, pooled_shape

    x = _as_float_array(x, "inputs")
    kernel = _as_float_array(kernel, "kernel", dtype=x.dtype)
    geo = _geometry(x, kernel, strides, padding, dilation_rate, groups, "conv2d")
    bias = _check_bias_activation(bias, activation, geo, x.dtype)
    g = geo
    pool_args = (pool_size, pool_strides, pool_padding)
    tiles = pool_tiles((g.n, g.ho, g.wo, g.cout), *pool_args)  # (ph, pw, Hp, Wp) or None
    if g.groups > 1 or (g.kh == 1 and g.kw == 1):
        y = conv2d(x, kernel, strides, padding, dilation_rate, groups, bias, activation)
        return max_pool2d(y, *pool_args)

    chunk = _chunk_size(geo, x.itemsize)
    kmat = kernel.reshape(g.kh * g.kw * g.cin, g.cout)  # (K, Cout)
    channels_first = _channels_first(geo)
    if tiles is not None:
        ph, pw, hp, wp = tiles
        y = np.empty((g.n, hp, wp, g.cout), dtype=x.dtype)  # (N, Hp, Wp, Cout)

        def work(starts):  # the chunks at offsets `starts`, in one thread
            im2col = _Im2ColPooled(geo, tiles, chunk, x.dtype, channels_first)
            z_buf = scratch("conv_out", (chunk * ph * pw * hp * wp, g.cout), x.dtype)
            for n0 in starts:
                cols = im2col(x[n0 : n0 + chunk])  # (rows, K), or (K, rows) if channels_first
                b = min(chunk, g.n - n0)
                z = z_buf[: cols.shape[1] if channels_first else cols.shape[0]]
                np.matmul(cols.T if channels_first else cols, kmat, out=z)  # (rows, Cout)
                z = z.reshape(ph * pw, b * hp * wp, g.cout)  # one block per window offset
                yc = y[n0 : n0 + b].reshape(b * hp * wp, g.cout)
                if ph * pw == 1:
                    yc[...] = z[0]
                else:
                    np.maximum(z[0], z[1], out=yc)
                    for zk in z[2:]:
                        np.maximum(yc, zk, out=yc)
                _bias_act(yc, bias, activation)

        map_chunks(work, list(range(0, g.n, chunk)))
        return y

    y = np.empty(pooled_shape((g.n, g.ho, g.wo, g.cout), *pool_args), dtype=x.dtype)
    if channels_first:
        im2col = _Im2ColChannelsFirst(geo, chunk, x.dtype)
    else:
        im2col = _Im2Col(geo, chunk, x.dtype)
    z_buf = scratch("conv_out", (chunk * g.ho * g.wo, g.cout), x.dtype)  # one chunk's output
    for n0 in range(0, g.n, chunk):
        cols = im2col(x[n0 : n0 + chunk])  # (M, K), or its transpose if channels_first
        b = min(chunk, g.n - n0)
        zc = z_buf[: b * g.ho * g.wo]
        np.matmul(cols.T if channels_first else cols, kmat, out=zc)  # (M, Cout)
        yc = y[n0 : n0 + b]
        max_pool2d_into(zc.reshape(b, g.ho, g.wo, g.cout), yc, *pool_args)
        _bias_act(yc, bias, activation)
    return y


def conv2d_backward(
    dy,
    x,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    groups=1,
    need_dx=True,
):
    """Gradients of :func:`conv2d` (without bias or activation) with respect to input and kernel.

    Args:
        dy: upstream gradient ``dL/dy``, shape ``(N, Ho, Wo, Cout)``.
        x, kernel, strides, padding, dilation_rate, groups: exactly as given to :func:`conv2d`.
        need_dx: compute ``dL/dx`` (skip it for a model's first layer).

    Returns:
        ``(dx, dkernel)``: ``dx`` has the shape of ``x`` (or is ``None`` when ``need_dx`` is false),
        ``dkernel`` the shape of ``kernel``; both in the dtype of ``x``.
    """
    dx, dkernel, _ = conv2d_backward_fused(
        dy, x, kernel, strides, padding, dilation_rate, groups, need_dx=need_dx
    )
    return dx, dkernel


def conv2d_backward_fused(
    dy,
    x,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    groups=1,
    need_dx=True,
    relu_output=None,
    use_bias=False,
):
    """Gradients of ``y = activation(conv2d(x, kernel) + bias)`` (see :func:`conv2d`).

    The ReLU's gradient (``dz = dy * (y > 0)``) and the bias gradient (``sum(dz)``) are taken block
    by block inside the convolution's own loop, while each block is in cache.

    Args:
        dy: upstream gradient ``dL/dy``, shape ``(N, Ho, Wo, Cout)``.
        x, kernel, strides, padding, dilation_rate, groups: exactly as given to :func:`conv2d`.
        need_dx: compute ``dL/dx`` (skip it for a model's first layer).
        relu_output: the forward output ``y`` when the activation was ``"relu"``, else ``None``
            (then ``dy`` is the gradient of the pre-activation itself).
        use_bias: also return the bias gradient.

    Returns:
        ``(dx, dkernel, dbias)``: ``dx`` like ``x`` (``None`` unless ``need_dx``), ``dkernel`` like
        ``kernel``, ``dbias`` of shape ``(Cout,)`` (``None`` unless ``use_bias``).
    """
    x = _as_float_array(x, "inputs")
    kernel = _as_float_array(kernel, "kernel", dtype=x.dtype)
    dy = _as_float_array(dy, "dy", dtype=x.dtype)
    geo = _geometry(x, kernel, strides, padding, dilation_rate, groups, "conv2d")
    g = geo
    if dy.shape != (g.n, g.ho, g.wo, g.cout):
        raise ValueError(
            "The upstream gradient must have the shape of the convolution's output. "
            f"Expected: {(g.n, g.ho, g.wo, g.cout)}. Received: dy.shape={dy.shape}"
        )
    if relu_output is not None:
        relu_output = np.asarray(relu_output)
        if relu_output.shape != dy.shape:
            raise ValueError(
                "`relu_output` must be the convolution's output. "
                f"Expected: shape={dy.shape}. Received: relu_output.shape={relu_output.shape}"
            )

    if g.groups > 1 or (g.kh == 1 and g.kw == 1):
        # whole-array activation and bias gradients, then the plain kernels
        dz = dy if relu_output is None else dy * (relu_output > 0)
        dbias = dz.reshape(-1, g.cout).sum(axis=0) if use_bias else None
        if g.groups > 1:
            dx, dkernel = _conv2d_backward_grouped(dz, x, kernel, geo, need_dx)
        else:
            dx, dkernel = _conv2d_backward_1x1(dz, x, kernel, geo, need_dx)
        return dx, dkernel, dbias

    chunk = _chunk_size(geo, x.itemsize)
    k = g.kh * g.kw * g.cin
    # with a bias the column matrix has a last column of ones, so row K of cols.T @ dz is sum(dz)
    channels_first = _channels_first(geo)
    # every chunk writes its own samples of dx (all of them: no zero fill needed here)
    dx = np.empty_like(x) if need_dx else None

    def work(starts):  # the chunks at offsets `starts`, in one thread: their part of dkmat
        # with a bias the column matrix has a last column of ones, so row K of cols.T @ dz is
        # sum(dz), the bias gradient
        dkmat = np.zeros((k + int(use_bias), g.cout), dtype=x.dtype)  # (K [+ 1], Cout)
        if relu_output is not None:
            dz_buf = scratch("dz", (chunk * g.ho * g.wo, g.cout), x.dtype)
            mask_buf = scratch("mask", (chunk * g.ho * g.wo, g.cout), bool)
        if channels_first:
            im2col = _Im2ColChannelsFirst(geo, chunk, x.dtype, ones=use_bias)
        else:
            im2col = _Im2Col(geo, chunk, x.dtype, ones=use_bias)
        col2im = _Col2Im(geo, kernel, chunk, dx, channels_first) if need_dx else None
        for n0 in starts:
            xc = x[n0 : n0 + chunk]
            b = xc.shape[0]
            m = b * g.ho * g.wo
            dz = dy[n0 : n0 + chunk].reshape(m, g.cout)  # (M, Cout)
            if relu_output is not None:
                mask = mask_buf[:m]
                np.greater(relu_output[n0 : n0 + chunk].reshape(m, g.cout), 0, out=mask)
                dz = np.multiply(dz, mask, out=dz_buf[:m])  # relu passes gradient where y > 0
            cols = im2col(xc)  # (M, K [+ 1]), or its transpose if channels_first
            dkmat += (cols if channels_first else cols.T) @ dz  # (K [+ 1], M) @ (M, Cout)
            if need_dx:
                col2im.add(n0, b, dz)
        return dkmat

    parts = map_chunks(work, list(range(0, g.n, chunk)))
    dkmat = parts[0]
    for part in parts[1:]:
        dkmat += part
    dbias = dkmat[k].copy() if use_bias else None
    return dx, dkmat[:k].reshape(kernel.shape), dbias


class _Col2Im:
    """Input gradient of a regular (groups == 1) convolution, one batch chunk at a time.

    Each chunk's samples of ``dx`` start at zero; for each kernel offset ``(i, j)`` the chunk's
    ``dz @ kernel[i, j].T`` (one matmul) is added where that offset read ``x`` from (one strided
    add, padding skipped).
    """

    def __init__(self, geo: _Geometry, kernel: np.ndarray, chunk: int, dx, channels_first):
        self.geo = g = geo
        self.channels_first = channels_first
        self.dx = dx  # (N, H, W, Cin): each chunk writes all of its own samples
        dtype = dx.dtype
        rows = [offset_slices(i * g.dh, g.h, g.ho, g.sh, g.pad_top) for i in range(g.kh)]
        cols_w = [offset_slices(j * g.dw, g.w, g.wo, g.sw, g.pad_left) for j in range(g.kw)]
        self.taps = [
            (i, j, oh, ow, rh, rw)
            for i, (oh, rh) in enumerate(rows)
            for j, (ow, rw) in enumerate(cols_w)
            if oh is not None and ow is not None
        ]
        m = chunk * g.ho * g.wo
        if channels_first:
            # few input channels: one (K, Cout) @ (Cout, M) matmul, adds over whole (Wo,) rows
            self.kmat = kernel.reshape(g.kh * g.kw * g.cin, g.cout)  # (K, Cout)
            self.dcols = scratch("dcols", (g.kh * g.kw * g.cin, m), dtype)
            self.dx_t = scratch("dx_t", (g.cin, chunk, g.h, g.w), dtype)
        else:
            # (kh, kw, Cout, Cin): each offset's (M, Cin) block is contiguous, its adds run over
            # whole output rows
            self.kernel_t = np.ascontiguousarray(kernel.transpose(0, 1, 3, 2))
            self.dcols = scratch("dcols", (m, g.cin), dtype)

    def add(self, n0: int, b: int, dz: np.ndarray) -> None:
        """Adds the input gradient of samples ``n0 : n0 + b`` given their ``dz`` (M, Cout)."""
        g = self.geo
        m = b * g.ho * g.wo
        if self.channels_first:
            dcols = self.dcols[:, :m]
            np.matmul(self.kmat, dz.T, out=dcols)  # (K, Cout) @ (Cout, M)
            dcols6 = dcols.reshape(g.kh, g.kw, g.cin, b, g.ho, g.wo)
            dxc_t = self.dx_t[:, :b]  # (Cin, b, H, W)
            dxc_t.fill(0)
            for i, j, oh, ow, rh, rw in self.taps:
                dxc_t[:, :, rh, rw] += dcols6[i, j, :, :, oh, ow]
            self.dx[n0 : n0 + b] = dxc_t.transpose(1, 2, 3, 0)
            return
        dcols = self.dcols[:m]
        dcols4 = dcols.reshape(b, g.ho, g.wo, g.cin)
        dxc = self.dx[n0 : n0 + b]  # (b, H, W, Cin)
        dxc.fill(0)
        for i, j, oh, ow, rh, rw in self.taps:
            np.matmul(dz, self.kernel_t[i, j], out=dcols)  # (M, Cout) @ (Cout, Cin)
            dxc[:, rh, rw] += dcols4[:, oh, ow]


def _conv2d_backward_1x1(dz, x, kernel, geo: _Geometry, need_dx):
    g = geo
    kmat = kernel.reshape(g.cin, g.cout)
    dz2 = dz.reshape(-1, g.cout)  # (N*Ho*Wo, Cout)
    xs = x[:, :: g.sh, :: g.sw].reshape(-1, g.cin)  # (N*Ho*Wo, Cin)
    dkernel = matmul(xs.T, dz2).reshape(kernel.shape)  # (Cin, M) @ (M, Cout)
    dx = None
    if need_dx:
        dxs = matmul(dz2, kmat.T).reshape(g.n, g.ho, g.wo, g.cin)  # (M, Cout) @ (Cout, Cin)
        if g.sh == 1 and g.sw == 1:
            dx = dxs
        else:
            dx = np.zeros_like(x)
            dx[:, :: g.sh, :: g.sw] = dxs
    return dx, dkernel


def _conv2d_backward_grouped(dy, x, kernel, geo: _Geometry, need_dx):
    """Backward of a grouped convolution: per-group matmuls, then col2im over all groups."""
    g = geo
    cg, og = g.cin_per_group, g.cout_per_group
    kmat = _grouped_kernel(kernel, geo)  # (groups, K, og), K = kh*kw*cg
    dkmat = np.zeros_like(kmat)
    chunk = _chunk_size(geo, x.itemsize)
    im2col = _Im2Col(geo, chunk, x.dtype)
    dx = dcols_buf = None
    if need_dx:
        dx = np.zeros((g.n, g.h, g.w, g.groups, cg), dtype=x.dtype)
        dcols_buf = scratch("dcols", (chunk * g.ho * g.wo, g.groups, g.kh * g.kw * cg), x.dtype)
        rows = [offset_slices(i * g.dh, g.h, g.ho, g.sh, g.pad_top) for i in range(g.kh)]
        cols_w = [offset_slices(j * g.dw, g.w, g.wo, g.sw, g.pad_left) for j in range(g.kw)]
        taps = [
            (i, j, oh, ow, rh, rw)
            for i, (oh, rh) in enumerate(rows)
            for j, (ow, rw) in enumerate(cols_w)
            if oh is not None and ow is not None
        ]
    for n0 in range(0, g.n, chunk):
        xc = x[n0 : n0 + chunk]
        b = xc.shape[0]
        m = b * g.ho * g.wo
        cols = im2col(xc).reshape(m, g.groups, -1)  # (M, groups, K)
        dyc = dy[n0 : n0 + chunk].reshape(m, g.groups, og)  # (M, groups, og)
        for gi in range(g.groups):
            dkmat[gi] += cols[:, gi].T @ dyc[:, gi]  # (K, M) @ (M, og)
        if not need_dx:
            continue
        dxc = dx[n0 : n0 + chunk]  # (b, H, W, groups, cg)
        dcols = dcols_buf[:m]
        for gi in range(g.groups):
            np.matmul(dyc[:, gi], kmat[gi].T, out=dcols[:, gi])  # (M, og) @ (og, K)
        # col2im: every kernel offset adds its slice of dcols back where it read x from
        dcols7 = dcols.reshape(b, g.ho, g.wo, g.groups, g.kh, g.kw, cg)
        for i, j, oh, ow, rh, rw in taps:
            dxc[:, rh, rw] += dcols7[:, oh, ow, :, i, j]
    dkernel = dkmat.transpose(1, 0, 2).reshape(kernel.shape)
    if dx is not None:
        dx = dx.reshape(x.shape)
    return dx, dkernel


def _depthwise_chunk(geo: _Geometry, itemsize: int) -> int:
    """Samples per chunk so a chunk's padded input stays about 1 MiB (cache-resident)."""
    per_sample = (geo.h + geo.pad_top + geo.pad_bottom) * (geo.w + geo.pad_left + geo.pad_right)
    per_sample *= geo.cin * itemsize
    return _split_chunk(geo.n, per_sample, 1024 * 1024 * kernel_threads())


def _depthwise_tiles(kernel: np.ndarray, wo: int) -> np.ndarray:
    """``tiles[i, j, m] = kernel[i, j, :, m]`` repeated over ``wo`` output columns:
    ``(kh, kw, M, Wo, Cin)``, so each multiply-add of a kernel offset runs over whole rows."""
    k = kernel.transpose(0, 1, 3, 2)[:, :, :, None, :]  # (kh, kw, M, 1, Cin)
    return np.ascontiguousarray(np.broadcast_to(k, k.shape[:3] + (wo, kernel.shape[2])))


class _DepthwisePlan:
    """Buffers and views of the depthwise backward pass (one per call).

    The input chunk is copied into a zero-bordered buffer so every kernel offset reads a full
    ``(b, Ho, Wo, Cin)`` view; with stride 1 its ``(Wo, Cin)`` rows are contiguous, and the kernel
    values are pre-tiled to ``(Wo, Cin)`` so each multiply-add runs over whole rows.
    """

    def __init__(self, geo: _Geometry, kernel: np.ndarray, dtype):
        self.geo = g = geo
        self.mult = kernel.shape[3]
        self.chunk = _depthwise_chunk(geo, np.dtype(dtype).itemsize)
        hp, wp = g.h + g.pad_top + g.pad_bottom, g.w + g.pad_left + g.pad_right
        self.xpad = scratch("xpad", (self.chunk, hp, wp, g.cin), dtype, zero=True)
        self.tmp = scratch("tmp", (self.chunk, g.ho, g.wo, g.cin), dtype)
        self.tiles = _depthwise_tiles(kernel, g.wo)  # (kh, kw, M, Wo, Cin)

    def interior(self, buf: np.ndarray) -> np.ndarray:
        g = self.geo
        return buf[:, g.pad_top : g.pad_top + g.h, g.pad_left : g.pad_left + g.w]

    def load(self, xc: np.ndarray) -> np.ndarray:
        """The chunk ``xc`` inside the zero border: (b, H + pads, W + pads, Cin)."""
        xp = self.xpad[: xc.shape[0]]
        self.interior(xp)[...] = xc
        return xp

    def window(self, xp: np.ndarray, i: int, j: int) -> np.ndarray:
        """Inputs read at kernel offset (i, j) by every output: (b, Ho, Wo, Cin) strided view."""
        g = self.geo
        r0, c0 = i * g.dh, j * g.dw
        return xp[:, r0 : r0 + (g.ho - 1) * g.sh + 1 : g.sh, c0 : c0 + (g.wo - 1) * g.sw + 1 : g.sw]


def depthwise_conv2d(
    x,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    bias=None,
    activation=None,
    scale=None,
    out=None,
    explicit_padding=None,
):
    """Depthwise 2-D convolution, as ``tf.nn.depthwise_conv2d`` (NHWC), with an optional epilogue.

    Each input channel ``c`` is convolved with its own ``depth_multiplier`` filters:
    ``y[n, oh, ow, c*M + m] = sum_ij x_pad[n, oh*sh + i*dh, ow*sw + j*dw, c] * kernel[i, j, c, m]``
    and the result is ``activation(y * scale + bias)`` when those are given (``scale`` is folded
    into the kernel; bias and activation are applied to each chunk while it is in cache).

    Args:
        x: ``(N, H, W, Cin)``.
        kernel: ``(kh, kw, Cin, depth_multiplier)``.
        strides, padding, dilation_rate: as in :func:`conv2d`.
        bias, scale: optional ``(Cin * depth_multiplier,)`` vectors.
        activation: ``None``, ``"relu"`` or ``"relu6"``.
        out, explicit_padding: as in :func:`conv2d`.

    Returns:
        ``(N, Ho, Wo, Cin * depth_multiplier)`` in the dtype of ``x``.
    """
    x = _as_float_array(x, "inputs")
    kernel = _as_float_array(kernel, "kernel", dtype=x.dtype)
    geo = _padded_geometry(
        x,
        kernel,
        strides,
        padding,
        explicit_padding,
        dilation_rate,
        1,
        "depthwise_conv2d",
        depthwise=True,
    )
    g = geo
    mult = kernel.shape[3]
    bias = _check_bias_activation(bias, activation, geo, x.dtype)
    scale = _channel_vector(scale, "scale", geo, x.dtype)
    if scale is not None:
        kernel = kernel * scale.reshape(g.cin, mult)  # output channel c*M + m: kernel[..., c, m]
    if bias is not None:
        bias = bias.reshape(g.cin, mult).T  # (M, Cin): the bias of ym[m]
    y = None
    if mult == 1:  # ym[0] is the output itself
        y = _output(out, (g.n, g.ho, g.wo, g.cout), x.dtype)
        ym = y[None]
    else:  # channel c*M + m lives in ym[m]
        ym = np.empty((mult, g.n, g.ho, g.wo, g.cin), dtype=x.dtype)
    wp = g.w + g.pad_left + g.pad_right
    # per output row: the input rows it reads, a temporary and the output
    units = _forward_units(geo, (g.sh * wp + 2 * g.wo) * g.cin * x.itemsize)
    max_b = max(u[1] for u in units)
    max_rows = max(u[3] - u[2] for u in units)
    # Many channels: one einsum pass per block (its inner loop runs over the contiguous
    # channels) beats kh * kw multiply-add passes; few channels: the passes over whole rows.
    use_einsum = g.cin >= _DEPTHWISE_EINSUM_MIN_CHANNELS
    if use_einsum:
        taps = np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))  # (M, kh, kw, Cin)
    else:
        tiles = _depthwise_tiles(kernel, g.wo)  # (kh, kw, M, Wo, Cin)

    def work(part):  # the output blocks in `part`, in one thread
        source = _RowSource(x, geo, max_b, max_rows)
        if not use_einsum:
            tmp = scratch("tmp", (max_b, max_rows, g.wo, g.cin), x.dtype)
        for n0, b, r0, r1 in part:
            src = source(n0, b, r0, r1)  # (b, hin, W + pads, Cin)
            rows = r1 - r0
            for m in range(mult):
                yc = ym[m, n0 : n0 + b, r0:r1]  # (b, rows, Wo, Cin)
                if use_einsum:
                    # y[n, r, w, c] = sum_ij windows[n, r, w, i, j, c] * k[i, j, c]: one pass
                    np.einsum("nrwijc,ijc->nrwc", source.windows(src, rows), taps[m], out=yc)
                    _bias_act(yc, None if bias is None else bias[m], activation)
                    continue
                t = tmp[:b, :rows]
                for i in range(g.kh):
                    for j in range(g.kw):
                        # the inputs that kernel offset (i, j) meets: (b, rows, Wo, Cin)
                        win = src[
                            :,
                            i * g.dh : i * g.dh + (rows - 1) * g.sh + 1 : g.sh,
                            j * g.dw : j * g.dw + (g.wo - 1) * g.sw + 1 : g.sw,
                        ]
                        if i == 0 and j == 0:
                            np.multiply(win, tiles[0, 0, m], out=yc)
                        else:
                            np.multiply(win, tiles[i, j, m], out=t)
                            yc += t
                _bias_act(yc, None if bias is None else bias[m], activation)

    map_chunks(work, units)
    if y is not None:
        return y  # the array itself (not a view of it): the inference BufferPool can reuse it
    y = ym.transpose(1, 2, 3, 4, 0).reshape(g.n, g.ho, g.wo, g.cout)  # a copy
    if out is not None:
        _output(out, y.shape, y.dtype)[...] = y
        return out
    return y


def depthwise_conv2d_backward(
    dy, x, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1), need_dx=True
):
    """Gradients of :func:`depthwise_conv2d` with respect to its input and kernel.

    Args:
        dy: ``(N, Ho, Wo, Cin * depth_multiplier)``.
        x, kernel, strides, padding, dilation_rate: as given to :func:`depthwise_conv2d`.
        need_dx: compute ``dL/dx``.

    Returns:
        ``(dx or None, dkernel)`` with the shapes of ``x`` and ``kernel``.
    """
    x = _as_float_array(x, "inputs")
    kernel = _as_float_array(kernel, "kernel", dtype=x.dtype)
    dy = _as_float_array(dy, "dy", dtype=x.dtype)
    geo = _geometry(
        x, kernel, strides, padding, dilation_rate, 1, "depthwise_conv2d", depthwise=True
    )
    g = geo
    if dy.shape != (g.n, g.ho, g.wo, g.cout):
        raise ValueError(
            "The upstream gradient must have the shape of the convolution's output. "
            f"Expected: {(g.n, g.ho, g.wo, g.cout)}. Received: dy.shape={dy.shape}"
        )
    mult = kernel.shape[3]
    dy5 = dy.reshape(g.n, g.ho, g.wo, g.cin, mult)
    dx = np.empty_like(x) if need_dx else None

    def work(starts):  # the chunks at offsets `starts`, in one thread: their part of dkernel
        plan = _DepthwisePlan(geo, kernel, x.dtype)
        dkernel = np.zeros_like(kernel)
        if need_dx:
            dxpad = scratch("dxpad", plan.xpad.shape, x.dtype)
        for n0 in starts:
            xp = plan.load(x[n0 : n0 + plan.chunk])
            b = xp.shape[0]
            t = plan.tmp[:b]
            if need_dx:
                dxp = dxpad[:b]
                dxp.fill(0)
            for m in range(mult):
                dym = np.ascontiguousarray(dy5[n0 : n0 + b, :, :, :, m])  # (b, Ho, Wo, Cin)
                for i in range(g.kh):
                    for j in range(g.kw):
                        np.multiply(plan.window(xp, i, j), dym, out=t)
                        dkernel[i, j, :, m] += t.reshape(-1, g.cin).sum(axis=0)  # (Cin,)
                        if need_dx:
                            np.multiply(dym, plan.tiles[i, j, m], out=t)
                            plan.window(dxp, i, j)[...] += t
            if need_dx:
                dx[n0 : n0 + b] = plan.interior(dxp)
        return dkernel

    parts = map_chunks(work, list(range(0, g.n, _depthwise_chunk(geo, x.itemsize))))
    dkernel = parts[0]
    for part in parts[1:]:
        dkernel += part
    return dx, dkernel
