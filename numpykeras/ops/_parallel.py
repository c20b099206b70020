"""Runs a kernel's batch chunks on two (or more) threads, each with a single-threaded BLAS.

NumPy's OpenBLAS parallelises each matmul over its threads, but the rest of a convolution (the
im2col copies, pooling, bias and ReLU) runs on one core. Splitting the chunks between Python
threads instead (NumPy releases the GIL in BLAS calls, copies and ufunc loops), each calling a
one-thread BLAS, keeps every core busy for the whole step: on two cores the reference CNN's
``predict_on_batch`` of 256 images went from about 30 ms to 18 ms.

OpenBLAS's thread count is process-wide (``openblas_set_num_threads``; in the pthreads builds
bundled with NumPy wheels even ``openblas_set_num_threads_local`` changes it for every thread),
so :func:`map_chunks` lowers it to one only while its parts run (the calling thread waits for
them) and puts it back afterwards; concurrent splits share that window through a counter. The
thread budget is OpenBLAS's own count at first use (``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS``), capped by the usable cores. Without those functions (another BLAS, not
Linux) or with a budget of one thread, chunks run in the calling thread exactly as before.
``NUMPYKERAS_KERNEL_THREADS=1`` turns the splitting off.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

_lock = threading.Lock()
_state = {}  # "threads", "set_threads", "executor", "active", "saved": filled on first use
_local = threading.local()  # .kernel_thread is True in the kernel threads themselves


def _reset_after_fork():
    # a forked child has none of the parent's threads (nor a usable lock): start again
    global _lock
    _lock = threading.Lock()
    _state.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _find_blas_controls():
    """``(set_threads, get_threads)`` ctypes functions of the loaded OpenBLAS, or ``None``."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        if not os.path.isfile(path):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        found = []
        for names in (
            ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
             "openblas_set_num_threads"),
            ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
             "openblas_get_num_threads"),
        ):  # fmt: skip
            fn = next((getattr(lib, n) for n in names if hasattr(lib, n)), None)
            found.append(fn)
        set_threads, get = found
        if set_threads is None or get is None:
            continue
        set_threads.restype, set_threads.argtypes = None, [ctypes.c_int]
        get.restype, get.argtypes = ctypes.c_int, []
        return set_threads, get
    return None


def _init():
    with _lock:
        if _state:
            return
        threads, set_threads, get = 1, None, None
        setting = os.environ.get("NUMPYKERAS_KERNEL_THREADS", "").strip()
        controls = None if setting == "1" else _find_blas_controls()
        if controls is not None:
            set_threads, get = controls
            try:
                cores = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                cores = os.cpu_count() or 1
            threads = max(1, min(int(get()), cores))
        _state["set_threads"] = set_threads
        _state["get_threads"] = get
        _state["active"] = 0  # splits running now
        _state["saved"] = None  # the BLAS thread count to restore when none is
        _state["executor"] = None
        if threads > 1:
            _state["executor"] = ThreadPoolExecutor(
                threads, thread_name_prefix="numpykeras-kernel", initializer=_mark_kernel_thread
            )
        _state["threads"] = threads


def _mark_kernel_thread():
    _local.kernel_thread = True


def kernel_threads() -> int:
    """How many threads :func:`map_chunks` splits work between (1: no splitting)."""
    if "threads" not in _state:
        _init()
    return _state["threads"]


def _enter_single_blas():
    """Lowers OpenBLAS to one thread for the duration of a split (counted, see the module)."""
    set_threads = _state.get("set_threads")
    if set_threads is None:  # no BLAS control (tests force splitting this way)
        return
    with _lock:
        if _state["active"] == 0:
            _state["saved"] = _state["get_threads"]()
            set_threads(1)
        _state["active"] += 1


def _exit_single_blas():
    set_threads = _state.get("set_threads")
    if set_threads is None:
        return
    with _lock:
        _state["active"] -= 1
        if _state["active"] == 0:
            set_threads(_state["saved"])


def single_threaded_blas(fn):
    """Decorator: OpenBLAS stays at one thread for the whole call of ``fn`` (a model's fit,
    predict, evaluate or call), instead of being lowered and restored around every kernel.

    Each restore to two threads wakes OpenBLAS's own worker thread, which then spins on a core
    for a while, right when the next layer's kernel threads need both cores: on ResNet50 that
    toggling cost 30% of a one-image prediction (104 against 72 ms; batch 8 did not change beyond
    noise). Inside the call every large
    matmul already runs on the kernel threads (``matmul`` below), so nothing is lost. Nested
    calls share the window (counted); without kernel threads this changes nothing.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kernel_threads() < 2 or getattr(_local, "kernel_thread", False):
            return fn(*args, **kwargs)
        _enter_single_blas()
        try:
            return fn(*args, **kwargs)
        finally:
            _exit_single_blas()

    return wrapper


def map_chunks(work, starts: list) -> list:
    """``[work(part), ...]`` over a split of the chunk offsets ``starts``, one part per thread.

    ``work(part)`` processes the chunks whose offsets are in ``part`` (a list) and returns a
    partial result; it must only write to places no other part writes to, and take its scratch
    buffers in its own thread. With fewer than two chunks, or one thread, this is
    ``[work(starts)]`` in the calling thread (also when called from a kernel thread).
    """
    threads = min(kernel_threads(), len(starts))
    if threads < 2 or getattr(_local, "kernel_thread", False):
        return [work(starts)]
    parts = [starts[i::threads] for i in range(threads)]
    _enter_single_blas()
    try:
        # the first part runs in the calling thread (marked as a kernel thread meanwhile, so
        # it never splits again), the others on the pool's threads: one hand-off fewer
        futures = [_state["executor"].submit(work, p) for p in parts[1:]]
        _local.kernel_thread = True
        try:
            first = work(parts[0])
        finally:
            _local.kernel_thread = False
            wait(futures)  # all of them, even if one fails, before BLAS gets its threads back
        return [first] + [f.result() for f in futures]
    finally:
        _exit_single_blas()


def run_beside(fn, *args):
    """Starts ``fn(*args)`` on a kernel thread while the caller goes on; returns a function
    that waits for it and gives its result (or raises its exception).

    For work that overlaps with the caller's own (a recurrent kernel's weight gradients, one
    matmul per block of timesteps, while the caller walks the earlier timesteps). Call it
    inside a ``single_threaded_blas`` window and wait before leaving it, so that both threads
    run a one-thread BLAS. With one kernel thread, or from a kernel thread, ``fn`` runs at once.
    """
    if kernel_threads() < 2 or getattr(_local, "kernel_thread", False):
        result = fn(*args)
        return lambda: result
    return _state["executor"].submit(fn, *args).result


# Matmuls smaller than this (multiply-adds, about 0.25 ms on one core) run in the calling
# thread: a hand-off (about 0.1 ms until the other thread runs) costs more than it saves.
# From 2**22 to 2**24: MobileNetV2's one-image predict 31 -> 29.5 ms, nothing else changed.
_SPLIT_MIN_MACS = 1 << 24


def matmul(a: np.ndarray, b: np.ndarray, out=None) -> np.ndarray:
    """``a @ b`` for 2-D ``a`` (M, K) and ``b`` (K, N), split between the kernel threads.

    Large products are cut into row blocks of the output (column blocks when N > M), one per
    thread, so a model's matmuls and its convolution chunks all run on the same single-BLAS
    threads: mixing them with the calling thread's multi-threaded BLAS calls makes both slower
    (OpenBLAS's own worker threads keep spinning on the cores). Small products and the
    one-thread case are a plain ``np.matmul``.
    """
    m, k = a.shape
    n = b.shape[1]
    threads = kernel_threads()
    if threads < 2 or m * k * n < _SPLIT_MIN_MACS or max(m, n) < 2 * threads:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
    by_rows = m >= n
    size = m if by_rows else n
    step = -(-size // threads)

    def work(part):
        for s in part:
            if by_rows:
                np.matmul(a[s : s + step], b, out=out[s : s + step])
            else:
                np.matmul(a, b[:, s : s + step], out=out[:, s : s + step])

    map_chunks(work, list(range(0, size, step)))
    return out
