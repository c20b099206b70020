"""Activity regularizers: the penalty of each call in ``layer.losses``, Keras's division by the
batch size, the fused step's gradient against float64 finite differences and against the tape
path, ``predict`` keeping nothing, and the regularizer in configs (Keras's comparisons are in
``tests/conformance/test_activity_regularizer_vs_keras.py``)."""

import numpy as np
import pytest

import numpykeras as nk

import tolerances as tol
from gradcheck import numerical_gradient
from tolerances import assert_close, assert_grad_close

L = nk.layers


def _custom(t):
    return 0.03 * nk.ops.sum(nk.ops.square(nk.ops.tanh(t)))


class _HalfL2(nk.regularizers.L2):
    """Overrides ``__call__`` only: the inherited ``gradient`` is not its derivative, so it must
    be differentiated through its ops."""

    def __call__(self, x):
        return 0.5 * nk.ops.sum(nk.ops.square(x)) * self.l2


REGULARIZERS = {
    "l1": lambda: nk.regularizers.L1(0.02),
    "l2": lambda: nk.regularizers.L2(0.05),
    "l1_l2": lambda: nk.regularizers.L1L2(l1=0.02, l2=0.05),
    "custom": lambda: _custom,
    "l2_subclass": lambda: _HalfL2(0.1),
}


def _reference(name, y):
    """The penalty of ``y`` in float64, divided by the batch size."""
    y = np.asarray(y, dtype=np.float64)
    value = {
        "l1": lambda: 0.02 * np.abs(y).sum(),
        "l2": lambda: 0.05 * np.square(y).sum(),
        "l1_l2": lambda: 0.02 * np.abs(y).sum() + 0.05 * np.square(y).sum(),
        "custom": lambda: 0.03 * np.square(np.tanh(y)).sum(),
        "l2_subclass": lambda: 0.05 * np.square(y).sum(),
    }[name]()
    return value / y.shape[0]


def _model(first, second, dtype="float32"):
    return nk.Sequential(
        [
            L.Input((4,), dtype=dtype),
            L.Dense(5, activation="tanh", activity_regularizer=first, dtype=dtype),
            L.Dense(3, activity_regularizer=second, dtype=dtype),
        ]
    )


def _data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_penalty_is_divided_by_the_batch_size(name):
    layer = L.Dense(3, activation="tanh", activity_regularizer=REGULARIZERS[name]())
    x, _ = _data(n=6)
    y = layer(x)
    assert len(layer.losses) == 1
    # float32 penalties of at most 18 terms of size <= 1: LOSS_RTOL covers them (80 terms)
    assert_close(float(layer.losses[0]), _reference(name, y), tol.LOSS_ATOL, tol.LOSS_RTOL, name)


def test_scalar_output_is_not_divided_and_empty_batch_gives_zero():
    class Total(nk.layers.Layer):
        def call(self, x):
            return nk.ops.sum(x)

    layer = Total(activity_regularizer=nk.regularizers.L2(0.5))
    layer(np.full((4, 2), 0.5, dtype="float32"))  # sum 4: 0.5 * 16, no batch axis
    assert float(layer.losses[0]) == 8.0
    dense = L.Dense(2, activity_regularizer="l1")
    dense(np.zeros((0, 3), dtype="float32"))
    assert [float(v) for v in dense.losses] == [0.0]


def test_each_call_replaces_the_losses_and_a_shared_layer_adds_one_per_call():
    shared = L.Dense(4, activation="tanh", activity_regularizer=REGULARIZERS["l2"]())
    inputs = L.Input((4,))
    model = nk.Model(inputs, shared(shared(inputs)))
    x, _ = _data()
    model(x)
    y = model(x)
    assert len(model.losses) == len(shared.losses) == 2
    values = [float(v) for v in model.losses]
    first = shared(x)  # a call of its own: its losses are this call's only
    assert len(shared.losses) == 1
    for value, out in zip(values, (first, y)):
        assert_close(value, _reference("l2", out), tol.LOSS_ATOL, tol.LOSS_RTOL, "penalty")


def test_predict_keeps_no_activity_losses():
    model = _model("l2", "l1")
    x, _ = _data()
    model(x)
    assert len(model.losses) == 2
    predicted = model.predict(x, verbose=0)
    assert model.losses == []
    assert_close(predicted, model(x), 0.0, 0.0, "predict vs call")
    assert len(model.losses) == 2
    model.predict_on_batch(x)
    assert model.losses == []


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("names", [("l1_l2", "custom"), ("l2", "l2_subclass")])
def test_kernel_backward_matches_finite_differences(names):
    """The fused step's pieces in float64: ``forward``'s tape holds the penalties' sum and
    ``backward`` adds their gradients, so for ``L = sum(y * dy) + activity_loss`` the weights'
    and the input's gradients match central differences of ``L``."""
    model = _model(*(REGULARIZERS[n]() for n in names), dtype="float64")
    x = _data(n=5, seed=3)[0].astype("float64")
    dy = np.random.default_rng(9).normal(size=(5, 3))

    def loss():
        y, tape = model.forward(x, training=True)
        return float(np.sum(y * dy) + tape.activity_loss)

    _, tape = model.forward(x, training=True)
    assert tape.activity_loss > 0
    dx, grads = model.backward(dy, tape)
    for variable in model.trainable_weights:
        numeric = numerical_gradient(loss, variable.value)
        assert_close(
            grads[variable], numeric, tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, variable.path
        )
    assert_close(dx, numerical_gradient(loss, x), tol.FINITE_DIFF_ATOL, tol.FINITE_DIFF_RTOL, "dx")


def _tape_gradients(model, x, y):
    with nk.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
    return float(np.asarray(loss)), tape.gradient(loss, model.trainable_weights)


@pytest.mark.parametrize("names", [("l1", "l2"), ("custom", "l2_subclass")])
def test_fused_and_tape_paths_agree(names):
    model = _model(*(REGULARIZERS[n]() for n in names))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(n=7, seed=4)
    loss, *_, grads = model._loss_and_gradients(x, y, None)
    tape_loss, tape_grads = _tape_gradients(model, x, y)
    assert len(model.losses) == 2  # a tape records the model layer by layer, penalties included
    assert_close(loss, tape_loss, tol.LOSS_ATOL, tol.LOSS_RTOL, "loss")
    for variable, g in zip(model.trainable_weights, tape_grads):
        assert_grad_close(grads[variable], np.asarray(g), variable.path)


def test_nested_model_whose_output_has_no_loss_still_gets_its_penalty_gradient():
    inner = nk.Sequential([L.Input((4,)), L.Dense(3, activity_regularizer="l2")])
    inputs = L.Input((4,))
    model = nk.Model(inputs, [L.Dense(2)(inputs), inner(inputs)])
    model.compile(optimizer="sgd", loss=["mse", None])
    x, _ = _data(n=6, seed=5)
    y = [np.ones((6, 2), "float32"), np.ones((6, 3), "float32")]
    loss, *_, grads = model._loss_and_gradients(x, y, None)
    tape_loss, tape_grads = _tape_gradients(model, x, y)
    assert_close(loss, tape_loss, tol.LOSS_ATOL, tol.LOSS_RTOL, "loss")
    kernel = inner.layers[0].kernel
    assert np.abs(grads[kernel]).max() > 0
    for variable, g in zip(model.trainable_weights, tape_grads):
        assert_grad_close(grads[variable], np.asarray(g), variable.path)


def test_evaluate_adds_the_penalties_of_the_inference_outputs():
    model = nk.Sequential(
        [L.Input((4,)), L.Dropout(0.5), L.Dense(3, activity_regularizer=nk.regularizers.L2(0.1))]
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data(n=8, seed=6)
    expected = np.mean(np.square(model(x) - y)) + _reference("l2", model(x)) * 2
    assert_close(model.evaluate(x, y, verbose=0), expected, tol.LOSS_ATOL, tol.LOSS_RTOL, "loss")


# --------------------------------------------------------------------------- configs


def test_every_layer_accepts_and_saves_an_activity_regularizer():
    for layer in (L.Dense(2, activity_regularizer="l2"), L.Dropout(0.2, activity_regularizer="l2")):
        config = layer.get_config()
        assert config["activity_regularizer"]["class_name"] == "L2"
        assert type(layer).from_config(config).activity_regularizer.l2 == 0.01
    assert "activity_regularizer" not in L.Dense(2).get_config()
    inputs = L.Input((2,))
    model = nk.Model(inputs, L.Dense(1)(inputs), activity_regularizer="l2")  # ignored, as Keras
    assert model.activity_regularizer is None
