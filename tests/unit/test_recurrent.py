"""Recurrent layers without TensorFlow: states, dropout, masks, configs and errors."""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import layers

RNG = np.random.default_rng(5)
X = RNG.normal(size=(4, 6, 3)).astype("float32")


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_layers_carry_states_between_batches_until_reset(name):
    model = keras.Sequential(
        [keras.Input((6, 3), batch_size=4), getattr(layers, name)(5, stateful=True)]
    )
    first = model.predict_on_batch(X)
    second = model.predict_on_batch(X)
    assert not np.allclose(first, second)  # the second batch starts from the first's states
    model.layers[0].reset_states()
    np.testing.assert_array_equal(model.predict_on_batch(X), first)
    # Two halves with carried states equal one call on the whole sequence.
    layer = model.layers[0]
    layer.reset_states()
    layer(X[:, :3])
    tail = layer(X[:, 3:])
    layer.reset_states()
    np.testing.assert_allclose(tail, first, rtol=1e-6, atol=1e-6)


def test_stateful_layer_refuses_another_batch_size():
    layer = layers.LSTM(2, stateful=True)
    layer(X)
    with pytest.raises(ValueError, match="Expected batch size: 4"):
        layer(X[:2])


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_dropout_applies_in_training_only_with_one_mask_per_sequence(name):
    layer = getattr(layers, name)(4, dropout=0.5, recurrent_dropout=0.3, seed=1)
    inference = layer(X)
    np.testing.assert_array_equal(layer(X), inference)  # inference draws nothing
    assert not np.allclose(layer(X, training=True), inference)
    assert getattr(layer.cell, "_dropout_mask", None) is None  # forgotten after the call


def test_masked_steps_keep_the_state_and_repeat_the_output():
    mask = np.ones((4, 6), dtype=bool)
    mask[:, 4:] = False
    layer = layers.GRU(3, return_sequences=True)
    full = layer(X, mask=mask)
    np.testing.assert_array_equal(full[:, 4], full[:, 3])
    np.testing.assert_array_equal(full[:, 5], full[:, 3])
    np.testing.assert_allclose(layer(X[:, :4])[:, -1], full[:, -1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        layers.SimpleRNN(3, return_sequences=True),
        layers.LSTM(3, go_backwards=True, unit_forget_bias=False),
        layers.GRU(3, reset_after=False, return_state=True),
        layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], stateful=False),
    ],
    ids=["SimpleRNN", "LSTM", "GRU", "RNN-stacked"],
)
def test_config_round_trip(layer):
    clone = layers.deserialize(layers.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


def test_layers_expose_their_cell_arguments():
    layer = layers.GRU(7, dropout=0.25, reset_after=False)
    assert (layer.units, layer.dropout, layer.reset_after) == (7, 0.25, False)
    with pytest.raises(AttributeError):
        layer.not_an_argument  # noqa: B018


def test_bad_arguments_are_refused_with_their_values():
    with pytest.raises(ValueError, match="positive integer, got 0"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="expected ndim>=3"):
        layers.GRU(2)(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="expects 2 state"):
        layers.LSTM(2)(X, initial_state=[np.zeros((4, 2), "float32")])


class _MinimalCell(layers.Layer):
    """Keras's custom-cell example: a cell is any layer with ``state_size`` and
    ``call(inputs, states)``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent")

    def call(self, inputs, states):
        output = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(
            states[0], self.recurrent_kernel
        )
        return output, [output]


def test_a_custom_cell_trains_in_fit():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 3)), layers.RNN(_MinimalCell(4)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    y = X.sum(axis=(1, 2))[:, None] * 0.1
    losses = model.fit(X, y, epochs=20, verbose=0).history["loss"]
    assert losses[-1] < 0.5 * losses[0]
