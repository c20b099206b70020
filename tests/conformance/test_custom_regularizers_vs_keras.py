"""Custom weight regularizers and ``ActivityRegularization``: numpykeras vs Keras 3 (TensorFlow).

Keras adds ``variable.regularizer(variable)`` of every trainable weight to ``model.losses`` and
differentiates it like any other op. numpykeras uses a built-in regularizer's own ``gradient``
and differentiates any other callable through its ops, which covers:

- ``function``: a plain function written with ``ops``;
- ``subclass``: a ``Regularizer`` subclass with its own ``__call__`` and ``get_config``;
- ``l2_times_3``: a subclass of ``L2`` overriding only ``__call__`` (``3 * super().__call__``),
  which must not inherit ``L2``'s hand-written gradient;
- ``l2_ops``: the same with the penalty written in ``ops`` (``3 * l2 * sum(x^2)``).

Each case builds one model in both libraries (a Dense model, a Conv2D model, a model whose
Conv2D, DepthwiseConv2D, BatchNormalization and Dense carry kernel, depthwise, gamma, beta and
bias regularizers, and an Embedding + LSTM model with embeddings, kernel, recurrent and bias
regularizers), copies Keras's weights into ours, and compares ``fit`` (2 epochs of SGD,
``shuffle=False``, a short last batch) on the fused path and on the tape path (a subclass with
its own ``compute_loss``): the per-epoch losses and the final weights, within the training
tolerances. The gradients of ``sum(model.losses)`` on a tape are compared with TensorFlow's.

``ActivityRegularization(l1, l2)`` (the identity, penalising its input with ``L1L2``) is compared
the same way inside a Sequential model, and its config and a ``.keras`` round trip with Keras's.
"""

import numpy as np
import pytest

import numpykeras as nk

from tolerances import (
    LOSS_ATOL,
    LOSS_RTOL,
    TRAINING_ATOL,
    TRAINING_RTOL,
    assert_close,
    assert_forward_close,
    assert_grad_close,
)

N, BATCH = 20, 8  # 3 batches per epoch, the last one of 4 samples
FACTOR = 0.02


# --------------------------------------------------------------------------- regularizers

REG_KINDS = ["function", "subclass", "l2_times_3", "l2_ops"]


def make_regularizer(module, kind, factor=FACTOR):
    ops = module.ops
    if kind == "function":
        return lambda w: factor * ops.sum(ops.abs(w))
    if kind == "subclass":

        class LogSquare(module.regularizers.Regularizer):
            """``factor * sum(log(1 + x^2))``."""

            def __init__(self, factor=0.01):
                self.factor = factor

            def __call__(self, x):
                return self.factor * ops.sum(ops.log(1.0 + ops.square(x)))

            def get_config(self):
                return {"factor": self.factor}

        return LogSquare(factor)
    if kind == "l2_times_3":

        class TripledL2(module.regularizers.L2):
            def __call__(self, x):
                return 3.0 * super().__call__(x)

        return TripledL2(factor)

    class TripledL2Ops(module.regularizers.L2):
        def __call__(self, x):
            return 3.0 * self.l2 * ops.sum(ops.square(x))

    return TripledL2Ops(factor)


# --------------------------------------------------------------------------- models


def build_dense(m, kind):
    L = m.layers
    return m.Sequential(
        [
            L.Input((6,)),
            L.Dense(5, activation="tanh", kernel_regularizer=make_regularizer(m, kind)),
            L.Dense(3, bias_regularizer=make_regularizer(m, kind, 0.05)),
        ]
    )


def build_conv2d(m, kind):
    L = m.layers
    return m.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, (3, 3), activation="relu", kernel_regularizer=make_regularizer(m, kind)),
            L.Flatten(),
            L.Dense(3),
        ]
    )


def build_mixed(m, kind):
    """Kernel, depthwise, gamma, beta and bias regularizers in one model."""
    L = m.layers

    def reg(factor):
        return make_regularizer(m, kind, factor)

    return m.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, (3, 3), kernel_regularizer=reg(0.01)),
            L.BatchNormalization(gamma_regularizer=reg(0.03), beta_regularizer=reg(0.04)),
            L.DepthwiseConv2D((2, 2), depthwise_regularizer=reg(0.02), activation="tanh"),
            L.Flatten(),
            L.Dense(3, bias_regularizer=reg(0.05)),
        ]
    )


def build_recurrent(m, kind):
    """Embeddings, kernel, recurrent and bias regularizers of an Embedding and an LSTM."""
    L = m.layers

    def reg(factor):
        return make_regularizer(m, kind, factor)

    return m.Sequential(
        [
            L.Input((5,), dtype="int32"),
            L.Embedding(10, 4, embeddings_regularizer=reg(0.02)),
            L.LSTM(
                3,
                kernel_regularizer=reg(0.01),
                recurrent_regularizer=reg(0.05),
                bias_regularizer=reg(0.03),
            ),
            L.Dense(3),
        ]
    )


def build_activity(m, _kind):
    L = m.layers
    return m.Sequential(
        [
            L.Input((6,)),
            L.Dense(5, activation="tanh"),
            L.ActivityRegularization(l1=0.02, l2=0.05),
            L.Dense(3),
            L.ActivityRegularization(l2=0.1),
        ]
    )


MODELS = {
    "dense": (build_dense, (6,)),
    "conv2d": (build_conv2d, (6, 6, 2)),
    "mixed": (build_mixed, (6, 6, 2)),
    "recurrent": (build_recurrent, None),  # token ids
    "activity": (build_activity, (6,)),
}


def _data(case, seed):
    rng = np.random.default_rng(seed)
    shape = MODELS[case][1]
    if shape is None:
        x = rng.integers(0, 10, size=(N, 5)).astype("int32")
    else:
        x = rng.normal(size=(N,) + shape).astype("float32")
    y = rng.normal(size=(N, 3)).astype("float32")
    return x, y


def _pair(keras, case, kind):
    build = MODELS[case][0]
    k_model, ours = build(keras, kind), build(nk, kind)
    ours.set_weights(k_model.get_weights())
    return k_model, ours


def _with_custom_compute_loss(module, model_class):
    """A subclass overriding ``compute_loss`` (same result): numpykeras then trains on the tape
    path, not the fused kernels."""

    class Model(model_class):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training)

    return Model


# --------------------------------------------------------------------------- training


def _close(actual, expected, what):
    assert_close(actual, expected, TRAINING_ATOL, TRAINING_RTOL, what)


FIT_CASES = [(case, kind, False) for case in ("dense", "conv2d") for kind in REG_KINDS]
FIT_CASES += [("mixed", "subclass", False), ("mixed", "l2_times_3", True)]
FIT_CASES += [("recurrent", "function", False), ("recurrent", "l2_times_3", True)]
FIT_CASES += [("dense", "function", True), ("conv2d", "l2_ops", True)]
FIT_CASES += [("activity", None, False), ("activity", None, True)]


@pytest.mark.parametrize(
    "case, kind, tape_path",
    FIT_CASES,
    ids=[f"{c}-{k or 'l1l2'}{'-tape' if t else ''}" for c, k, t in FIT_CASES],
)
def test_regularized_fit_matches_keras(keras, case, kind, tape_path):
    k_model, ours = _pair(keras, case, kind)
    if tape_path:  # the same graphs, as subclasses with their own compute_loss
        k_model = _with_custom_compute_loss(keras, keras.Model)(k_model.inputs, k_model.outputs)
        ours = _with_custom_compute_loss(nk, nk.Model)(ours.inputs, ours.outputs)
    k_model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    ours.compile(optimizer=nk.optimizers.SGD(learning_rate=0.1), loss="mse")
    assert ours._fused_step_ok() is not tape_path
    x, y = _data(case, seed=list(MODELS).index(case) + 10 * REG_KINDS.index(kind or "function"))
    fit_args = {"epochs": 2, "batch_size": BATCH, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, **fit_args)
    history = ours.fit(x, y, **fit_args)
    _close(history.history["loss"], k_history.history["loss"], f"{case}: history['loss']")
    assert len(ours.weights) == len(k_model.weights)
    for variable, k_var in zip(ours.weights, k_model.weights):
        assert variable.shape == tuple(k_var.shape)
        _close(variable.numpy(), k_var.numpy(), f"{case}: weight {variable.path}")


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("kind", REG_KINDS)
def test_regularization_loss_gradients_match_tf(tf, keras, kind):
    """``sum(model.losses)`` on a tape: the penalties and their gradients per weight."""
    k_model, ours = _pair(keras, "mixed", kind)
    x, _ = _data("mixed", seed=3)
    k_model(x)
    ours(x)
    with tf.GradientTape() as tape:
        k_loss = tf.add_n(k_model.losses)
    k_grads = tape.gradient(k_loss, k_model.trainable_variables)
    with nk.GradientTape() as tape:
        loss = sum(ours.losses)
    grads = tape.gradient(loss, ours.trainable_variables)
    assert len(ours.losses) == len(k_model.losses) == 5
    assert_close(float(np.asarray(loss)), float(k_loss), LOSS_ATOL, LOSS_RTOL, f"{kind}: losses")
    for variable, g, k_g in zip(ours.trainable_variables, grads, k_grads):
        if k_g is None:
            assert g is None, f"{kind}: d{variable.path} should be unconnected"
            continue
        assert_grad_close(np.asarray(g), k_g.numpy(), f"{kind}: d{variable.path}")


# --------------------------------------------------------------------------- ActivityRegularization


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.01, 0.0), (0.01, 0.02)])
def test_activity_regularization_config_matches_keras(keras, l1, l2):
    k_layer = keras.layers.ActivityRegularization(l1=l1, l2=l2, name="act_reg")
    layer = nk.layers.ActivityRegularization(l1=l1, l2=l2, name="act_reg")
    assert layer.get_config() == k_layer.get_config()
    assert layer.built and layer.supports_masking
    again = nk.layers.ActivityRegularization.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    k_layer(x)
    penalties = [float(np.asarray(v)) for v in layer.losses]
    assert_close(penalties, [float(v) for v in k_layer.losses], LOSS_ATOL, LOSS_RTOL, "penalty")


def test_activity_regularization_keras_file_round_trip(keras, tmp_path):
    """A ``.keras`` file written by each library loads in the other with the same config and
    the same outputs and losses."""
    k_model, ours = _pair(keras, "activity", None)
    x, _ = _data("activity", seed=5)
    ours_path, k_path = tmp_path / "ours.keras", tmp_path / "keras.keras"
    ours.save(ours_path)
    k_model.save(k_path)
    from_ours = keras.saving.load_model(ours_path)
    from_keras = nk.saving.load_model(k_path)

    def act_configs(model):
        return [
            layer.get_config()
            for layer in model.layers
            if type(layer).__name__ == "ActivityRegularization"
        ]

    assert act_configs(from_ours) == act_configs(k_model) == act_configs(ours)
    assert act_configs(from_keras) == act_configs(k_model)
    expected = np.asarray(k_model(x))
    k_losses = [float(v) for v in k_model.losses]
    for model, what in ((from_ours, "Keras from ours"), (from_keras, "ours from Keras")):
        assert_forward_close(np.asarray(model(x)), expected, f"{what}: outputs")
        losses = [float(np.asarray(v)) for v in model.losses]
        assert_close(losses, k_losses, LOSS_ATOL, LOSS_RTOL, f"{what}: losses")
