"""Activations vs Keras 3: values (keras.activations on the TensorFlow backend), gradients
(tf.GradientTape with a random upstream gradient), and the names Keras writes in configs."""

import numpy as np
import pytest

from numpykeras import activations

import tolerances as tol

CASES = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.1}),
    ("relu", {"max_value": 4.0}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.3, "max_value": 3.0}),
    ("relu", {"negative_slope": 0.2, "threshold": 1.0}),
    ("relu", {"negative_slope": 0.2, "max_value": 2.5, "threshold": -1.0}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.3}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("linear", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("softplus", {}),
    ("softsign", {}),
    ("silu", {}),
    ("swish", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("exponential", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("hard_swish", {}),
    ("mish", {}),
    ("softmax", {}),
    ("softmax", {"axis": 1}),
    ("softmax", {"axis": 0}),
    ("log_softmax", {}),
    ("log_softmax", {"axis": 1}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in p.items()) for name, p in CASES]


def _inputs(seed, shape=(3, 4, 5), scale=4.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_values_match_keras(keras, name, params):
    x = _inputs(0)
    expected = np.asarray(getattr(keras.activations, name)(x, **params))
    got = getattr(activations, name)(x, **params)
    assert got.dtype == np.float32
    tol.assert_forward_close(got, expected, f"{name} {params}")


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_gradients_match_tape(tf, keras, name, params):
    x = _inputs(1)
    dy = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = getattr(keras.activations, name)(xt, **params)
    expected = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
    fn = getattr(activations, name)
    got = activations.backward(fn, dy, x, fn(x, **params), **params)
    assert got.dtype == np.float32
    tol.assert_grad_close(got, expected, f"d {name} {params}")


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_recorded_on_a_gradient_tape_matches_tf(tf, keras, name, params):
    # A custom layer calling keras.activations on a recorded tensor: the value and the gradient
    # flow through our GradientTape as through TensorFlow's.
    import numpykeras

    x = _inputs(4)
    dy = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        yt = getattr(keras.activations, name)(xt, **params)
    expected = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
    xv = numpykeras.Variable(x)
    with numpykeras.GradientTape() as tape:
        y = getattr(activations, name)(xv, **params)
    got = tape.gradient(y, xv, output_gradients=dy)
    tol.assert_forward_close(np.asarray(y), yt.numpy(), f"{name} {params} recorded")
    assert got is not None, f"{name} {params}: no gradient recorded"
    tol.assert_grad_close(np.asarray(got), expected, f"d {name} {params} recorded")


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("source", ["ops", "activations"])
def test_crossentropy_of_a_recorded_activation_uses_its_logits(tf, keras, activation, source):
    # Keras's TensorFlow backend keeps the logits of a softmax/sigmoid output and computes a
    # crossentropy from them: saturated outputs give the exact loss, not the clipped one.
    import numpykeras

    x = np.array([[30.0, 0.0, -30.0], [-25.0, 2.0, 1.0]], dtype=np.float32)
    y_true = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    loss_name = "CategoricalCrossentropy" if activation == "softmax" else "BinaryCrossentropy"
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        yt = getattr(getattr(keras, source), activation)(xt)
        lt = getattr(keras.losses, loss_name)()(y_true, yt)
    expected = tape.gradient(lt, xt).numpy()
    xv = numpykeras.Variable(x)
    with numpykeras.GradientTape() as tape:
        y = getattr(getattr(numpykeras, source), activation)(xv)
        loss = getattr(numpykeras.losses, loss_name)()(y_true, y)
    got = tape.gradient(loss, xv)
    tol.assert_forward_close(np.asarray(loss), lt.numpy(), f"{loss_name} of {activation}")
    tol.assert_grad_close(np.asarray(got), expected, f"d {loss_name} of {activation}")


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "softmax", "log_softmax", "elu", "gelu"])
def test_extreme_inputs_match_keras(tf, keras, name):
    x = np.array([[-200.0, -30.0, -1e-3, 0.0, 20.0, 90.0]], dtype=np.float32)
    dy = np.random.default_rng(3).normal(size=x.shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = getattr(keras.activations, name)(xt)
    expected_dx = tape.gradient(yt, xt, output_gradients=tf.constant(dy)).numpy()
    fn = getattr(activations, name)
    y = fn(x)
    tol.assert_forward_close(y, yt.numpy(), name)
    tol.assert_grad_close(activations.backward(fn, dy, x, y), expected_dx, f"d {name}")


NAMES = sorted({name for name, _ in CASES})


@pytest.mark.parametrize("name", NAMES)
def test_serialized_names_match_keras(keras, name):
    assert activations.serialize(activations.get(name)) == keras.activations.serialize(
        keras.activations.get(name)
    )
    # The name a Keras 3 layer config stores resolves to our function of the same behaviour.
    layer_config = keras.layers.Dense(2, activation=name).get_config()
    assert activations.get(layer_config["activation"]) is activations.get(name)
