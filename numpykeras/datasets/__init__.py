"""Keras's small image datasets, read from (and cached in) Keras's own cache folder."""

from numpykeras.datasets import cifar10, cifar100, fashion_mnist, mnist
from numpykeras.utils.file_utils import DataNotAvailableError

__all__ = ["DataNotAvailableError", "cifar10", "cifar100", "fashion_mnist", "mnist"]
