"""``TFDatasetAdapter``: a ``tf.data.Dataset`` of batches, read as NumPy arrays.

TensorFlow is never imported by numpykeras: a dataset is recognised by the module of its class,
and only its own methods (iteration, ``cardinality``, ``element_spec``) are used.
"""

from __future__ import annotations

from numpykeras.trainers.data_adapters import data_adapter_utils
from numpykeras.trainers.data_adapters.data_adapter import DataAdapter

_SOURCE = "a tf.data.Dataset"


def is_tf_dataset(x) -> bool:
    """Whether ``x`` is a ``tf.data.Dataset`` (or a distributed dataset), without importing
    TensorFlow."""
    for cls in type(x).__mro__:
        if cls.__name__ in (
            "DatasetV2",
            "DistributedDataset",
            "DistributedDatasetsFromFunction",
        ) and cls.__module__.startswith("tensorflow.python."):
            return True
    return False


def _spec_leaves(spec) -> list:
    """The leaves of a dataset's ``element_spec`` (tuples, lists and dicts of specs)."""
    return [s for s in data_adapter_utils.flatten(spec) if s is not None]


def _rank(spec):
    shape = getattr(spec, "shape", None)
    return None if shape is None or shape.rank is None else shape.rank


def _is_unbatched(dataset) -> bool:
    """Whether ``dataset`` surely yields single samples rather than batches.

    True when an element has a rank-0 part, or when the chain of unary transformations behind
    the dataset reaches ``Dataset.from_tensor_slices`` (or an ``unbatch()``) without a
    ``batch()`` while the elements keep the slices' ranks. Anything it cannot follow (zip,
    generators, interleave) counts as batched.
    """
    leaves = _spec_leaves(dataset.element_spec)
    ranks = [_rank(s) for s in leaves]
    if any(r == 0 for r in ranks):
        return True
    node = dataset
    while node is not None:
        name = type(node).__name__
        if "Unbatch" in name:
            return True
        if "Batch" in name:
            return False
        if name == "_TensorSliceDataset":
            source_ranks = [_rank(s) for s in _spec_leaves(node.element_spec)]
            return None not in ranks and ranks == source_ranks
        node = getattr(node, "_input_dataset", None)
    return False


def _check_leaf(value):
    name = type(value).__name__
    if name in ("RaggedTensor", "SparseTensor"):
        raise ValueError(
            f"numpykeras reads dense tensors only; the dataset yields a tf.{name}. Convert it "
            "in the dataset, e.g. with `.to_tensor()` or `tf.sparse.to_dense`."
        )
    return value


class TFDatasetAdapter(DataAdapter):
    """Adapter for a ``tf.data.Dataset`` whose elements are batches: ``x``, ``(x,)``,
    ``(x, y)`` or ``(x, y, sample_weight)``.

    Args:
        dataset: the dataset.
        class_weight: ``{class index: weight}``, turned into sample weights for batches
            ``(x, y)``.

    Raises:
        ValueError: ``dataset`` is not a ``tf.data.Dataset``, it is not batched (see
            :func:`_is_unbatched`), or ``class_weight`` is invalid.
        TypeError: ``class_weight`` is not a dict of numbers.
    """

    def __init__(self, dataset, class_weight=None):
        if not is_tf_dataset(dataset):
            raise ValueError(
                f"Expected argument `dataset` to be a tf.data.Dataset. Received: {dataset}"
            )
        if hasattr(dataset, "element_spec") and _is_unbatched(dataset):
            raise ValueError(
                "The tf.data.Dataset passed as `x` is not batched: each of its elements is one "
                f"sample (element_spec: {dataset.element_spec}). Keras models read a dataset "
                "batch by batch; batch it first, e.g. `dataset.batch(32)`."
            )
        if class_weight is not None:
            data_adapter_utils.validate_class_weight(class_weight)
        self._dataset = dataset
        self._class_weight = class_weight

    def _standardize(self, batch):
        batch = data_adapter_utils.map_structure(_check_leaf, batch)
        return data_adapter_utils.standardize_batch(batch, _SOURCE, self._class_weight)

    def get_numpy_iterator(self):
        for batch in self._dataset:
            yield self._standardize(batch)

    @property
    def num_batches(self):
        cardinality = self._dataset.cardinality
        cardinality = int(cardinality() if callable(cardinality) else cardinality)
        # Unknown (-2) and infinite (-1) cardinalities.
        return None if cardinality < 0 else cardinality

    @property
    def batch_size(self):
        leaves = _spec_leaves(self._dataset.element_spec)
        if not leaves or _rank(leaves[0]) is None:
            return None
        return leaves[0].shape[0]
