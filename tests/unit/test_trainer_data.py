"""fit / evaluate / predict fed by generators, PyDatasets and tf.data: the same batches give the
same training as arrays."""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import layers

RNG = np.random.default_rng(3)
X = RNG.random((48, 5)).astype("float32")
Y = (X.sum(axis=1) > 2.5).astype("int32")
BATCH = 16


def make_model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [keras.Input((5,)), layers.Dense(6, activation="relu"), layers.Dense(2, "softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def batches():
    for i in range(0, len(X), BATCH):
        yield X[i : i + BATCH], Y[i : i + BATCH]


class Batches(keras.utils.PyDataset):
    def __len__(self):
        return len(X) // BATCH

    def __getitem__(self, i):
        return X[i * BATCH : (i + 1) * BATCH], Y[i * BATCH : (i + 1) * BATCH]


def endless():
    while True:
        yield from batches()


@pytest.fixture(scope="module")
def from_arrays():
    model = make_model()
    history = model.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    return model, history.history


@pytest.mark.parametrize(
    "source, kwargs",
    [
        (lambda: Batches(), {}),
        (lambda: endless(), {"steps_per_epoch": len(X) // BATCH}),
    ],
    ids=["py_dataset", "endless_generator"],
)
def test_streamed_fit_equals_array_fit(from_arrays, source, kwargs):
    reference, expected = from_arrays
    model = make_model()
    history = model.fit(source(), epochs=2, shuffle=False, verbose=0, **kwargs)
    assert history.history.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(history.history[key], expected[key])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_finite_generator_runs_one_epoch_then_warns():
    model = make_model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_evaluate_and_predict_take_streams(from_arrays):
    model, _ = from_arrays
    expected = model.evaluate(X, Y, batch_size=BATCH, verbose=0, return_dict=True)
    got = model.evaluate(Batches(), verbose=0, return_dict=True)
    assert got == expected
    np.testing.assert_array_equal(
        model.predict(batches(), verbose=0), model.predict(X, batch_size=BATCH, verbose=0)
    )


def test_py_dataset_as_validation_data():
    model = make_model()
    history = model.fit(X, Y, batch_size=BATCH, epochs=1, validation_data=Batches(), verbose=0)
    assert {"val_loss", "val_accuracy"} <= set(history.history)


def test_validation_split_with_a_stream_is_an_error():
    with pytest.raises(ValueError, match="validation_split"):
        make_model().fit(Batches(), validation_split=0.2, verbose=0)


def test_y_with_a_stream_is_an_error():
    with pytest.raises(ValueError, match="should not be passed"):
        make_model().fit(Batches(), Y, verbose=0)


def test_tf_data_feeds_fit(from_arrays):
    tf = pytest.importorskip("tensorflow")
    reference, expected = from_arrays
    model = make_model()
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(BATCH)
    history = model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    for key in expected:
        np.testing.assert_array_equal(history.history[key], expected[key])
