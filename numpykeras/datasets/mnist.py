"""MNIST handwritten digits, from Keras's copy (``mnist.npz`` in the Keras cache)."""

from __future__ import annotations

import numpy as np

from numpykeras.datasets._common import fetch_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # sha256


def load_data(path="mnist.npz"):
    """Load the MNIST dataset: 60,000 training and 10,000 test 28x28 grayscale digits.

    The file is looked up in (and downloaded to) ``~/.keras/datasets/`` (``$KERAS_HOME/datasets``
    when ``KERAS_HOME`` is set), exactly where Keras keeps it.

    Args:
        path: file name of the cached copy, relative to the cache folder.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(N, 28, 28)`` with values
        0-255 and uint8 labels 0-9 of shape ``(N,)``.

    Raises:
        DataNotAvailableError: if the file is not cached and cannot be downloaded.
    """
    path = fetch_file("MNIST", path, ORIGIN, file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    return (x_train, y_train), (x_test, y_test)
