"""Data adapters: one interface over every kind of data ``fit``, ``evaluate`` and ``predict``
accept, as in Keras 3 (``keras/src/trainers/data_adapters``).

:func:`get_data_adapter` picks the adapter for ``x``: arrays (and nested lists, tuples, dicts of
arrays or array-likes), a ``tf.data.Dataset``, a ``keras.utils.PyDataset``, a torch
``DataLoader``, or a Python generator or iterator. Every adapter yields batches as tuples
``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of NumPy structures.
"""

from __future__ import annotations

import warnings

from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter
from numpykeras.trainers.data_adapters.generator_data_adapter import (
    GeneratorDataAdapter,
    is_generator,
)
from numpykeras.trainers.data_adapters.py_dataset_adapter import (
    PyDatasetAdapter,
    dataset_num_batches,
    is_py_dataset,
)
from numpykeras.trainers.data_adapters.tf_dataset_adapter import TFDatasetAdapter, is_tf_dataset
from numpykeras.trainers.data_adapters.torch_data_loader_adapter import (
    TorchDataLoaderAdapter,
    is_torch_dataloader,
)

__all__ = [
    "ArrayDataAdapter",
    "DataAdapter",
    "GeneratorDataAdapter",
    "PyDatasetAdapter",
    "TFDatasetAdapter",
    "TorchDataLoaderAdapter",
    "get_data_adapter",
    "is_generator",
    "is_py_dataset",
    "is_tf_dataset",
    "is_torch_dataloader",
    "raise_unsupported_arg",
]


def get_data_adapter(
    x,
    y=None,
    sample_weight=None,
    batch_size=None,
    steps_per_epoch=None,
    shuffle=False,
    class_weight=None,
):
    """The adapter for ``x`` (and ``y``, ``sample_weight``), as Keras chooses it.

    Args:
        x: the inputs: arrays or a structure of them, a ``tf.data.Dataset``, a
            ``PyDataset``, a torch ``DataLoader``, a generator or iterator, or a
            ``DataAdapter`` (returned as it is).
        y: the targets, only with arrays.
        sample_weight: the sample weights, only with arrays.
        batch_size: the batch size for arrays (default: 32, or ``ceil(samples /
            steps_per_epoch)`` when ``steps_per_epoch`` is given).
        steps_per_epoch: the number of steps per epoch (used here only for that default).
        shuffle: ``True``, ``False`` or ``"batch"`` for arrays; ``True`` shuffles the batch
            order of a finite ``PyDataset``; other inputs ignore it with Keras's warning.
        class_weight: ``{class index: weight}``; not supported for generators and torch
            loaders.

    Returns:
        A :class:`DataAdapter`.

    Raises:
        ValueError: ``y`` or ``sample_weight`` given with a dataset, ``PyDataset``,
            ``DataLoader`` or generator (they belong in its batches); ``class_weight`` with a
            generator or ``DataLoader``; or data of an unrecognized type.
    """
    if isinstance(x, DataAdapter):
        return x
    if data_adapter_utils.can_convert_arrays((x, y, sample_weight)):
        return ArrayDataAdapter(
            x,
            y,
            sample_weight=sample_weight,
            batch_size=batch_size,
            steps=steps_per_epoch,
            shuffle=shuffle,
            class_weight=class_weight,
        )
    if is_tf_dataset(x):
        _check_no_targets(y, sample_weight, "tf.data.Dataset")
        if shuffle:
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was "
                "provided as a tf.data.Dataset. The Dataset is expected to already be "
                "shuffled (via `.shuffle(buffer_size)`).",
                stacklevel=2,
            )
        return TFDatasetAdapter(x, class_weight=class_weight)
    if is_py_dataset(x):
        _check_no_targets(y, sample_weight, "PyDataset")
        if shuffle and dataset_num_batches(x) is None:
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was "
                "provided as an infinite PyDataset. The PyDataset is expected to already be "
                "shuffled.",
                stacklevel=2,
            )
        return PyDatasetAdapter(x, class_weight=class_weight, shuffle=shuffle)
    if is_torch_dataloader(x):
        _check_no_targets(y, sample_weight, "torch DataLoader")
        if class_weight is not None:
            raise ValueError(
                "Argument `class_weight` is not supported for torch DataLoader inputs. You can "
                "modify your `__getitem__ ` method to return input tensor, label and "
                "class_weight. Alternatively, use a custom training loop. See the User Guide "
                "https://keras.io/guides/custom_train_step_in_torch/"
                "#supporting-sampleweight-amp-classweight for more details. "
                f"Received: class_weight={class_weight}"
            )
        if shuffle:
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was "
                "provided as a torch DataLoader. The DataLoader is expected to already be "
                "shuffled.",
                stacklevel=2,
            )
        return TorchDataLoaderAdapter(x)
    if is_generator(x):
        _check_no_targets(y, sample_weight, "generator")
        if class_weight is not None:
            raise ValueError(
                "Argument `class_weight` is not supported for Python generator inputs. "
                f"Received: class_weight={class_weight}"
            )
        if shuffle:
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was "
                "provided as a generator. The generator is expected to yield already-shuffled "
                "data.",
                stacklevel=2,
            )
        return GeneratorDataAdapter(x)
    _raise_unrecognized(x, y, sample_weight)


def raise_unsupported_arg(arg_name, arg_description, input_type):
    """Keras's error for ``y`` or ``sample_weight`` passed with a dataset-like ``x``."""
    raise ValueError(
        f"When providing `x` as a {input_type}, `{arg_name}` should not be passed. Instead, "
        f"{arg_description} should be included as part of the {input_type}."
    )


def _check_no_targets(y, sample_weight, input_type):
    if y is not None:
        raise_unsupported_arg("y", "the targets", input_type)
    if sample_weight is not None:
        raise_unsupported_arg("sample_weights", "the sample weights", input_type)


def _raise_unrecognized(x, y, sample_weight):
    """Keras's "Unrecognized data type" error, naming the argument that holds a leaf that is
    not an array (``x`` when ``x`` itself is not data)."""
    for name, value in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        if not data_adapter_utils.can_convert_arrays(value):
            # Raises the error (with its hint for lists of numbers) for this argument.
            data_adapter_utils._convert_structure(value, name)
    raise ValueError(f"Unrecognized data type: x={x} (of type {type(x)})")
