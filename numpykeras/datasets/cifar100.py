"""CIFAR-100: 32x32 colour images in 100 fine (20 coarse) classes, from the pickled batches."""

from __future__ import annotations

import os

import numpy as np

from numpykeras.datasets._common import cifar_folder, load_cifar_batch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # sha256
FOLDER = "cifar-100-python"


def load_data(label_mode="fine"):
    """Load CIFAR-100: 50,000 training and 10,000 test images.

    Uses Keras's cached copy (``~/.keras/datasets/cifar-100-python-target/`` from Keras 3, or
    ``~/.keras/datasets/cifar-100-python/`` from Keras 2; ``$KERAS_HOME`` replaces ``~/.keras``
    when set), a ``cifar-100-python.tar.gz`` placed in that folder, or downloads the archive.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 super-classes).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(N, 32, 32, 3)``
        (channels last) and int64 labels of shape ``(N, 1)``, as Keras returns them.

    Raises:
        ValueError: for an unknown ``label_mode``.
        DataNotAvailableError: if the data is not cached and cannot be downloaded.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: label_mode={label_mode}.'
        )
    path = cifar_folder("CIFAR-100", FOLDER, ORIGIN, FILE_HASH, ["train", "test"])
    label_key = f"{label_mode}_labels"
    x_train, y_train = load_cifar_batch(os.path.join(path, "train"), label_key=label_key)
    x_test, y_test = load_cifar_batch(os.path.join(path, "test"), label_key=label_key)

    # (N, 3, 32, 32) -> (N, 32, 32, 3); labels (N,) -> (N, 1)
    x_train = np.ascontiguousarray(x_train.transpose(0, 2, 3, 1))
    x_test = np.ascontiguousarray(x_test.transpose(0, 2, 3, 1))
    y_train = np.reshape(np.asarray(y_train, "int64"), (-1, 1))
    y_test = np.reshape(np.asarray(y_test, "int64"), (-1, 1))
    return (x_train, y_train), (x_test, y_test)
