"""Fashion-MNIST: 28x28 grayscale images of 10 kinds of clothing, in the original idx format."""

from __future__ import annotations

import gzip
import os

import numpy as np

from numpykeras.datasets._common import fetch_file

ORIGIN_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
FILES = [
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
]

_LABELS_MAGIC = 2049  # idx1, unsigned bytes
_IMAGES_MAGIC = 2051  # idx3, unsigned bytes


def _read_idx(path, magic, header_size):
    """The uint8 payload of a gzipped idx file, after checking its magic number."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic or len(raw) < header_size:
        raise ValueError(
            f"{path} is not an idx file of the expected kind: expected magic number {magic}, "
            f"received {found}. The file may be corrupted; delete it to download it again."
        )
    return np.frombuffer(raw, np.uint8, offset=header_size)


def load_data():
    """Load Fashion-MNIST: 60,000 training and 10,000 test images.

    The four ``.gz`` files are looked up in (and downloaded to) ``~/.keras/datasets/fashion-mnist/``
    (under ``$KERAS_HOME`` when set), where Keras keeps them.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(N, 28, 28)`` and uint8
        labels 0-9 of shape ``(N,)``.

    Raises:
        DataNotAvailableError: if a file is not cached and cannot be downloaded.
    """
    extra = f" (the same folder needs all four files of {ORIGIN_BASE}: {', '.join(FILES)})"
    paths = [
        fetch_file(
            "Fashion-MNIST", fname, ORIGIN_BASE + fname, cache_subdir=CACHE_SUBDIR, extra=extra
        )
        for fname in FILES
    ]
    y_train = _read_idx(paths[0], _LABELS_MAGIC, 8)
    x_train = _read_idx(paths[1], _IMAGES_MAGIC, 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], _LABELS_MAGIC, 8)
    x_test = _read_idx(paths[3], _IMAGES_MAGIC, 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
