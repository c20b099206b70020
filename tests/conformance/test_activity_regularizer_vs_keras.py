"""Activity regularizers: numpykeras vs Keras 3 (TensorFlow backend).

Keras's ``Layer.__call__`` adds ``activity_regularizer(output) / batch_size`` to the layer's
losses on every call; ``model.losses`` then holds them and ``fit``/``evaluate`` add them to the
reported loss. Each case builds one model in both libraries (a regularized Dense, Conv2D,
Embedding or LSTM, a Sequential and a Functional model with several regularized layers, one of
them shared and one inside a nested model), copies Keras's weights into ours and compares:

- the penalties after ``model(x)`` (each layer's ``losses`` and ``model.losses``), within the
  float32 error scale of the penalty propagated from the layers' outputs (``_penalty_sigma``);
- ``fit`` (2 epochs of SGD, ``shuffle=False``, a short last batch with its own batch size):
  the per-epoch losses, the final weights and ``evaluate``, within the training tolerances;
- the gradients of a tape-recorded loss that includes ``model.losses``, with respect to the
  weights and to the input (the activity's gradient flows into the layer and through it).

The regularizers are ``L1``, ``L2``, ``L1L2`` and a custom callable written with ``ops``.
"""

import numpy as np
import pytest

import numpykeras as nk

import error_bounds as eb
import tolerances as tol
from tolerances import TRAINING_ATOL, TRAINING_RTOL, assert_close, assert_grad_close

N, BATCH = 20, 8  # 3 batches per epoch, the last one of 4 samples


# --------------------------------------------------------------------------- regularizers

REG_NAMES = ["l1", "l2", "l1_l2", "custom"]
L1, L2 = 0.02, 0.05
CUSTOM_FACTOR = 0.03


def make_regularizer(module, name):
    if name == "l1":
        return module.regularizers.L1(L1)
    if name == "l2":
        return module.regularizers.L2(L2)
    if name == "l1_l2":
        return module.regularizers.L1L2(l1=L1, l2=L2)
    ops = module.ops
    return lambda t: CUSTOM_FACTOR * ops.sum(ops.square(ops.tanh(t)))


class Regs:
    """Hands out the regularizers of one model: the k-th regularized layer gets
    ``REG_NAMES[(start + k) % 4]``, so the models with several such layers mix them."""

    def __init__(self, module, start):
        self.module, self.next = module, start
        self.names = []

    def __call__(self):
        name = REG_NAMES[self.next % len(REG_NAMES)]
        self.next += 1
        self.names.append(name)
        return make_regularizer(self.module, name)


# --------------------------------------------------------------------------- models and data


def build_dense(m, reg):
    L = m.layers
    return m.Sequential(
        [L.Input((6,)), L.Dense(5, activation="tanh", activity_regularizer=reg()), L.Dense(3)]
    )


def build_conv2d(m, reg):
    L = m.layers
    return m.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, (3, 3), activation="relu", activity_regularizer=reg()),
            L.Flatten(),
            L.Dense(3),
        ]
    )


def build_embedding(m, reg):
    L = m.layers
    return m.Sequential(
        [
            L.Input((5,), dtype="int32"),
            L.Embedding(10, 4, activity_regularizer=reg()),
            L.Flatten(),
            L.Dense(3),
        ]
    )


def build_lstm(m, reg):
    L = m.layers
    return m.Sequential([L.Input((5, 3)), L.LSTM(4, activity_regularizer=reg()), L.Dense(3)])


def build_sequential(m, reg):
    """Three regularized layers, the last a softmax (the crossentropy runs from its logits)."""
    L = m.layers
    return m.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, (3, 3), activation="relu", activity_regularizer=reg()),
            L.MaxPooling2D((2, 2)),
            L.Flatten(),
            L.Dense(6, activation="tanh", activity_regularizer=reg()),
            L.Dense(3, activation="softmax", activity_regularizer=reg()),
        ]
    )


def build_functional(m, reg):
    """A shared regularized layer (two calls, two penalties), an Add, a nested Sequential with
    a regularized layer and a regularized output layer."""
    L = m.layers
    inputs = L.Input((6,))
    shared = L.Dense(6, activation="tanh", activity_regularizer=reg(), name="shared")
    a = shared(inputs)
    h = L.Add()([a, shared(a)])
    inner = m.Sequential(
        [L.Input((6,)), L.Dense(5, activation="relu", activity_regularizer=reg(), name="inner")],
        name="nested",
    )
    outputs = L.Dense(3, activity_regularizer=reg(), name="head")(inner(h))
    return m.Model(inputs, outputs)


# name -> (builder, input shape or None for token ids, loss)
CASES = {
    "dense": (build_dense, (6,), "mse"),
    "conv2d": (build_conv2d, (6, 6, 2), "mse"),
    "embedding": (build_embedding, None, "mse"),
    "lstm": (build_lstm, (5, 3), "mse"),
    "sequential": (build_sequential, (6, 6, 2), "sparse_categorical_crossentropy"),
    "functional": (build_functional, (6,), "mse"),
}


def _data(case, seed):
    _, shape, loss = CASES[case]
    rng = np.random.default_rng(seed)
    if shape is None:
        x = rng.integers(0, 10, size=(N, 5)).astype("int32")
    else:
        x = rng.normal(size=(N,) + shape).astype("float32")
    if loss == "mse":
        y = rng.normal(size=(N, 3)).astype("float32")
    else:
        y = rng.integers(0, 3, size=N)
    return x, y


def _pair(keras, case, start):
    build = CASES[case][0]
    k_regs, regs = Regs(keras, start), Regs(nk, start)
    k_model, ours = build(keras, k_regs), build(nk, regs)
    assert k_regs.names == regs.names
    ours.set_weights(k_model.get_weights())
    return k_model, ours, regs.names


def _regularized_layers(model):
    """The layers with an activity regularizer, nested models' included, in model order."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out.extend(_regularized_layers(layer))
        elif layer.activity_regularizer is not None:
            out.append(layer)
    return out


# --------------------------------------------------------------------------- error scales


def _bounded_outputs(k_model, x):
    """Each Keras layer's outputs on ``x`` (one per call, in call order) with their float32 error
    scales, propagated by ``error_bounds``. Embedding (a row lookup) is exact; an LSTM reading
    the exact model input carries ``RECURRENT_FORWARD_BOUND`` per unit of ``|h| <= 1``."""
    outputs = {}

    def operation_fn(layer):
        def run(*args, **kwargs):
            arg = args[0] if len(args) == 1 else list(args)
            kind = type(layer).__name__
            if kind in ("Embedding", "LSTM"):
                assert not np.any(arg.sigma), f"{kind} must read the exact model input"
                dtype = "int32" if kind == "Embedding" else "float32"
                value = np.asarray(layer(arg.value.astype(dtype)), dtype=np.float64)
                sigma = 0.0
                if kind == "LSTM":
                    sigma = tol.RECURRENT_FORWARD_BOUND / (tol.LAMBDA * tol.COMPARED)
                out = eb.Bounded(value, sigma)
            else:  # its float64 twins are rebuilt from its config: without the penalty
                regularizer, layer.activity_regularizer = layer.activity_regularizer, None
                try:
                    out = eb.layer_bound(layer, arg)
                finally:
                    layer.activity_regularizer = regularizer
            outputs.setdefault(layer.name, []).append(out)
            return out

        return run

    def run_graph(model, inputs):
        model = getattr(model, "_functional", None) or model
        return model._run_through_graph(inputs, operation_fn=nested_fn)

    def nested_fn(layer):
        if hasattr(layer, "_run_through_graph") or getattr(layer, "_functional", None):
            return lambda *args, **kwargs: run_graph(layer, args[0])
        return operation_fn(layer)

    run_graph(k_model, eb.Bounded(np.asarray(x, dtype=np.float64), 0.0))
    return outputs


def _penalty_sigma(name, y, batch):
    """The error scale of one float32 evaluation of ``c * sum(f(y)) / batch`` given ``y``'s
    value and error scale: each component's input errors through ``|f'(y)|`` (1 for ``|y|``,
    whose value may cross zero), ``f``'s own rounding (a square: 1 ulp; ``tanh``:
    ELEMENTWISE_ULPS, doubled by the square), the sum's rounding (``reduction_sigma``), and the
    scalings and the division (3 roundings of the result)."""
    v, s = y.value.ravel(), y.sigma.ravel()
    components = []  # (factor, terms, |f'|, each term's own rounding)
    if name in ("l1", "l1_l2"):
        components.append((L1, np.abs(v), np.ones_like(v), np.zeros_like(v)))
    if name in ("l2", "l1_l2"):
        components.append((L2, v**2, 2 * np.abs(v), tol.U * v**2))
    if name == "custom":
        t = np.tanh(v)
        own = 2 * t**2 * tol.ELEMENTWISE_ULPS * tol.U + tol.U * t**2
        components.append((CUSTOM_FACTOR, t**2, np.abs(2 * t * (1 - t**2)), own))
    value, variance = 0.0, 0.0
    for factor, terms, slope, own in components:
        reduction = tol.reduction_sigma(terms.size, np.sum(terms**2), np.sum(terms))
        variance += (factor / batch) ** 2 * (
            np.sum((slope * s) ** 2) + np.sum(own**2) + reduction**2
        )
        value += factor * np.sum(terms) / batch
    return value, np.sqrt(variance + (3 * tol.U * value) ** 2)


# --------------------------------------------------------------------------- forward losses


@pytest.mark.parametrize("start", range(len(REG_NAMES)))
@pytest.mark.parametrize("case", list(CASES))
def test_activity_losses_after_a_call_match_keras(keras, case, start):
    k_model, ours, names = _pair(keras, case, start)
    x, _ = _data(case, seed=10 * start + list(CASES).index(case))
    k_model(x)
    ours(x)
    bounded = _bounded_outputs(k_model, x)
    k_layers, layers = _regularized_layers(k_model), _regularized_layers(ours)
    assert [type(la).__name__ for la in layers] == [type(la).__name__ for la in k_layers]
    total, total_variance = 0.0, 0.0
    for k_layer, layer, name in zip(k_layers, layers, names):
        outs = bounded[k_layer.name]
        expected = [float(v) for v in k_layer.losses]
        actual = [float(np.asarray(v)) for v in layer.losses]
        assert len(actual) == len(expected) == len(outs), f"{layer.name}: one penalty per call"
        for a, e, out in zip(actual, expected, outs):
            value, sigma = _penalty_sigma(name, out, out.value.shape[0])
            assert abs(value - e) <= tol.LAMBDA * sigma, f"{layer.name}: the bound's own value"
            tol.assert_sigma_close(a, e, sigma, f"{case}/{layer.name} ({name}) penalty")
            total += e
            total_variance += sigma**2
    assert len(ours.losses) == len(k_model.losses)
    actual_total = sum(float(np.asarray(v)) for v in ours.losses)
    tol.assert_sigma_close(actual_total, total, np.sqrt(total_variance), f"{case}: model.losses")


# --------------------------------------------------------------------------- training


def _close(actual, expected, what):
    assert_close(actual, expected, TRAINING_ATOL, TRAINING_RTOL, what)


def _with_custom_compute_loss(module, model_class):
    """A subclass overriding ``compute_loss`` (same result): numpykeras then trains on the tape
    path, not the fused kernels."""

    class Model(model_class):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training)

    return Model


FIT_CASES = [(case, i % len(REG_NAMES), False) for i, case in enumerate(CASES)]
FIT_CASES.append(("functional", 3, True))


@pytest.mark.parametrize(
    "case, start, tape_path",
    FIT_CASES,
    ids=[f"{c}-{REG_NAMES[s]}{'-tape' if t else ''}" for c, s, t in FIT_CASES],
)
def test_activity_regularized_fit_matches_keras(keras, case, start, tape_path):
    k_model, ours, _ = _pair(keras, case, start)
    if tape_path:  # the same graphs, as subclasses with their own compute_loss
        k_model = _with_custom_compute_loss(keras, keras.Model)(k_model.inputs, k_model.outputs)
        ours = _with_custom_compute_loss(nk, nk.Model)(ours.inputs, ours.outputs)
    loss = CASES[case][2]
    k_model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss)
    ours.compile(optimizer=nk.optimizers.SGD(learning_rate=0.1), loss=loss)
    assert ours._fused_step_ok() is not tape_path
    x, y = _data(case, seed=100 + start)
    fit_args = {"epochs": 2, "batch_size": BATCH, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, **fit_args)
    history = ours.fit(x, y, **fit_args)
    assert sorted(history.history) == sorted(k_history.history) == ["loss"]
    _close(history.history["loss"], k_history.history["loss"], f"{case}: history['loss']")
    assert len(ours.weights) == len(k_model.weights)
    for variable, k_var in zip(ours.weights, k_model.weights):
        assert variable.shape == tuple(k_var.shape)
        _close(variable.numpy(), k_var.numpy(), f"{case}: weight {variable.path}")
    k_eval = k_model.evaluate(x, y, batch_size=BATCH, verbose=0)
    ours_eval = ours.evaluate(x, y, batch_size=BATCH, verbose=0)
    _close(ours_eval, k_eval, f"{case}: evaluate()")


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("case", ["sequential", "functional"])
def test_activity_loss_gradients_match_tf(tf, keras, case):
    """``sum(y * upstream) + sum(model.losses)`` on a tape: weight and input gradients."""
    k_model, ours, _ = _pair(keras, case, 2)
    x, _ = _data(case, seed=7)
    upstream = np.random.default_rng(8).normal(size=(N, 3)).astype("float32")
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        k_loss = tf.reduce_sum(k_model(x_tf, training=True) * upstream) + tf.add_n(k_model.losses)
    k_grads = tape.gradient(k_loss, [x_tf] + k_model.trainable_variables)
    xs = x.copy()
    with nk.GradientTape() as tape:
        tape.watch(xs)
        loss = nk.ops.sum(ours(xs, training=True) * upstream) + sum(ours.losses)
    grads = tape.gradient(loss, [xs] + ours.trainable_variables)
    assert len(ours.losses) == len(k_model.losses)
    assert_close(float(np.asarray(loss)), float(k_loss), tol.LOSS_ATOL, tol.LOSS_RTOL, "loss")
    assert_grad_close(np.asarray(grads[0]), k_grads[0].numpy(), f"{case}: d input")
    for variable, g, k_g in zip(ours.trainable_variables, grads[1:], k_grads[1:]):
        assert_grad_close(np.asarray(g), k_g.numpy(), f"{case}: d{variable.path}")
