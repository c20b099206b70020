"""CIFAR-10: 32x32 colour images in 10 classes, from the original pickled Python batches."""

from __future__ import annotations

import os

import numpy as np

from numpykeras.datasets._common import cifar_folder, load_cifar_batch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # sha256
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"


def load_data():
    """Load CIFAR-10: 50,000 training and 10,000 test images.

    Uses Keras's cached copy (``~/.keras/datasets/cifar-10-batches-py-target/`` from Keras 3, or
    ``~/.keras/datasets/cifar-10-batches-py/`` from Keras 2; ``$KERAS_HOME`` replaces ``~/.keras``
    when set), a ``cifar-10-python.tar.gz`` placed in that folder, or downloads the archive.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(N, 32, 32, 3)``
        (channels last) and uint8 labels 0-9 of shape ``(N, 1)``.

    Raises:
        DataNotAvailableError: if the data is not cached and cannot be downloaded.
    """
    path = cifar_folder("CIFAR-10", FOLDER, ORIGIN, FILE_HASH, TRAIN_FILES + [TEST_FILE])

    batches = [load_cifar_batch(os.path.join(path, name)) for name in TRAIN_FILES]
    x_train = np.concatenate([data for data, _ in batches]).astype("uint8", copy=False)
    y_train = np.concatenate([np.asarray(labels, "uint8") for _, labels in batches])
    x_test, y_test = load_cifar_batch(os.path.join(path, TEST_FILE))
    x_test = np.asarray(x_test, "uint8")
    y_test = np.asarray(y_test, "uint8")

    # (N, 3, 32, 32) -> (N, 32, 32, 3); labels (N,) -> (N, 1)
    x_train = np.ascontiguousarray(x_train.transpose(0, 2, 3, 1))
    x_test = np.ascontiguousarray(x_test.transpose(0, 2, 3, 1))
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
