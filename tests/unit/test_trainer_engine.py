"""The tape path of the trainer agrees with the fused path, and what it adds: custom losses in
``fit``, crossentropy from the logits of a final softmax, compiled metrics visible to a custom
``train_step``, gradients of gradients through a Sequential model."""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as keras
from numpykeras import layers, ops

from gradcheck import numerical_gradient
from tolerances import FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, assert_close

RNG = np.random.default_rng(21)


def _dense_model(units=3, activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation=activation)])


def _my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class _MyMSE(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)


@pytest.mark.parametrize("loss", [_my_mse, _MyMSE()], ids=["function", "subclass"])
def test_a_loss_written_with_ops_trains_a_sequential_model_like_the_builtin(loss):
    x = RNG.normal(size=(16, 4)).astype("float32")
    y = RNG.normal(size=(16, 3)).astype("float32")
    reference = _dense_model()
    reference.compile("sgd", "mse")
    ours = _dense_model()
    ours.compile("sgd", loss)
    expected = reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    got = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(got.history["loss"], expected.history["loss"], rtol=1e-6)
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


class _Softmax(keras.Model):
    def __init__(self):
        super().__init__()
        self.head = layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.head(x)


def test_subclassed_softmax_model_computes_crossentropy_from_logits_as_the_fused_path():
    """Saturated logits (inputs scaled by 30): from clipped probabilities the loss would cap at
    -log(1e-7) = 16.1 per sample; from the logits it does not."""
    x = (30 * RNG.normal(size=(8, 4))).astype("float32")
    y = np.arange(8) % 3
    fused = _dense_model(activation="softmax")
    taped = _Softmax()
    taped(x)
    taped.set_weights(fused.get_weights())
    losses = []
    for model in (fused, taped):
        model.compile("sgd", "sparse_categorical_crossentropy")
        losses.append(model.train_on_batch(x, y))
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)
    for a, b in zip(taped.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # The loss function on a recorded softmax output uses the logits too (Keras's TF backend).
    with keras.GradientTape():
        value = np.asarray(keras.losses.sparse_categorical_crossentropy(y, taped(x)))
    assert np.max(value) > -np.log(1e-7) + 0.1


class _GuideStep(keras.Model):
    """keras.io's "Customizing what happens in fit()" train_step: it walks ``self.metrics``."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_a_custom_train_step_sees_the_compiled_metrics_from_its_first_step():
    model = _GuideStep()
    model.compile("sgd", "mse", metrics=["mae"])
    x = RNG.normal(size=(8, 4)).astype("float32")
    y = RNG.normal(size=(8, 2)).astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "mae"}


def test_gradient_penalty_through_a_sequential_model_of_dense_layers():
    """d/dW of |d critic / d x|^2 (second order through the recorded kernels) vs float64
    central differences."""
    keras.backend.set_floatx("float64")
    try:
        keras.utils.set_random_seed(3)
        critic = keras.Sequential(
            [
                keras.Input((3,)),
                layers.Dense(5, activation="tanh"),
                layers.LeakyReLU(negative_slope=0.2),
                layers.Dense(1),
            ]
        )
        x = RNG.normal(size=(4, 3))
        kernel = critic.layers[0].kernel

        def penalty():
            with keras.GradientTape() as outer:
                with keras.GradientTape() as inner:
                    inner.watch(x)
                    score = critic(x)
                grad = inner.gradient(score, x)
                value = ops.sum(ops.square(grad))
            return value, outer.gradient(value, kernel)

        _, got = penalty()
        expected = numerical_gradient(lambda: float(np.asarray(penalty()[0])), kernel.value)
        assert_close(got, expected, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "d penalty / d kernel")
    finally:
        keras.backend.set_floatx("float32")


class _Product(layers.Layer):
    def call(self, a, b):
        return a * b


def test_variables_given_to_layers_are_differentiated():
    # A trainable Variable is watched by a tape wherever it is used, also as a layer's input:
    # through a kernel layer, a layer written with ops, and a further call argument.
    x = keras.Variable(RNG.normal(size=(3, 4)).astype("float32"))
    dense = layers.Dense(2)
    with keras.GradientTape(persistent=True) as tape:
        relu = layers.Activation("relu")(x)
        projected = dense(x)
        product = _Product()(x, x)
    value = x.numpy()
    assert_close(tape.gradient(relu, x), (value > 0).astype("float32"), 0, 0, "d relu / d x")
    assert_close(
        tape.gradient(projected, x),
        np.broadcast_to(dense.kernel.numpy().sum(axis=1), (3, 4)),
        1e-6,
        1e-6,
        "d dense / d x",
    )
    assert_close(tape.gradient(product, x), 2 * value, 1e-6, 1e-6, "d x*x / d x")


def test_the_gradient_of_a_source_with_respect_to_itself_is_the_upstream_gradient():
    x = keras.Variable(np.arange(6, dtype="float32").reshape(2, 3))
    dy = RNG.normal(size=(2, 3)).astype("float32")
    with keras.GradientTape() as tape:
        y = keras.activations.linear(x)
    assert_close(tape.gradient(y, x, output_gradients=dy), dy, 0, 0, "d x / d x")


def test_gradient_penalty_through_a_functional_model_with_merges():
    """Second order through a functional graph of kernel layers (Dense, Add, Concatenate,
    Average) vs float64 central differences, with no warning of a zero term."""
    import warnings

    keras.backend.set_floatx("float64")
    try:
        keras.utils.set_random_seed(4)
        inputs = keras.Input((3,))
        a = layers.Dense(4, activation="tanh")(inputs)
        b = layers.Dense(4, activation="softplus")(inputs)
        merged = layers.Concatenate()([layers.Add()([a, b]), layers.Average()([a, b])])
        critic = keras.Model(inputs, layers.Dense(1)(merged))
        x = RNG.normal(size=(4, 3))
        kernel = critic.layers[1].kernel

        def penalty():
            with keras.GradientTape() as outer:
                with keras.GradientTape() as inner:
                    inner.watch(x)
                    score = critic(x)
                grad = inner.gradient(score, x)
                value = ops.sum(ops.square(grad))
            return value, outer.gradient(value, kernel)

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, got = penalty()
        expected = numerical_gradient(lambda: float(np.asarray(penalty()[0])), kernel.value)
        assert_close(got, expected, FINITE_DIFF_ATOL, FINITE_DIFF_RTOL, "d penalty / d kernel")
    finally:
        keras.backend.set_floatx("float32")
