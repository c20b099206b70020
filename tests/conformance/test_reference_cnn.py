"""The reference CNN built in Keras 3 and in numpykeras: same names, shapes, parameter counts,
summary text, predictions and gradients once the weights are copied."""

import numpy as np
import pytest

from numpykeras import layers as nk_layers
from numpykeras import models as nk_models
from numpykeras.layers.layer import clear_session

import tolerances as tol
from error_bounds import assert_model_output_close

# Keras warns about `input_shape=` on a layer; the reference model uses it on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def reference_cnn(layers, models):
    return models.Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture()
def pair(keras):
    """(numpykeras model, Keras model) built from fresh name counters, Keras's weights copied."""
    keras.backend.clear_session()
    clear_session()
    theirs = reference_cnn(keras.layers, keras.models)
    ours = reference_cnn(nk_layers, nk_models)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def test_structure_matches(pair):
    ours, theirs = pair
    assert ours.name == theirs.name
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [type(layer).__name__ for layer in ours.layers] == [
        type(layer).__name__ for layer in theirs.layers
    ]
    assert ours.count_params() == theirs.count_params() == 122570
    for a, b in zip(ours.layers, theirs.layers):
        assert a.count_params() == b.count_params(), a.name
        assert tuple(a.output.shape) == tuple(b.output.shape), a.name
    assert tuple(ours.output_shape) == tuple(theirs.output_shape) == (None, 10)
    assert [v.path for v in ours.weights] == [v.path for v in theirs.weights]
    assert [v.shape for v in ours.weights] == [tuple(v.shape) for v in theirs.weights]


def test_summary_text_equals_keras(pair):
    ours, theirs = pair
    ours_text, theirs_text = [], []
    ours.summary(print_fn=ours_text.append)
    theirs.summary(print_fn=lambda text, **kwargs: theirs_text.append(text))
    assert "".join(ours_text) == "".join(theirs_text)


@pytest.mark.parametrize("batch,batch_size", [(1, None), (5, 2)])
def test_predictions_agree(pair, batch, batch_size):
    ours, theirs = pair
    x = np.random.default_rng(batch).uniform(size=(batch, 32, 32, 3)).astype(np.float32)
    got = ours.predict(x, batch_size=batch_size, verbose=0)
    expected = theirs.predict(x, batch_size=batch_size, verbose=0)
    assert got.dtype == np.float32 and got.shape == (batch, 10)
    assert_model_output_close(got, expected, theirs, x, "reference CNN predictions")


def test_gradients_agree(tf, pair):
    """The whole model's backward vs tf.GradientTape, with a random upstream gradient."""
    ours, theirs = pair
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    y, tape = ours.forward(x, training=True)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx, grads = ours.backward(dy, tape)
    xt = tf.constant(x)
    with tf.GradientTape() as gt:
        gt.watch(xt)
        yt = theirs(xt, training=True)
    expected = gt.gradient(yt, [xt] + list(theirs.trainable_weights), output_gradients=dy)
    assert_model_output_close(y, yt.numpy(), theirs, x, "forward")
    tol.assert_grad_close(dx, np.asarray(expected[0]), "dx")
    for variable, g in zip(ours.trainable_weights, expected[1:]):
        tol.assert_grad_close(grads[variable], np.asarray(g), variable.path)
