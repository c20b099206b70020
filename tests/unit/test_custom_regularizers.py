"""Custom weight regularizers (any callable, ``Regularizer`` subclasses) and
``ActivityRegularization``, without TensorFlow: penalties and gradients against closed forms,
and the fused and tape training paths against each other."""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import ops
from numpykeras.layers.layer import _has_own_gradient, penalty_and_gradient

import tolerances as tol
from tolerances import assert_close, assert_grad_close


class TripledL2(nk.regularizers.L2):
    def __call__(self, x):
        return 3.0 * super().__call__(x)


class OwnPair(nk.regularizers.L2):
    """Overrides both: its ``gradient`` is used."""

    def __call__(self, x):
        return 2.0 * super().__call__(x)

    def gradient(self, x):
        return 2.0 * super().gradient(x)


class Cubic(nk.regularizers.Regularizer):
    def __call__(self, x):
        return 0.1 * ops.sum(x**3)

    def get_config(self):
        return {}


W = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")

# regularizer, has its own gradient, closed-form gradient of the penalty at W
CASES = {
    "l2": (nk.regularizers.L2(0.05), True, 0.1 * W),
    "l1_l2": (nk.regularizers.L1L2(0.01, 0.02), True, 0.01 * np.sign(W) + 0.04 * W),
    "function": (lambda w: 0.01 * ops.sum(ops.abs(w)), False, 0.01 * np.sign(W)),
    "tripled_l2": (TripledL2(0.05), False, 0.3 * W),
    "own_pair": (OwnPair(0.05), True, 0.2 * W),
    "subclass": (Cubic(), False, 0.3 * W**2),
}


@pytest.mark.parametrize("name", list(CASES))
def test_penalty_and_gradient_of_a_variable(name):
    regularizer, own, expected = CASES[name]
    assert _has_own_gradient(regularizer) is own
    variable = nk.Variable(W)
    penalty, grad = penalty_and_gradient(regularizer, variable)
    assert grad.dtype == np.float32 and grad.shape == W.shape
    assert_grad_close(grad, expected, name)
    value = float(np.asarray(regularizer(W)))
    assert_close(float(penalty), value, tol.LOSS_ATOL, tol.LOSS_RTOL, name)


@pytest.mark.parametrize("name", list(CASES))
def test_layer_losses_on_a_tape_match_the_closed_form(name):
    regularizer = CASES[name][0]
    layer = nk.layers.Dense(3, use_bias=False, kernel_regularizer=regularizer)
    layer.build((None, 4))
    layer.kernel.assign(W)
    with nk.GradientTape() as tape:
        loss = sum(layer.losses)
    assert_grad_close(tape.gradient(loss, layer.kernel), CASES[name][2], name)


def test_a_builtin_records_on_a_tape_only_where_the_input_is_tracked():
    l2 = nk.regularizers.L2(0.5)
    assert isinstance(l2(W), float)
    v = nk.Variable(W)
    with nk.GradientTape() as tape:
        recorded = l2(v)
        untracked = l2(W.copy())
    assert isinstance(untracked, float)
    assert_grad_close(tape.gradient(recorded, v), W, "d L2 / d v")


def _model(kernel_regularizer, activity):
    L = nk.layers
    layers = [L.Input((4,)), L.Dense(3, activation="tanh", kernel_regularizer=kernel_regularizer)]
    if activity:
        layers.append(L.ActivityRegularization(l1=0.01, l2=0.03))
    layers.append(L.Dense(2, bias_regularizer=kernel_regularizer))
    return nk.Sequential(layers)


class _TapeModel(nk.Model):
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, sample_weight, training)


@pytest.mark.parametrize("name, activity", [(n, False) for n in CASES] + [("function", True)])
def test_fused_and_tape_fits_agree(name, activity):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4)).astype("float32")
    y = rng.normal(size=(10, 2)).astype("float32")
    fused = _model(CASES[name][0], activity)
    base = _model(CASES[name][0], activity)
    taped = _TapeModel(base.inputs, base.outputs)
    taped.set_weights(fused.get_weights())
    histories = []
    for model in (fused, taped):
        model.compile(optimizer=nk.optimizers.SGD(0.1), loss="mse")
        histories.append(model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0))
    assert fused._fused_step_ok() and not taped._fused_step_ok()
    atol, rtol = tol.CUSTOM_TRAINING_ATOL, tol.CUSTOM_TRAINING_RTOL
    losses = [h.history["loss"] for h in histories]
    assert_close(losses[0], losses[1], atol, rtol, f"{name}: losses")
    for a, b in zip(fused.get_weights(), taped.get_weights()):
        assert_close(a, b, atol, rtol, f"{name}: weights")


def test_activity_regularization_layer():
    layer = nk.layers.ActivityRegularization(l1=0.1, l2=0.2)
    assert layer.built and layer.supports_masking
    assert isinstance(layer.activity_regularizer, nk.regularizers.L1L2)
    config = layer.get_config()
    assert (config["l1"], config["l2"]) == (0.1, 0.2) and "activity_regularizer" not in config
    x = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    assert layer(x) is x
    expected = (0.1 * np.abs(x).sum() + 0.2 * np.square(x).sum()) / 4
    penalty = float(np.asarray(layer.losses[0]))
    assert_close(penalty, expected, tol.LOSS_ATOL, tol.LOSS_RTOL, "penalty")
    with pytest.raises(ValueError, match="l1"):
        nk.layers.ActivityRegularization(l1=-1.0)


def test_load_model_custom_objects_reach_a_regularizer_in_a_layer_config(tmp_path):
    """`custom_objects` given to load_model resolve the objects inside a layer's config (Keras
    puts them in scope for the whole deserialization)."""
    import numpykeras as keras
    from numpykeras import ops

    class LogSquare(keras.regularizers.Regularizer):
        def __init__(self, c=0.1):
            self.c = c

        def __call__(self, w):
            return self.c * ops.sum(ops.log(1 + ops.square(w)))

        def get_config(self):
            return {"c": self.c}

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer=LogSquare(0.5))]
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", custom_objects={"LogSquare": LogSquare})
    regularizer = loaded.layers[0].kernel_regularizer
    assert isinstance(regularizer, LogSquare) and regularizer.c == 0.5
