"""Plain-loop reference implementations of the ``numpykeras.ops`` kernels, from the definitions.

Deliberately slow and obvious: explicit padding, one output pixel at a time, gradients by the chain
rule applied pixel by pixel. The fast kernels are tested against these in float64. Nothing here
imports ``numpykeras.ops`` (the padding arithmetic is re-derived below) so a shared mistake cannot
hide.
"""

import math

import numpy as np


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_len_and_pad(size, window, stride, dilation, padding):
    """Output length and (before, after) padding along one axis, by TensorFlow's rules."""
    span = dilation * (window - 1) + 1
    if padding == "valid":
        return math.floor((size - span) / stride) + 1, (0, 0)
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, (total // 2, total - total // 2)


def _padded(x, pads_h, pads_w, value=0.0):
    return np.pad(x, ((0, 0), pads_h, pads_w, (0, 0)), constant_values=value)


def conv2d(x, kernel, strides=1, padding="valid", dilation_rate=1, groups=1):
    n, h, w, cin = x.shape
    kh, kw, cg, cout = kernel.shape
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    ho, pads_h = out_len_and_pad(h, kh, sh, dh, padding)
    wo, pads_w = out_len_and_pad(w, kw, sw, dw, padding)
    xp = _padded(x, pads_h, pads_w)
    og = cout // groups
    y = np.zeros((n, ho, wo, cout), dtype=x.dtype)
    for b in range(n):
        for oh in range(ho):
            for ow in range(wo):
                for o in range(cout):
                    g = o // og
                    acc = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            for c in range(cg):
                                acc += (
                                    xp[b, oh * sh + i * dh, ow * sw + j * dw, g * cg + c]
                                    * kernel[i, j, c, o]
                                )
                    y[b, oh, ow, o] = acc
    return y


def conv2d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1, groups=1):
    """dL/dx and dL/dkernel by distributing each output's gradient over the terms that made it."""
    n, h, w, cin = x.shape
    kh, kw, cg, cout = kernel.shape
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    ho, pads_h = out_len_and_pad(h, kh, sh, dh, padding)
    wo, pads_w = out_len_and_pad(w, kw, sw, dw, padding)
    xp = _padded(x, pads_h, pads_w)
    dxp = np.zeros_like(xp)
    dk = np.zeros_like(kernel)
    og = cout // groups
    for b in range(n):
        for oh in range(ho):
            for ow in range(wo):
                for o in range(cout):
                    g = o // og
                    for i in range(kh):
                        for j in range(kw):
                            for c in range(cg):
                                r, s, ch = oh * sh + i * dh, ow * sw + j * dw, g * cg + c
                                dk[i, j, c, o] += xp[b, r, s, ch] * dy[b, oh, ow, o]
                                dxp[b, r, s, ch] += kernel[i, j, c, o] * dy[b, oh, ow, o]
    dx = dxp[:, pads_h[0] : pads_h[0] + h, pads_w[0] : pads_w[0] + w]
    return dx, dk


def depthwise_conv2d(x, kernel, strides=1, padding="valid", dilation_rate=1):
    n, h, w, cin = x.shape
    kh, kw, _, mult = kernel.shape
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    ho, pads_h = out_len_and_pad(h, kh, sh, dh, padding)
    wo, pads_w = out_len_and_pad(w, kw, sw, dw, padding)
    xp = _padded(x, pads_h, pads_w)
    y = np.zeros((n, ho, wo, cin * mult), dtype=x.dtype)
    for b in range(n):
        for oh in range(ho):
            for ow in range(wo):
                for c in range(cin):
                    for m in range(mult):
                        acc = 0.0
                        for i in range(kh):
                            for j in range(kw):
                                acc += (
                                    xp[b, oh * sh + i * dh, ow * sw + j * dw, c]
                                    * kernel[i, j, c, m]
                                )
                        y[b, oh, ow, c * mult + m] = acc
    return y


def depthwise_conv2d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1):
    n, h, w, cin = x.shape
    kh, kw, _, mult = kernel.shape
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    ho, pads_h = out_len_and_pad(h, kh, sh, dh, padding)
    wo, pads_w = out_len_and_pad(w, kw, sw, dw, padding)
    xp = _padded(x, pads_h, pads_w)
    dxp = np.zeros_like(xp)
    dk = np.zeros_like(kernel)
    for b in range(n):
        for oh in range(ho):
            for ow in range(wo):
                for c in range(cin):
                    for m in range(mult):
                        g = dy[b, oh, ow, c * mult + m]
                        for i in range(kh):
                            for j in range(kw):
                                r, s = oh * sh + i * dh, ow * sw + j * dw
                                dk[i, j, c, m] += xp[b, r, s, c] * g
                                dxp[b, r, s, c] += kernel[i, j, c, m] * g
    return dxp[:, pads_h[0] : pads_h[0] + h, pads_w[0] : pads_w[0] + w], dk


def _pool_windows(x, pool_size, strides, padding):
    """Yield (b, oh, ow, rows, cols) with the real (unpadded) input rows/cols of each window."""
    n, h, w, _ = x.shape
    (ph, pw) = pair(pool_size)
    (sh, sw) = pair(strides if strides is not None else pool_size)
    ho, (pt, _) = out_len_and_pad(h, ph, sh, 1, padding)
    wo, (pl, _) = out_len_and_pad(w, pw, sw, 1, padding)
    for b in range(n):
        for oh in range(ho):
            for ow in range(wo):
                rows = [r for r in range(oh * sh - pt, oh * sh - pt + ph) if 0 <= r < h]
                cols = [s for s in range(ow * sw - pl, ow * sw - pl + pw) if 0 <= s < w]
                yield b, oh, ow, rows, cols


def _pool_out_shape(x, pool_size, strides, padding):
    (ph, pw) = pair(pool_size)
    (sh, sw) = pair(strides if strides is not None else pool_size)
    ho, _ = out_len_and_pad(x.shape[1], ph, sh, 1, padding)
    wo, _ = out_len_and_pad(x.shape[2], pw, sw, 1, padding)
    return (x.shape[0], ho, wo, x.shape[3])


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    y = np.zeros(_pool_out_shape(x, pool_size, strides, padding), dtype=x.dtype)
    for b, oh, ow, rows, cols in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            y[b, oh, ow, c] = max(x[b, r, s, c] for r in rows for s in cols)
    return y


def max_pool2d_backward(dy, x, pool_size, strides=None, padding="valid"):
    """Each window's gradient goes to its first maximum in row-major order (TensorFlow's choice)."""
    dx = np.zeros_like(x)
    for b, oh, ow, rows, cols in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            best = None
            for r in rows:
                for s in cols:
                    if best is None or x[b, r, s, c] > x[b, best[0], best[1], c]:
                        best = (r, s)
            dx[b, best[0], best[1], c] += dy[b, oh, ow, c]
    return dx


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    y = np.zeros(_pool_out_shape(x, pool_size, strides, padding), dtype=x.dtype)
    for b, oh, ow, rows, cols in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            y[b, oh, ow, c] = sum(x[b, r, s, c] for r in rows for s in cols) / (
                len(rows) * len(cols)
            )
    return y


def avg_pool2d_backward(dy, x_shape, pool_size, strides=None, padding="valid"):
    x = np.zeros(x_shape, dtype=dy.dtype)
    dx = np.zeros_like(x)
    for b, oh, ow, rows, cols in _pool_windows(x, pool_size, strides, padding):
        for c in range(x.shape[3]):
            share = dy[b, oh, ow, c] / (len(rows) * len(cols))
            for r in rows:
                for s in cols:
                    dx[b, r, s, c] += share
    return dx


def numerical_gradient(f, x, dy, eps):
    """Central finite differences of ``sum(f(x) * dy)`` with respect to ``x`` (float64)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for idx in range(flat.size):
        old = flat[idx]
        flat[idx] = old + eps
        plus = np.sum(f(x) * dy)
        flat[idx] = old - eps
        minus = np.sum(f(x) * dy)
        flat[idx] = old
        gflat[idx] = (plus - minus) / (2 * eps)
    return grad
