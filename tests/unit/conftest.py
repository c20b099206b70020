"""Fixtures shared by the unit tests of the convolution kernels and the fused inference path."""

import pytest


@pytest.fixture
def kernel_split_threads(monkeypatch):
    """Forces the kernels onto their multi-thread paths on small test shapes: 3 kernel threads
    (whatever the BLAS), tiny chunks, no minimum size for splitting a chunk list or a matmul,
    and no minimum size for the convolution's column split (``conv._SPLIT_MIN_MACS``, imported
    by name into ``ops/conv.py``, so it is patched there too)."""
    from concurrent.futures import ThreadPoolExecutor

    from numpykeras.ops import _parallel, pooling
    from numpykeras.ops import conv as conv_module

    executor = ThreadPoolExecutor(3)
    monkeypatch.setattr(
        _parallel, "_state", {"threads": 3, "set_threads": None, "executor": executor}
    )
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 3000)
    monkeypatch.setattr(conv_module, "_FORWARD_CHUNK_BYTES", 3000)
    monkeypatch.setattr(conv_module, "_SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(conv_module, "_SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(pooling, "_SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "_SPLIT_MIN_MACS", 0)
    yield
    executor.shutdown()
