"""Unit tests for ``utils.timeseries_dataset_from_array`` and ``utils.pad_sequences`` without
TensorFlow: training on a timeseries dataset, reshuffling, reproducibility and errors."""

import numpy as np
import pytest

import numpykeras as keras
from numpykeras.utils import PyDataset, pad_sequences, timeseries_dataset_from_array


def _series(n=64):
    t = np.arange(n, dtype="float32")
    return np.stack([np.sin(t / 5.0), np.cos(t / 7.0)], axis=-1).astype("float32")


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_evaluate_predict_on_timeseries_dataset_for_two_epochs(shuffle):
    keras.utils.set_random_seed(0)
    data = _series()
    dataset = timeseries_dataset_from_array(
        data[:-4], data[4:, 0], sequence_length=4, batch_size=8, shuffle=shuffle, seed=1
    )
    assert isinstance(dataset, PyDataset)
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(np.isfinite(history.history["loss"]))
    assert np.isfinite(model.evaluate(dataset, verbose=0))
    inputs_only = timeseries_dataset_from_array(data[:-4], None, sequence_length=4, batch_size=8)
    assert model.predict(inputs_only, verbose=0).shape == (57, 1)


def test_fit_with_validation_data_and_class_weight():
    data = _series(40)
    labels = (data[:, 0] > 0).astype("int32")
    train = timeseries_dataset_from_array(data, labels, sequence_length=3, batch_size=6)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.Flatten(), keras.layers.Dense(2)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        train, epochs=2, validation_data=train, class_weight={0: 1.0, 1: 2.0}, verbose=0
    )
    assert len(history.history["val_accuracy"]) == 2


def test_windows_and_targets():
    data = np.arange(20)
    dataset = timeseries_dataset_from_array(
        data, data * 10, sequence_length=3, sequence_stride=2, sampling_rate=2, batch_size=4
    )
    assert len(dataset) == 2 and dataset.batch_size == 4
    x, y = dataset[0]
    np.testing.assert_array_equal(x[1], [2, 4, 6])
    np.testing.assert_array_equal(y, [0, 20, 40, 60])
    x, y = dataset[-1]
    np.testing.assert_array_equal(x[-1], [14, 16, 18])
    with pytest.raises(IndexError):
        dataset[2]


def test_shuffle_with_seed_is_repeatable_and_reshuffles_every_epoch():
    def orders(seed):
        dataset = timeseries_dataset_from_array(
            np.arange(200), None, sequence_length=2, batch_size=4, shuffle=True, seed=seed
        )
        out = []
        for _ in range(3):
            out.append(np.concatenate([dataset[i][:, 0] for i in range(len(dataset))]))
            dataset.on_epoch_end()
        out.append(np.concatenate([batch[:, 0] for batch in dataset]))
        return out

    first, again, other = orders(5), orders(5), orders(6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other[0])
    for order in first:
        assert sorted(order.tolist()) == list(range(199))


def test_unseeded_shuffle_follows_set_random_seed():
    def first_batch():
        keras.utils.set_random_seed(3)
        dataset = timeseries_dataset_from_array(
            np.arange(100), None, sequence_length=2, shuffle=True
        )
        return dataset[0]

    np.testing.assert_array_equal(first_batch(), first_batch())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sequence_length": 2.5}, TypeError, "`sequence_length` must be an integer"),
        ({"sequence_length": 2, "batch_size": 0}, ValueError, "`batch_size` must be a positive"),
        ({"sequence_length": 2, "sequence_stride": "1"}, TypeError, "`sequence_stride`"),
        ({"sequence_length": 2, "seed": 1.0, "shuffle": True}, TypeError, "`seed`"),
    ],
)
def test_timeseries_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        timeseries_dataset_from_array(np.arange(10), None, **kwargs)


def test_timeseries_targets_too_short_after_start_index():
    with pytest.raises(ValueError, match="`targets` is too short"):
        timeseries_dataset_from_array(
            np.arange(50), np.arange(20), sequence_length=2, start_index=10
        )


def test_pad_sequences_basics():
    np.testing.assert_array_equal(
        pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post"), [[1, 0], [2, 3], [5, 6]]
    )
    out = pad_sequences([["a"], []], dtype=object, value="")
    assert out.tolist() == [["a"], [""]]


def test_fit_shuffle_keeps_the_dataset_order_as_keras_does_for_its_dataset():
    """Keras's fit ignores `shuffle` for the tf.data.Dataset it returns; an unshuffled dataset
    reaches train_step in its own order here too, with fit's default shuffle=True."""
    seen = []

    class Recorder(keras.Model):
        def train_step(self, data):
            x, _ = data
            seen.append(float(np.asarray(x)[0, 0, 0]))
            return {}

    data = np.arange(40, dtype="float32").reshape(40, 1)
    dataset = timeseries_dataset_from_array(data, data[:, 0], sequence_length=2, batch_size=4)
    inputs = keras.Input((2, 1))
    model = Recorder(inputs, keras.layers.Flatten()(inputs))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(dataset, epochs=2, verbose=0)
    assert seen == [float(4 * i) for i in range(len(dataset))] * 2
