"""``TorchDataLoaderAdapter``: a ``torch.utils.data.DataLoader``, read as NumPy arrays.

torch is never imported by numpykeras: a loader is recognised by the module of its class.
"""

from __future__ import annotations

from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter

_SOURCE = "a torch DataLoader"


def is_torch_dataloader(x) -> bool:
    """Whether ``x`` is a ``torch.utils.data.DataLoader``, without importing torch."""
    return any(
        cls.__name__ == "DataLoader" and cls.__module__.startswith("torch.utils.data")
        for cls in type(x).__mro__
    )


class TorchDataLoaderAdapter(DataAdapter):
    """Adapter for a ``DataLoader`` whose batches are ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (a list is read as a tuple) of tensors or arrays.

    Args:
        dataloader: the ``DataLoader``.

    Raises:
        ValueError: ``dataloader`` is not a ``DataLoader``.
    """

    def __init__(self, dataloader):
        if not is_torch_dataloader(dataloader):
            raise ValueError(
                "Expected argument `dataloader` to be an instance of "
                f"`torch.utils.data.DataLoader`. Received: {dataloader}"
            )
        self._dataloader = dataloader
        self._batch_size = dataloader.batch_size
        self._num_batches = None
        self._partial_batch_size = None
        if hasattr(dataloader.dataset, "__len__"):
            self._num_batches = len(dataloader)
            if self._batch_size is not None:
                self._partial_batch_size = (
                    0 if dataloader.drop_last else len(dataloader.dataset) % self._batch_size
                )

    def get_numpy_iterator(self):
        for batch in self._dataloader:
            yield data_adapter_utils.standardize_batch(batch, _SOURCE)

    @property
    def num_batches(self):
        return self._num_batches

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def has_partial_batch(self):
        if self._partial_batch_size is None:
            return None
        return self._partial_batch_size > 0

    @property
    def partial_batch_size(self):
        return self._partial_batch_size or None
