"""Per-thread scratch buffers for the temporaries of the convolution kernels.

A kernel's temporaries (column matrices, padded input chunks, per-chunk gradients) are a few MiB
each and are needed again by the next call of the same kernel. Allocating them afresh every call
makes the allocator hand memory back to the system and fault it in again (the kernel then zeroes
every page), which cost as much as the arithmetic in training steps. Instead each thread keeps
one growing buffer per purpose and hands out views of it.

Rules that keep this safe: a scratch view never leaves the kernel that asked for it (nothing
returned to a caller is scratch), a kernel never asks twice for the same ``tag`` while the first
view is in use, and buffers are per thread, so concurrent ``predict`` calls never share one.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(tag: str, shape, dtype, zero: bool = False) -> np.ndarray:
    """A C-contiguous ``shape`` array of ``dtype`` reusing this thread's buffer for ``tag``.

    Its content is whatever the last user left, unless ``zero`` (then it is filled with zeros).
    """
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    dtype = np.dtype(dtype)
    size = 1
    for d in shape:
        size *= int(d)
    key = (tag, dtype)
    buf = buffers.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype=dtype)
        buffers[key] = buf
    out = buf[:size].reshape(shape)
    if zero:
        out.fill(0)
    return out


def clear() -> None:
    """Frees this thread's scratch buffers."""
    _local.buffers = {}
