"""The fused sequence kernel of SimpleRNN, LSTM and GRU against the plain per-step loop.

``RNN`` runs a plain built-in cell through ``layers/rnn/sequence_kernel.py`` (one recorded node,
a hand-written backward through time); ``RNN._call(..., fused=False)`` is the per-step loop on
``keras.ops``, recorded op by op, which the conformance tests hold to Keras. Both run here from
the same weights under a ``GradientTape`` with random upstream gradients, in float64 (so the
two differ only by rounding: ``REFERENCE_*``) and in float32 (dtypes; ``RECURRENT_*``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers
from numpykeras.layers.rnn import sequence_kernel
from numpykeras.ops import _parallel

from concurrency import run_in_threads
from tolerances import (
    RECURRENT_FORWARD_ATOL,
    RECURRENT_FORWARD_RTOL,
    RECURRENT_GRAD_ATOL,
    RECURRENT_GRAD_RTOL,
    REFERENCE_ATOL,
    REFERENCE_RTOL,
    assert_close,
)

BATCH, STEPS, FEATURES, UNITS = 3, 5, 4, 3
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 1, 0, 1]], dtype=bool)

CELLS = {
    "SimpleRNN": ("SimpleRNN", {}),
    "SimpleRNN-relu": ("SimpleRNN", {"activation": "relu"}),
    "LSTM": ("LSTM", {}),
    "LSTM-relu-hard_sigmoid": (
        "LSTM",
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    ),
    "GRU": ("GRU", {}),
    "GRU-reset_before": ("GRU", {"reset_after": False}),
    "GRU-relu-hard_sigmoid": (
        "GRU",
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    ),
    "GRU-reset_before-selu": ("GRU", {"reset_after": False, "activation": "selu"}),
}
# (layer kwargs, call: "mask" and/or "initial_state")
OPTIONS = {
    "last": ({}, ()),
    "sequences-states": ({"return_sequences": True, "return_state": True}, ()),
    "go_backwards": ({"go_backwards": True, "return_sequences": True}, ()),
    "mask": ({"return_sequences": True}, ("mask",)),
    "mask-zero_output-backwards-states": (
        {
            "return_sequences": True,
            "return_state": True,
            "zero_output_for_mask": True,
            "go_backwards": True,
        },
        ("mask",),
    ),
    "mask-last": ({}, ("mask",)),
    "initial_state": ({"return_state": True}, ("initial_state",)),
    "initial_state-mask": ({"return_sequences": True}, ("initial_state", "mask")),
    "no_bias": ({"use_bias": False}, ()),
}


def _flat(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _layer(cell, options, dtype, weights_seed=0, **extra):
    name, kwargs = CELLS[cell]
    layer = getattr(layers, name)(UNITS, dtype=dtype, **kwargs, **options, **extra)
    layer(np.zeros((BATCH, STEPS, FEATURES), dtype))
    rng = np.random.default_rng(weights_seed)
    layer.set_weights([0.6 * rng.normal(size=w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _states(layer, rng, dtype):
    return [rng.normal(size=(BATCH, UNITS)).astype(dtype) for _ in layer.state_size]


def _run(layer, x, states, mask, training, fused, upstream=None, rng=None):
    """Outputs and the gradients of (x, initial states, weights) of one call, under a tape."""
    xv = nk.Variable(x, dtype=x.dtype)
    sv = [nk.Variable(s, dtype=s.dtype) for s in states]
    with nk.GradientTape() as tape:
        out = _flat(layer._call(xv, sv or None, mask, training, fused))
    if upstream is None:
        upstream = [rng.normal(size=np.shape(o)).astype(x.dtype) for o in out]
    grads = tape.gradient(out, [xv, *sv, *layer.trainable_weights], output_gradients=upstream)
    return [np.asarray(o) for o in out], grads, upstream


def _compare(fused, plain, dtype, what):
    (out_f, grads_f, _), (out_p, grads_p, _) = fused, plain
    forward = (REFERENCE_ATOL, REFERENCE_RTOL) if dtype == "float64" else None
    forward = forward or (RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL)
    grad = (REFERENCE_ATOL, REFERENCE_RTOL) if dtype == "float64" else None
    grad = grad or (RECURRENT_GRAD_ATOL, RECURRENT_GRAD_RTOL)
    assert len(out_f) == len(out_p)
    for i, (a, b) in enumerate(zip(out_f, out_p)):
        assert a.dtype == np.dtype(dtype), f"{what}: output {i} is {a.dtype}"
        assert_close(a, b, *forward, f"{what}: output {i}")
    for i, (a, b) in enumerate(zip(grads_f, grads_p)):
        assert a is not None and b is not None, f"{what}: gradient {i} missing"
        a = np.asarray(a)
        assert a.dtype == np.dtype(dtype), f"{what}: gradient {i} is {a.dtype}"
        assert_close(a, np.asarray(b), *grad, f"{what}: gradient {i}")


def _check(cell, option, dtype, seed=0):
    options, call = OPTIONS[option]
    layer = _layer(cell, options, dtype, seed)
    assert layer._uses_kernel()
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(dtype)
    states = _states(layer, rng, dtype) if "initial_state" in call else []
    mask = MASK if "mask" in call else None
    fused = _run(layer, x, states, mask, False, True, rng=rng)
    plain = _run(layer, x, states, mask, False, False, upstream=fused[2])
    _compare(fused, plain, dtype, f"{cell} {option} {dtype}")
    # Inference (no tape: the kernel on this thread's scratch buffers) computes the same.
    inference = _flat(layer._call(x, states or None, mask, False, True))
    for a, b in zip(inference, fused[0]):
        np.testing.assert_array_equal(np.asarray(a), b)


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_kernel_matches_the_per_step_loop(cell, option):
    _check(cell, option, "float64")


@pytest.mark.parametrize("option", ["sequences-states", "mask-zero_output-backwards-states"])
@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"])
def test_kernel_matches_the_per_step_loop_in_float32(cell, option):
    _check(cell, option, "float32")


@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)], ids=str)
@pytest.mark.parametrize(
    "cell,implementation",
    [
        ("SimpleRNN", None),
        ("LSTM", 1),
        ("LSTM", 2),
        ("GRU", 1),
        ("GRU", 2),
        ("GRU-reset_before", 2),
    ],
)
def test_dropout_masks_match_the_per_step_loop(cell, implementation, rates):
    """Training with dropout: two layers with the same seed draw the same masks, in the loop's
    order (inputs, then states; one per gate with implementation 1, which recurrent dropout
    implies)."""
    extra = {"dropout": rates[0], "recurrent_dropout": rates[1], "seed": 3}
    if implementation is not None:
        extra["implementation"] = implementation
    fused_layer = _layer(cell, {"return_sequences": True}, "float64", **extra)
    plain_layer = _layer(cell, {"return_sequences": True}, "float64", **extra)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(BATCH, STEPS, FEATURES))
    fused = _run(fused_layer, x, [], None, True, True, rng=rng)
    plain = _run(plain_layer, x, [], None, True, False, upstream=fused[2])
    _compare(fused, plain, "float64", f"{cell} dropout {rates}")
    assert not np.allclose(fused[0][0], np.asarray(fused_layer(x)))  # the masks did apply
    assert getattr(fused_layer.cell, "_dropout_mask", None) is None  # nothing kept on the cell


@pytest.fixture
def kernel_paths(monkeypatch):
    """The kernel's threaded paths on the tests' tiny shapes: three kernel threads, the batch
    cut into parts, the input projection and the weight gradients in blocks of steps."""
    executor = ThreadPoolExecutor(3, initializer=_parallel._mark_kernel_thread)
    monkeypatch.setattr(
        _parallel, "_state", {"threads": 3, "set_threads": None, "executor": executor}
    )
    monkeypatch.setattr(sequence_kernel, "_SPLIT_MIN_STEP_MACS", 0)
    monkeypatch.setattr(sequence_kernel, "_SPLIT_MIN_ROWS", 1)
    monkeypatch.setattr(sequence_kernel, "_OVERLAP_MIN_MACS", 0)
    yield
    executor.shutdown()


@pytest.mark.parametrize(
    "option", ["sequences-states", "mask-zero_output-backwards-states", "initial_state-mask"]
)
@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"])
def test_threaded_paths_match_the_per_step_loop(kernel_paths, cell, option):
    assert sequence_kernel._batch_parts(BATCH, STEPS, FEATURES, _layer(cell, {}, "float64").cell)
    _check(cell, option, "float64")


def test_threaded_paths_with_dropout(kernel_paths):
    extra = {"dropout": 0.3, "recurrent_dropout": 0.4, "seed": 3, "return_sequences": True}
    fused_layer = _layer("LSTM", extra, "float64")
    plain_layer = _layer("LSTM", extra, "float64")
    x = np.random.default_rng(4).normal(size=(BATCH, STEPS, FEATURES))
    fused = _run(fused_layer, x, [], None, True, True, rng=np.random.default_rng(5))
    plain = _run(plain_layer, x, [], None, True, False, upstream=fused[2])
    _compare(fused, plain, "float64", "LSTM dropout, threaded")


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_layers_carry_the_kernels_states(cell):
    """Two calls of a stateful layer: the second starts from the first's final states (the
    loop given them as initial states is the reference; no gradient reaches stored states)."""
    layer = _layer(cell, {"stateful": True, "return_sequences": True}, "float64")
    reference = _layer(cell, {"return_sequences": True}, "float64")
    rng = np.random.default_rng(6)
    x1, x2 = (rng.normal(size=(BATCH, STEPS, FEATURES)) for _ in range(2))
    layer.reset_states()
    first = _run(layer, x1, [], None, False, True, rng=rng)
    plain = _run(reference, x1, [], None, False, False, upstream=first[2])
    _compare(first, plain, "float64", f"stateful {cell}, first call")
    states = [v.numpy() for v in layer.states]
    expected = plain[0][0][:, -1]  # h after the first call
    assert_close(states[0], expected, REFERENCE_ATOL, REFERENCE_RTOL, "h after the first call")
    second = _run(layer, x2, [], None, False, True, rng=rng)
    xv = nk.Variable(x2, dtype="float64")
    with nk.GradientTape() as tape:
        out = reference._call(xv, states, None, False, False)
    grads = tape.gradient(out, [xv, *reference.trainable_weights], output_gradients=second[2])
    _compare(second, ([np.asarray(out)], grads, None), "float64", f"stateful {cell}, second call")
    assert_close(
        layer.states[0].numpy(), np.asarray(out)[:, -1], REFERENCE_ATOL, REFERENCE_RTOL, "h"
    )


@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_forward_and_backward_of_a_kernel_model(cell, return_state):
    """A model of kernel layers trains through ``forward``/``backward`` (the fused fit path):
    the same gradients as the loop on the tape, also when an output gets no gradient (a
    model passes 0-d zeros for it)."""
    layer = _layer(cell, {"return_sequences": True, "return_state": return_state}, "float64")
    assert layer._trains_by_kernel()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(BATCH, STEPS, FEATURES))
    out, cache = layer.forward(x, training=True)
    outs = _flat(out)
    dys = [rng.normal(size=o.shape) for o in outs]
    if return_state:
        dys[-1] = np.zeros(())  # no gradient for the last state
    dx, grads = layer.backward(dys if return_state else dys[0], cache)
    upstream = [np.zeros(o.shape) if d.ndim == 0 else d for d, o in zip(dys, outs)]
    plain, plain_grads, _ = _run(layer, x, [], None, True, False, upstream=upstream)
    for a, b in zip(outs, plain):
        assert_close(a, b, REFERENCE_ATOL, REFERENCE_RTOL, f"{cell} forward")
    assert_close(dx, plain_grads[0], REFERENCE_ATOL, REFERENCE_RTOL, f"{cell} dx")
    for v, g in zip(layer.trainable_weights, plain_grads[1:]):
        assert_close(grads[v], g, REFERENCE_ATOL, REFERENCE_RTOL, f"{cell} d{v.path}")


def test_a_kernel_model_trains_by_the_fused_path_as_on_the_tape():
    """``fit``'s fused path (Sequential of kernel layers) and a custom GradientTape step of the
    same model give the same weights after a few SGD steps."""

    def model():
        nk.utils.set_random_seed(1)
        m = nk.Sequential(
            [nk.Input((STEPS, FEATURES)), layers.GRU(UNITS), layers.Dense(2, activation="softmax")]
        )
        m.compile(optimizer=nk.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return m

    rng = np.random.default_rng(8)
    x = rng.normal(size=(8, STEPS, FEATURES)).astype("float32")
    y = rng.integers(0, 2, size=8)
    fused, taped = model(), model()
    assert fused._fused_step_ok()
    fused.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    loss = nk.losses.SparseCategoricalCrossentropy()
    for _ in range(2):
        for i in (0, 4):
            with nk.GradientTape() as tape:
                value = loss(y[i : i + 4], taped(x[i : i + 4], training=True))
            grads = tape.gradient(value, taped.trainable_weights)
            taped.optimizer.apply(grads, taped.trainable_weights)
    for a, b in zip(fused.weights, taped.weights):
        assert_close(a.numpy(), b.numpy(), RECURRENT_GRAD_ATOL, RECURRENT_GRAD_RTOL, a.path)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_a_call_is_one_node_on_the_tape(cell):
    layer = _layer(cell, {"return_state": True}, "float32")
    x = nk.Variable(np.ones((BATCH, STEPS, FEATURES), "float32"))
    with nk.GradientTape():
        out = layer(x)
    expected = 1 + len(layer.state_size) + len(layer.trainable_weights)  # x, states, weights
    node = out[0]._node
    for _ in range(2):  # the outputs are reshaped slices of one packed node
        node = node.inputs[0]._node if len(node.inputs) != expected else node
    assert len(node.inputs) == expected
    assert all(o._node.inputs[0]._node.inputs[0]._node is node for o in out)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_second_order_gradients_go_through_the_loop(cell):
    """A gradient penalty (the gradient of a gradient) through the kernel's node is the
    per-step loop's, differentiated on the outer tape."""
    layer = _layer(cell, {}, "float64")
    x = np.random.default_rng(9).normal(size=(BATCH, STEPS, FEATURES))

    def penalty(fused):
        xv = nk.Variable(x, dtype="float64")
        with nk.GradientTape() as outer:
            with nk.GradientTape() as inner:
                y = layer._call(xv, None, None, False, fused)
                energy = nk.ops.sum(y * y)
            dx = inner.gradient(energy, xv)
            value = nk.ops.sum(dx * dx)
        return outer.gradient(value, layer.trainable_weights)

    for a, b in zip(penalty(True), penalty(False)):
        assert_close(np.asarray(a), np.asarray(b), REFERENCE_ATOL, REFERENCE_RTOL, f"{cell}")


def test_layers_the_kernel_does_not_cover_run_the_loop():
    def my_tanh(x):
        return nk.ops.tanh(x)

    class MyCell(layers.LSTMCell):
        pass

    custom_activation = layers.LSTM(UNITS, activation=my_tanh)
    subclassed_cell = layers.RNN(MyCell(UNITS))
    stacked = layers.RNN([layers.LSTMCell(UNITS), layers.GRUCell(UNITS)])
    time_major = layers.GRU(UNITS, time_major=True)
    x = np.ones((BATCH, STEPS, FEATURES), "float32")
    for layer in (custom_activation, subclassed_cell, stacked, time_major):
        layer(x)
    assert not custom_activation._uses_kernel()
    assert not subclassed_cell._uses_kernel()
    assert not stacked._uses_kernel()
    assert time_major._uses_kernel() and not time_major._trains_by_kernel()
    assert layers.RNN(layers.GRUCell(UNITS))._uses_kernel() is False  # not built yet
    built = layers.RNN(layers.GRUCell(UNITS))
    built(x)
    assert built._uses_kernel()


def test_empty_batches_and_empty_sequences():
    layer = _layer("LSTM", {"return_sequences": True}, "float32")
    assert np.shape(layer(np.zeros((0, STEPS, FEATURES), "float32"))) == (0, STEPS, UNITS)
    with pytest.raises(ValueError, match="0 timesteps"):
        layer(np.zeros((2, 0, FEATURES), "float32"))
    full = np.ones((BATCH, STEPS), bool)  # an all-true mask is no mask
    x = np.random.default_rng(10).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    np.testing.assert_array_equal(layer(x, mask=full), layer(x))


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_threads_sharing_a_model_get_the_single_threaded_results(cell):
    """Inference keeps nothing on the layer (scratch buffers are per thread)."""
    name, _ = CELLS[cell]
    model = nk.Sequential(
        [nk.Input((STEPS, FEATURES)), getattr(layers, name)(6, return_sequences=True)]
    )
    x = np.random.default_rng(11).normal(size=(16, STEPS, FEATURES)).astype("float32")
    alone = model.predict(x, batch_size=4, verbose=0)
    results = run_in_threads(lambda: model.predict(x, batch_size=4, verbose=0), threads=4)
    for result in results:
        np.testing.assert_array_equal(result, alone)


def test_a_functional_model_predicts_and_trains_through_the_kernel():
    """A graph with a recurrent node of several outputs: ``predict`` (the inference plan) is
    the loop's result, and ``fit`` takes the fused path (the unused state gets no gradient)."""
    inputs = nk.Input((STEPS, FEATURES))
    sequence, h, _ = layers.LSTM(UNITS, return_sequences=True, return_state=True)(inputs)
    outputs = [layers.Dense(2)(layers.GlobalAveragePooling1D()(sequence)), h]
    model = nk.Model(inputs, outputs)
    x = np.random.default_rng(12).normal(size=(6, STEPS, FEATURES)).astype("float32")
    lstm, dense = model.layers[1], model.layers[3]
    ref_sequence, ref_h, _ = lstm._call(x, None, None, False, False)
    expected = [dense(np.asarray(ref_sequence).mean(axis=1)), ref_h]
    for got, want in zip(model.predict(x, verbose=0), expected):
        assert_close(got, np.asarray(want), RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, "")
    model.compile(optimizer=nk.optimizers.SGD(0.05), loss=["mse", "mse"])
    assert model._fused_step_ok()
    y = [np.zeros((6, 2), "float32"), np.zeros((6, UNITS), "float32")]
    losses = model.fit(x, y, epochs=5, batch_size=6, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_second_order_gradients_through_a_kernel_model(monkeypatch):
    """A Sequential of kernel layers is one node on the tape; its gradient of a gradient runs
    the layers' ops forms (the LSTM's per-step loop), as the model made to use the loop does."""
    nk.utils.set_random_seed(2)
    model = nk.Sequential(
        [nk.Input((STEPS, FEATURES)), layers.LSTM(UNITS, dtype="float64"), layers.Dense(1)]
    )
    x = np.random.default_rng(13).normal(size=(BATCH, STEPS, FEATURES))

    def penalty():
        xv = nk.Variable(x, dtype="float64")
        with nk.GradientTape() as outer:
            with nk.GradientTape() as inner:
                energy = nk.ops.sum(model(xv))
            dx = inner.gradient(energy, xv)
            value = nk.ops.sum(dx * dx)
        return outer.gradient(value, model.layers[0].trainable_weights)

    assert model._trains_by_kernel()
    fused = penalty()
    monkeypatch.setattr(model.layers[0], "_uses_kernel", lambda: False)
    assert not model._trains_by_kernel()
    for a, b in zip(fused, penalty()):
        assert_close(np.asarray(a), np.asarray(b), REFERENCE_ATOL, REFERENCE_RTOL, "penalty")
