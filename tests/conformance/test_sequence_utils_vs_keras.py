"""``pad_sequences`` and ``timeseries_dataset_from_array`` vs Keras 3: the same arrays (values,
shapes, dtypes), the same windows in the same batches, and the same errors.

Keras's ``timeseries_dataset_from_array`` returns a ``tf.data.Dataset``; it is read here into
NumPy batches. Shuffled datasets are compared by the set of windows of each pass (their local
order comes from TensorFlow's random generator, which numpykeras cannot reproduce).
"""

import numpy as np
import pytest

import numpykeras
from numpykeras.preprocessing.sequence import pad_sequences as nk_pad_sequences_alias
from numpykeras.utils import pad_sequences as nk_pad_sequences
from numpykeras.utils import timeseries_dataset_from_array as nk_timeseries

# --------------------------------------------------------------------------- pad_sequences

_INTS = [[1], [2, 3], [4, 5, 6], [], [7, 8, 9, 10, 11]]
_FLOATS = [[0.5, 1.5], [2.25], [3.0, 4.0, 5.0, 6.5]]

PAD_CASES = [
    (_INTS, {}),
    (_INTS, {"padding": "post"}),
    (_INTS, {"truncating": "post", "maxlen": 3}),
    (_INTS, {"maxlen": 2}),
    (_INTS, {"maxlen": 2, "padding": "post", "truncating": "post"}),
    (_INTS, {"maxlen": 7, "value": -1}),
    (_INTS, {"maxlen": 1}),
    (_INTS, {"dtype": "float32", "value": 0.5}),
    (_INTS, {"dtype": "int64"}),
    (_INTS, {"dtype": "uint8", "value": 255}),
    (_FLOATS, {}),  # truncated to int32, as Keras
    (_FLOATS, {"dtype": "float64", "value": np.nan}),
    (_FLOATS, {"dtype": "float16", "padding": "post"}),
    ([np.arange(3), np.arange(5), np.arange(0)], {"dtype": "int16"}),
    ((np.arange(4), [1, 2]), {}),  # a tuple of sequences
    ([[], []], {}),
    ([[], []], {"maxlen": 3}),
    ([], {"maxlen": 4}),
    ([["a", "bb"], ["ccc"], []], {"dtype": object, "value": "pad"}),
    ([["a", "bb"], ["ccc"]], {"dtype": object}),
    ([["a", "bb"], ["ccc"], []], {"dtype": "<U5", "value": "x", "padding": "post"}),
    ([[b"a", b"bb"], [b"c"]], {"dtype": "S3", "value": b"-"}),
    ([["a", "bb"], ["ccc", "d", "e"]], {"dtype": "str", "value": "", "maxlen": 2}),
    # Sequences of vectors (an item shape taken from the first non-empty sequence).
    ([[], [[1, 2], [3, 4]], [[5, 6]]], {}),
    ([np.ones((3, 2, 2)), np.zeros((1, 2, 2))], {"dtype": "float32", "padding": "post"}),
    ([np.ones((3, 2)), np.zeros((5, 2))], {"maxlen": 4, "truncating": "post", "value": 9}),
]


def _assert_same_array(ours, theirs):
    assert isinstance(ours, np.ndarray)
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    if ours.dtype.kind == "f":
        np.testing.assert_array_equal(ours, theirs)  # NaN == NaN here
    else:
        assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize(("sequences", "kwargs"), PAD_CASES)
def test_pad_sequences_matches_keras(keras, sequences, kwargs):
    theirs = keras.utils.pad_sequences(sequences, **kwargs)
    _assert_same_array(nk_pad_sequences(sequences, **kwargs), theirs)
    _assert_same_array(nk_pad_sequences_alias(sequences, **kwargs), theirs)


PAD_ERROR_CASES = [
    (5, {}),
    ([[1, 2], 3], {}),
    ([[1, 2], [3]], {"padding": "middle"}),
    ([[1, 2], [3]], {"truncating": "middle"}),
    ([[1, 2], [3]], {"value": "x"}),
    ([[1, 2], [3]], {"value": "x", "dtype": "float32"}),
    ([[[1, 2]], [[3, 4, 5]]], {}),  # ragged inner shapes
    ([[[1, 2]], [3, 4]], {}),
]


@pytest.mark.parametrize(("sequences", "kwargs"), PAD_ERROR_CASES)
def test_pad_sequences_errors_match_keras(keras, sequences, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.utils.pad_sequences(sequences, **kwargs)
    with pytest.raises(ValueError) as ours:
        nk_pad_sequences(sequences, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_pad_sequences_of_nothing_raises_value_error_as_keras(keras):
    with pytest.raises(ValueError):
        keras.utils.pad_sequences([])
    with pytest.raises(ValueError, match="`maxlen` cannot be inferred"):
        nk_pad_sequences([])


def test_pad_sequences_public_names():
    assert numpykeras.utils.pad_sequences is nk_pad_sequences
    assert numpykeras.preprocessing.sequence.pad_sequences is nk_pad_sequences
    assert numpykeras.preprocessing.timeseries_dataset_from_array is nk_timeseries


# --------------------------------------------------------------------------- timeseries


def _keras_batches(dataset):
    out = []
    for batch in dataset:
        if isinstance(batch, tuple):
            out.append(tuple(np.asarray(part) for part in batch))
        else:
            out.append(np.asarray(batch))
    return out


def _assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs):
        if isinstance(ref, tuple):
            assert isinstance(mine, tuple) and len(mine) == len(ref)
            for a, b in zip(mine, ref):
                _assert_same_array(np.asarray(a), b)
        else:
            _assert_same_array(np.asarray(mine), ref)


_SERIES = np.arange(100, dtype="float64") * 1.5
_SERIES_2D = np.arange(60 * 3, dtype="float32").reshape(60, 3)

TS_CASES = [
    (_SERIES, _SERIES, {"sequence_length": 10}),
    (_SERIES[:-10], _SERIES[10:], {"sequence_length": 10, "batch_size": 16}),
    (_SERIES, None, {"sequence_length": 10, "sampling_rate": 2, "sequence_stride": 3}),
    (_SERIES, np.arange(100), {"sequence_length": 7, "sequence_stride": 5, "batch_size": 4}),
    (_SERIES, np.arange(30), {"sequence_length": 5, "batch_size": 8}),  # few targets
    (_SERIES, None, {"sequence_length": 5, "start_index": 10, "end_index": 40, "batch_size": 6}),
    (_SERIES, np.arange(100), {"sequence_length": 5, "start_index": 10, "batch_size": 7}),
    (_SERIES, np.arange(100), {"sequence_length": 4, "end_index": 30, "sampling_rate": 3}),
    (_SERIES, None, {"sequence_length": 3, "start_index": 0, "batch_size": 50}),
    (_SERIES, np.arange(100), {"sequence_length": 6, "batch_size": None}),
    (_SERIES, None, {"sequence_length": 6, "sequence_stride": 9, "batch_size": None}),
    (_SERIES_2D, _SERIES_2D[:, :1], {"sequence_length": 8, "batch_size": 5}),
    (_SERIES_2D.reshape(60, 3, 1), None, {"sequence_length": 2, "sequence_stride": 4}),
    (list(range(40)), list(range(40)), {"sequence_length": 5, "batch_size": 8}),  # -> int32
    ([0.5 * i for i in range(30)], None, {"sequence_length": 4, "batch_size": 8}),  # float32
    (np.arange(40, dtype="int64"), np.arange(40, dtype="uint8"), {"sequence_length": 5}),
    (_SERIES, None, {"sequence_length": 101}),  # no window fits: an empty dataset
    (_SERIES, None, {"sequence_length": 50, "sampling_rate": 3}),  # no window fits
    (_SERIES[:12], None, {"sequence_length": 12, "batch_size": 2}),  # exactly one window
]


@pytest.mark.parametrize(("data", "targets", "kwargs"), TS_CASES)
def test_timeseries_matches_keras(keras, data, targets, kwargs):
    theirs = _keras_batches(keras.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    ours = nk_timeseries(data, targets, **kwargs)
    assert len(ours) == len(theirs)
    _assert_same_batches(list(ours), theirs)
    _assert_same_batches([ours[i] for i in range(len(ours))], theirs)
    _assert_same_batches(list(ours), theirs)  # a second pass, the same


def _sorted_windows(batches, batched=True):
    """The windows (and targets) of one pass as sorted rows, and the batch sizes."""
    xs, ys, sizes = [], [], []
    for batch in batches:
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        x = np.asarray(x)
        if not batched:
            x = x[None]
            y = None if y is None else np.asarray(y)[None]
        sizes.append(len(x))
        xs.append(x.reshape(len(x), -1))
        if y is not None:
            ys.append(np.asarray(y).reshape(len(x), -1))
    if ys:
        rows = np.concatenate([np.concatenate(xs), np.concatenate(ys)], axis=-1)
    else:
        rows = np.concatenate(xs)
    return sorted(map(tuple, rows.tolist())), sizes


SHUFFLE_CASES = [
    (_SERIES, np.arange(100), {"sequence_length": 10, "batch_size": 8, "seed": 3}),
    (_SERIES, None, {"sequence_length": 5, "sequence_stride": 2, "batch_size": 3, "seed": 0}),
    (_SERIES_2D, np.arange(60), {"sequence_length": 4, "batch_size": None, "seed": 12}),
    (_SERIES, np.arange(100), {"sequence_length": 3, "start_index": 20, "end_index": 70}),
]


@pytest.mark.parametrize(("data", "targets", "kwargs"), SHUFFLE_CASES)
def test_shuffled_timeseries_has_keras_windows_every_pass(keras, data, targets, kwargs):
    batched = kwargs.get("batch_size", 128) is not None
    reference = keras.utils.timeseries_dataset_from_array(data, targets, shuffle=True, **kwargs)
    ours = nk_timeseries(data, targets, shuffle=True, **kwargs)
    expected = _sorted_windows(_keras_batches(reference), batched)
    orders = []
    for _ in range(3):
        batches = list(ours)
        assert _sorted_windows(batches, batched) == expected
        first = batches[0][0] if isinstance(batches[0], tuple) else batches[0]
        orders.append(np.asarray(first).tolist())
    assert orders[0] != orders[1] or orders[1] != orders[2]  # reshuffled between passes


def test_shuffled_start_positions_are_keras_global_permutation(keras):
    # With a shuffle buffer at least as large as the data, the local shuffle is a uniform
    # permutation; with batch_size=1 the buffer is 8 windows, so each output window comes from
    # the next 8 of Keras's globally shuffled start positions (np.random.RandomState(seed)).
    data = np.arange(50)
    positions = np.arange(0, 46, dtype="int32")
    np.random.RandomState(7).shuffle(positions)
    ours = nk_timeseries(data, None, sequence_length=5, batch_size=1, shuffle=True, seed=7)
    starts = [int(batch[0, 0]) for batch in ours]
    assert sorted(starts) == list(range(46))
    for i, start in enumerate(starts):
        assert start in positions[: i + 8].tolist()


TS_ERROR_CASES = [
    {"sequence_length": 5, "start_index": -1},
    {"sequence_length": 5, "start_index": 100},
    {"sequence_length": 5, "start_index": 20, "end_index": 20},
    {"sequence_length": 5, "start_index": 20, "end_index": 10},
    {"sequence_length": 5, "end_index": 100},
    {"sequence_length": 5, "end_index": -3},
    {"sequence_length": 5, "sampling_rate": 0},
    {"sequence_length": 5, "sampling_rate": 100},
    {"sequence_length": 5, "sequence_stride": 0},
    {"sequence_length": 5, "sequence_stride": -2},
    {"sequence_length": 5, "sequence_stride": 100},
]


@pytest.mark.parametrize("kwargs", TS_ERROR_CASES)
def test_timeseries_errors_match_keras(keras, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.utils.timeseries_dataset_from_array(_SERIES, None, **kwargs)
    with pytest.raises(ValueError) as ours:
        nk_timeseries(_SERIES, None, **kwargs)
    assert str(ours.value) == str(theirs.value)
