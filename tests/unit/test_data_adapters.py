"""Data adapters, ``EpochIterator`` and ``utils.PyDataset`` (Keras 3's
``trainers/data_adapters``): batching, shuffling, epochs and steps, and the errors.

No TensorFlow or torch here except in the two marked tests at the end, which skip when the
library is not installed.
"""

import math
import os
import threading
import warnings

import numpy as np
import pytest

from numpykeras import backend
from numpykeras.trainers.data_adapters import (
    ArrayDataAdapter,
    GeneratorDataAdapter,
    PyDatasetAdapter,
    get_data_adapter,
)
from numpykeras.trainers.data_adapters import data_adapter_utils as utils
from numpykeras.trainers.epoch_iterator import EpochIterator
from numpykeras.utils import PyDataset, Sequence

RAN_OUT = "Your input ran out of data"


def _epoch(iterator):
    """One epoch as a list of batches, and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        steps = list(iterator.enumerate_epoch())
    assert [s for s, _ in steps] == list(range(len(steps)))
    return [b for _, b in steps], [str(w.message) for w in caught]


def _first_column(batches, part=0):
    return [b[part][:, 0].tolist() for b in batches]


# --------------------------------------------------------------------------- arrays


def _legacy_fit_batches(x, y, batch_size, epochs, seed, shuffle=True):
    """The batches the former ``Model.fit`` loop took (``models/model.py`` before the
    trainer): one ``permutation(n)`` of the global generator per epoch, ``order[start:start +
    batch_size]`` per step."""
    rng = np.random.default_rng(seed)
    n = len(x)
    out = []
    for _ in range(epochs):
        order = rng.permutation(n) if shuffle else np.arange(n)
        for step in range(math.ceil(n / batch_size)):
            start = (step * batch_size) % n
            index = order[start : start + batch_size]
            out.append((x[index], y[index]))
    return out, rng


@pytest.mark.parametrize("shuffle", [True, False])
def test_array_batches_match_the_legacy_fit_loop(shuffle):
    x = np.arange(22, dtype="float32").reshape(11, 2)
    y = np.arange(11)
    expected, rng = _legacy_fit_batches(x, y, 4, epochs=3, seed=7, shuffle=shuffle)
    backend.set_seed(7)
    iterator = EpochIterator(x, y, batch_size=4, shuffle=shuffle)
    got = []
    for _ in range(3):
        batches, caught = _epoch(iterator)
        assert caught == []
        got.extend(batches)
    assert len(got) == len(expected)
    for (xb, yb), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(xb, ex)
        np.testing.assert_array_equal(yb, ey)
        assert xb.dtype == np.float32 and yb.dtype == y.dtype
    # Same number of draws: the global generator continues where the legacy one does.
    assert backend.global_generator().random() == rng.random()


def test_array_partial_batch_and_properties():
    x = np.zeros((10, 3))
    adapter = ArrayDataAdapter(x, batch_size=4)
    assert adapter.num_batches == 3
    assert adapter.batch_size == 4
    assert adapter.has_partial_batch is True
    assert adapter.partial_batch_size == 2
    batches = list(adapter.get_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(len(b) == 1 for b in batches)  # (x,) when there are no targets
    assert batches[0][0].dtype == np.float32  # float64 becomes floatx
    full = ArrayDataAdapter(x, batch_size=5)
    assert full.has_partial_batch is False and full.partial_batch_size is None
    # Default batch size: 32, or ceil(samples / steps) when steps are given.
    assert ArrayDataAdapter(np.zeros((100, 1))).batch_size == 32
    assert ArrayDataAdapter(np.zeros((100, 1)), steps=3).batch_size == 34


def test_array_shuffle_batch_permutes_within_batches():
    x = np.arange(10.0).reshape(10, 1)
    backend.set_seed(3)
    adapter = ArrayDataAdapter(x, batch_size=4, shuffle="batch")
    got = _first_column(adapter.get_numpy_iterator())
    rng = np.random.default_rng(3)
    expected = [
        (rng.permutation(stop - start) + start).tolist()
        for start, stop in ((0, 4), (4, 8), (8, 10))
    ]
    assert got == [[float(i) for i in batch] for batch in expected]


def test_array_nested_structures_dtypes_and_sample_weight():
    n = 6
    x = {"a": np.ones((n, 2)), "b": [np.zeros((n, 1), "float16"), np.arange(n)]}
    y = (np.ones((n, 1)), np.zeros(n, "int32"))
    sw = np.arange(n)  # ints become floatx
    batches = list(ArrayDataAdapter(x, y, sample_weight=sw, batch_size=4).get_numpy_iterator())
    bx, by, bsw = batches[1]
    assert list(bx) == ["a", "b"] and isinstance(bx["b"], list) and isinstance(by, tuple)
    assert bx["a"].dtype == np.float32 and bx["b"][0].dtype == np.float16
    assert bx["b"][1].dtype == np.arange(1).dtype and by[1].dtype == np.int32
    assert bsw.dtype == np.float32 and bsw.tolist() == [4.0, 5.0]
    # sample_weight without y: (x, None, sample_weight).
    xb, yb, swb = next(ArrayDataAdapter(x["a"], sample_weight=sw).get_numpy_iterator())
    assert yb is None and swb.shape == (n,)


class _ArrayLike:
    """Not a NumPy array; converts through ``__array__`` (as pandas objects do)."""

    def __init__(self, values):
        self.values = values

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


def test_array_likes_are_converted():
    x = _ArrayLike([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    adapter = get_data_adapter(x, _ArrayLike([0, 1, 0]), batch_size=2)
    assert isinstance(adapter, ArrayDataAdapter)
    xb, yb = next(adapter.get_numpy_iterator())
    assert isinstance(xb, np.ndarray) and xb.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_array_first_batch_draws_nothing():
    x = np.arange(8.0).reshape(8, 1)
    backend.set_seed(1)
    iterator = EpochIterator(x, batch_size=3, shuffle=True)
    (first,) = iterator.first_batch()
    assert first[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert backend.global_generator().random() == np.random.default_rng(1).random()


def test_array_errors():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="Data cardinality is ambiguous") as info:
        get_data_adapter(x, np.zeros(5))
    assert "'x' sizes: 4" in str(info.value) and "'y' sizes: 5" in str(info.value)
    with pytest.raises(ValueError, match=r"Unrecognized data type: y=\[0, 1, 0, 1\].*np.asarray"):
        get_data_adapter(x, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="Unrecognized data type: x=abc"):
        get_data_adapter("abc")
    with pytest.raises(ValueError, match="must be an array with a batch axis"):
        get_data_adapter(np.array(1.0))
    with pytest.raises(ValueError, match="Received no input data"):
        get_data_adapter(None)
    with pytest.raises(TypeError, match="`batch_size` must be a positive integer"):
        get_data_adapter(x, batch_size=2.0)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        get_data_adapter(x, batch_size=0)
    with pytest.raises(ValueError, match="`shuffle` must be True, False or 'batch'"):
        get_data_adapter(x, shuffle="yes")


def test_class_weight_to_sample_weights():
    x = np.zeros((4, 1))
    y = np.array([0, 1, 2, 1])
    (_, _, sw) = next(ArrayDataAdapter(x, y, class_weight={1: 3.0}).get_numpy_iterator())
    assert sw.dtype == np.float32 and sw.tolist() == [1.0, 3.0, 1.0, 3.0]
    one_hot = np.eye(3)[y]
    weights = utils.class_weight_to_sample_weights(one_hot, {0: 2.0, 2.0: 0.5})
    assert weights.tolist() == [2.0, 1.0, 0.5, 1.0]
    # One sigmoid unit: rounded probabilities/labels of shape (n, 1).
    sigmoid = utils.class_weight_to_sample_weights(np.array([[0.2], [0.9]]), {1: 4.0})
    assert sigmoid.tolist() == [1.0, 4.0]
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight`"):
        ArrayDataAdapter(x, y, sample_weight=np.ones(4), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        ArrayDataAdapter(x, [y, y], class_weight={0: 1.0})
    with pytest.raises(TypeError, match="must be a dict mapping class indices"):
        ArrayDataAdapter(x, y, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"Invalid `class_weight` key\(s\) \[4\]: .*\[0, 4\)"):
        utils.class_weight_to_sample_weights(y, {4: 2.0}, num_classes=4)
    with pytest.raises(ValueError, match=r"key\(s\) \[-1, 0.5\]"):
        utils.validate_class_weight({-1: 1.0, 0.5: 1.0})
    with pytest.raises(ValueError, match="must be finite"):
        utils.validate_class_weight({0: float("nan")})


def test_train_validation_split():
    x, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    (tx, ty, tsw), (vx, vy, vsw) = utils.train_validation_split((x, _ArrayLike(y), None), 0.3)
    assert tx.shape == (7, 1) and vy.tolist() == [7, 8, 9] and tsw is None and vsw is None
    assert tx.dtype == np.float32
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        utils.train_validation_split((x, y[:9]), 0.3)
    with pytest.raises(ValueError, match="must be a float between 0 and 1"):
        utils.train_validation_split((x,), 1.5)
    with pytest.raises(ValueError, match="leaves no training data: 2 sample"):
        utils.train_validation_split((x[:2],), 0.9)


# --------------------------------------------------------------------------- steps per epoch


def test_steps_per_epoch_smaller_than_the_data_continues_across_epochs():
    x = np.arange(10.0).reshape(10, 1)
    iterator = EpochIterator(x, batch_size=2, steps_per_epoch=3)
    assert iterator.num_batches == 3
    epochs = [_epoch(iterator) for _ in range(3)]
    # As Keras: the second epoch uses up the pass after 2 steps, warns, and the third starts
    # a new pass.
    assert _first_column(epochs[0][0]) == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert epochs[0][1] == []
    assert _first_column(epochs[1][0]) == [[6.0, 7.0], [8.0, 9.0]]
    assert len(epochs[1][1]) == 1 and RAN_OUT in epochs[1][1][0]
    assert _first_column(epochs[2][0]) == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_steps_per_epoch_larger_than_the_data_stops_with_a_warning():
    x = np.arange(5.0).reshape(5, 1)
    iterator = EpochIterator(x, batch_size=2, steps_per_epoch=7)
    for _ in range(2):
        batches, caught = _epoch(iterator)
        assert _first_column(batches) == [[0.0, 1.0], [2.0, 3.0], [4.0]]
        assert len(caught) == 1 and RAN_OUT in caught[0]


def test_epoch_iterator_steps_argument_errors():
    with pytest.raises(TypeError, match="`steps_per_epoch` must be a positive integer"):
        EpochIterator(np.zeros((2, 1)), steps_per_epoch=1.5)
    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive integer"):
        EpochIterator(np.zeros((2, 1)), steps_per_epoch=0)


# --------------------------------------------------------------------------- generators


def _finite_generator(num_batches=3):
    for i in range(num_batches):
        yield np.full((2, 1), float(i)), np.zeros((2, 1))


def test_finite_generator_one_pass_then_empty():
    iterator = EpochIterator(_finite_generator())
    assert iterator.num_batches is None
    batches, caught = _epoch(iterator)
    assert [b[0][0, 0] for b in batches] == [0.0, 1.0, 2.0] and caught == []
    assert iterator.num_batches == 3  # learned at the end of the pass
    batches, caught = _epoch(iterator)  # a generator is consumed once
    assert batches == [] and len(caught) == 1 and RAN_OUT in caught[0]


def test_finite_generator_shorter_than_steps_per_epoch_warns():
    iterator = EpochIterator(_finite_generator(3), steps_per_epoch=2)
    first, caught = _epoch(iterator)
    assert len(first) == 2 and caught == []
    second, caught = _epoch(iterator)
    assert [b[0][0, 0] for b in second] == [2.0]
    assert len(caught) == 1 and RAN_OUT in caught[0]


def test_infinite_generator_with_steps_per_epoch():
    def forever():
        i = 0
        while True:
            yield (np.full((1, 1), float(i)),)
            i += 1

    iterator = EpochIterator(forever(), steps_per_epoch=2)
    values = [[b[0][0, 0] for b in _epoch(iterator)[0]] for _ in range(3)]
    assert values == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_generator_batch_forms():
    x, y, sw = np.ones((2, 1)), np.zeros((2, 1)), np.array([1, 2])
    forms = [x, (x,), (x, y), [x, y], (x, y, sw), {"a": x}]
    batches = list(GeneratorDataAdapter(iter(forms)).get_numpy_iterator())
    assert [len(b) for b in batches] == [1, 1, 2, 2, 3, 1]
    assert batches[4][2].dtype == np.float32 and isinstance(batches[5][0], dict)
    adapter = GeneratorDataAdapter(iter([(x, y)]))
    assert adapter.num_batches is None and adapter.batch_size is None
    assert adapter.first_batch()[0] is not None
    with pytest.raises(ValueError, match="must yield at least one batch"):
        GeneratorDataAdapter(iter([]))
    with pytest.raises(ValueError, match="Received a tuple of 4 elements"):
        GeneratorDataAdapter(iter([(x, y, sw, sw)]))
    with pytest.raises(ValueError, match="must hold arrays or tensors.*`y` is"):
        GeneratorDataAdapter(iter([(x, "labels")]))


def test_generator_unsupported_arguments():
    with pytest.raises(
        ValueError,
        match="When providing `x` as a generator, `y` should not be passed. Instead, the "
        "targets should be included as part of the generator.",
    ):
        get_data_adapter(_finite_generator(), y=np.zeros(2))
    with pytest.raises(ValueError, match="as a generator, `sample_weights` should not be passed"):
        get_data_adapter(_finite_generator(), sample_weight=np.zeros(2))
    with pytest.raises(ValueError, match="`class_weight` is not supported for Python generator"):
        get_data_adapter(_finite_generator(), class_weight={0: 1.0})
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        get_data_adapter(_finite_generator(), shuffle=True)


# --------------------------------------------------------------------------- PyDataset


class Batches(PyDataset):
    """Batch ``i`` is ``(x, y)`` with ``x`` full of ``i``; ``y`` holds the process id, so a
    test can see where it was computed. Top-level, so it pickles for worker processes."""

    def __init__(self, num_batches=5, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.count = num_batches
        self.fail_at = fail_at
        self.events = []
        self.threads = set()

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if index == self.fail_at:
            raise RuntimeError(f"bad batch {index}")
        self.threads.add(threading.get_ident())
        return np.full((2, 1), float(index)), np.full((2, 1), os.getpid())

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def _indices(batches):
    return [b[0][0, 0] for b in batches]


def test_py_dataset_in_order_with_epoch_hooks():
    dataset = Batches()
    iterator = EpochIterator(dataset)
    assert isinstance(iterator.data_adapter, PyDatasetAdapter)
    assert iterator.num_batches == 5
    for _ in range(2):
        batches, caught = _epoch(iterator)
        assert _indices(batches) == [0.0, 1.0, 2.0, 3.0, 4.0] and caught == []
    assert dataset.events == ["begin", "end", "begin", "end"]
    assert dataset.threads == {threading.get_ident()}


def test_py_dataset_shuffle_draws_from_the_global_generator():
    backend.set_seed(5)
    iterator = EpochIterator(Batches(), shuffle=True)
    orders = [_indices(_epoch(iterator)[0]) for _ in range(2)]
    rng = np.random.default_rng(5)
    assert orders == [rng.permutation(5).tolist() for _ in range(2)]


def test_py_dataset_worker_threads():
    dataset = Batches(num_batches=6, workers=2, max_queue_size=3)
    batches, _ = _epoch(EpochIterator(dataset))
    assert _indices(batches) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert threading.get_ident() not in dataset.threads
    assert all(b[1][0, 0] == os.getpid() for b in batches)


def test_py_dataset_worker_processes():
    dataset = Batches(num_batches=3, workers=2, use_multiprocessing=True)
    batches, _ = _epoch(EpochIterator(dataset))
    assert _indices(batches) == [0.0, 1.0, 2.0]
    assert all(b[1][0, 0] != os.getpid() for b in batches)
    assert dataset.events == ["begin", "end"]


def test_py_dataset_worker_error_and_early_stop():
    with pytest.raises(RuntimeError, match="bad batch 2"):
        _epoch(EpochIterator(Batches(fail_at=2, workers=2)))
    dataset = Batches(num_batches=20, workers=2)
    iterator = EpochIterator(dataset, steps_per_epoch=3)
    for step, _ in iterator.enumerate_epoch():
        if step == 1:
            break  # the caller stops: the epoch still ends
    assert dataset.events == ["begin", "end"]
    iterator.reset()  # closes the pass and its worker pool
    assert not any(t.name.startswith("numpykeras_py_dataset") for t in threading.enumerate())


class _Endless(PyDataset):
    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return (np.full((1, 1), float(index)),)


def test_infinite_py_dataset_with_steps_per_epoch():
    with pytest.warns(UserWarning, match="provided as an infinite PyDataset"):
        iterator = EpochIterator(_Endless(), steps_per_epoch=2, shuffle=True)
    assert [_indices(_epoch(iterator)[0]) for _ in range(2)] == [[0.0, 1.0], [2.0, 3.0]]


class _OldSequence(Sequence):
    """The older API: no ``super().__init__()``, ``__len__`` and ``on_epoch_end`` only."""

    def __init__(self):
        self.ended = 0

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return np.full((1, 1), float(index)), np.zeros((1,))

    def on_epoch_end(self):
        self.ended += 1


def test_sequence_alias_and_missing_super_init():
    assert Sequence is PyDataset
    dataset = _OldSequence()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        iterator = EpochIterator(dataset)
    batches, _ = _epoch(iterator)
    assert _indices(batches) == [0.0, 1.0] and dataset.ended == 1


def test_py_dataset_class_weight_and_errors():
    adapter = get_data_adapter(Batches(num_batches=1), class_weight={0: 2.0})
    ((_, _, sw),) = list(adapter.get_numpy_iterator())
    assert sw.tolist() == [1.0, 1.0]  # labels are pids, not class 0
    with pytest.raises(ValueError, match="as a PyDataset, `y` should not be passed"):
        get_data_adapter(Batches(), y=np.zeros(2))
    with pytest.raises(ValueError, match="as a PyDataset, `sample_weights` should not be"):
        get_data_adapter(Batches(), sample_weight=np.zeros(2))
    with pytest.raises(TypeError, match="`workers` must be an integer"):
        Batches(workers=1.5)
    with pytest.raises(ValueError, match="`max_queue_size` must be >= 1"):
        Batches(max_queue_size=0)
    with pytest.raises(NotImplementedError, match="implement the `num_batches` property"):
        PyDataset().num_batches  # noqa: B018
    with pytest.raises(ValueError, match="has length 0"):
        get_data_adapter(Batches(num_batches=0)).first_batch()


def test_data_adapter_passthrough_and_unrecognized_type():
    adapter = ArrayDataAdapter(np.zeros((2, 1)))
    assert get_data_adapter(adapter) is adapter
    with pytest.raises(ValueError, match="Unrecognized data type: x=3"):
        get_data_adapter(3)


def test_unpack_and_pack():
    assert utils.unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert utils.unpack_x_y_sample_weight([1, 2]) == (1, 2, None)
    assert utils.unpack_x_y_sample_weight(1) == (1, None, None)
    with pytest.raises(ValueError, match="Data is expected to be in format"):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))
    assert utils.pack_x_y_sample_weight(1) == 1
    assert utils.pack_x_y_sample_weight([1, 2]) == ([1, 2],)
    assert utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert utils.list_to_tuple([1]) == (1,)


# --------------------------------------------------------------------------- TensorFlow, torch


def test_tf_data_dataset():
    """Marked: imports TensorFlow (skipped without it)."""
    tf = pytest.importorskip("tensorflow")
    x = np.arange(10.0, dtype="float32").reshape(5, 2)
    y = np.array([0, 1, 1, 0, 1])
    batched = tf.data.Dataset.from_tensor_slices((x, y)).batch(2).prefetch(1)
    iterator = EpochIterator(batched, class_weight={1: 3.0})
    assert iterator.num_batches == 3 and iterator.data_adapter.batch_size is None
    batches, caught = _epoch(iterator)
    assert caught == []
    assert [b[0].tolist() for b in batches] == [x[:2].tolist(), x[2:4].tolist(), x[4:].tolist()]
    assert all(isinstance(part, np.ndarray) for b in batches for part in b)
    assert batches[0][2].tolist() == [1.0, 3.0]
    fixed = tf.data.Dataset.from_tensor_slices({"a": x}).batch(2, drop_remainder=True)
    adapter = get_data_adapter(fixed)
    assert adapter.batch_size == 2 and isinstance(next(adapter.get_numpy_iterator())[0], dict)
    unknown = tf.data.Dataset.from_tensor_slices(x).batch(2).filter(lambda b: True)
    assert get_data_adapter(unknown).num_batches is None
    # Unbatched datasets (single samples) are rejected, as they would fail in a Keras model.
    for unbatched in (
        tf.data.Dataset.from_tensor_slices((x, y)),
        tf.data.Dataset.from_tensor_slices((x, y)).shuffle(5).map(lambda a, b: (a * 2, b)),
        tf.data.Dataset.from_tensor_slices(x).batch(2).unbatch(),
        tf.data.Dataset.range(4),
    ):
        with pytest.raises(ValueError, match="is not batched"):
            get_data_adapter(unbatched)
    with pytest.raises(ValueError, match="as a tf.data.Dataset, `y` should not be passed"):
        get_data_adapter(batched, y=y)
    with pytest.warns(UserWarning, match="provided as a tf.data.Dataset"):
        get_data_adapter(batched, shuffle=True)


def test_torch_data_loader():
    """Marked: imports torch (skipped without it)."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.arange(10, dtype=torch.float32).reshape(5, 2)
    y = torch.tensor([0, 1, 1, 0, 1])
    loader = DataLoader(TensorDataset(x, y), batch_size=2)
    adapter = get_data_adapter(loader)
    assert (adapter.num_batches, adapter.batch_size) == (3, 2)
    assert adapter.has_partial_batch is True and adapter.partial_batch_size == 1
    batches, caught = _epoch(EpochIterator(loader))
    assert caught == [] and len(batches) == 3
    assert isinstance(batches[0], tuple) and isinstance(batches[0][0], np.ndarray)
    assert batches[2][0].tolist() == [[8.0, 9.0]] and batches[0][1].tolist() == [0, 1]
    with pytest.raises(ValueError, match="`class_weight` is not supported for torch DataLoader"):
        get_data_adapter(loader, class_weight={0: 1.0})
    with pytest.raises(ValueError, match="as a torch DataLoader, `y` should not be passed"):
        get_data_adapter(loader, y=np.zeros(5))
