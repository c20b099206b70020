"""Concurrency: threads sharing one model get exactly the results of a single thread.

Inference keeps no per-call state on layers (the tape and the fusion plans hold structure only),
so ``predict``, ``predict_on_batch`` and ``model(x)`` called from several threads at once on the
same model must return arrays bit-identical to the same call made alone, including the fused
inference paths (conv + BN + add + relu, conv + max pool) and kernels split across threads.
"""

import numpy as np
import pytest

import numpykeras as nk

from concurrency import run_in_threads


def _cnn():
    L = nk.layers
    return nk.Sequential(
        [
            nk.Input((16, 16, 3)),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(8, 3, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
            L.Flatten(),
            L.Dense(5, activation="softmax"),
        ]
    )


def _residual():
    L = nk.layers
    inp = nk.Input((12, 12, 4))
    x = L.ZeroPadding2D(1)(inp)
    x = L.Conv2D(4, 3, use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Add()([x, inp])
    x = L.ReLU(6.0)(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    return nk.Model(inp, L.Dense(3)(x))


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        if "variance" in w.path:
            weights.append(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
        else:
            weights.append((0.3 * rng.standard_normal(w.shape)).astype("float32"))
    model.set_weights(weights)
    return model


CALLS = {
    "predict": lambda m, x: m.predict(x, batch_size=8, verbose=0),
    "predict_on_batch": lambda m, x: m.predict_on_batch(x),
    "call": lambda m, x: np.asarray(m(x)),
}


@pytest.mark.parametrize("build", [_cnn, _residual], ids=["sequential", "functional"])
@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("kernel_threads", ["1", "2"])
def test_threads_get_the_single_threaded_results(build, call, kernel_threads, monkeypatch):
    monkeypatch.setenv("NUMPYKERAS_KERNEL_THREADS", kernel_threads)
    model = _randomize(build())
    shape = (20,) + tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")
    alone = CALLS[call](model, x)
    results = run_in_threads(lambda: CALLS[call](model, x), threads=4, repeats=3)
    for i, result in enumerate(results):
        assert result.dtype == alone.dtype
        np.testing.assert_array_equal(result, alone, err_msg=f"thread {i}, {call}")


def test_predict_while_another_thread_trains():
    """Predictions made while another thread trains the same model neither fail nor see a
    half-built state: every output is finite with the right shape, and afterwards the model
    predicts what a fresh copy with the trained weights predicts."""
    import threading

    model = _randomize(_cnn())
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.random.default_rng(2).standard_normal((64, 16, 16, 3)).astype("float32")
    y = np.arange(64) % 5
    outputs, errors = [], []

    def predict_repeatedly():
        try:
            for _ in range(5):
                outputs.append(model.predict(x[:4], verbose=0))
        except Exception as e:  # raised below, in the test's thread
            errors.append(e)

    readers = [threading.Thread(target=predict_repeatedly) for _ in range(2)]
    for t in readers:
        t.start()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for t in readers:
        t.join()
    assert not errors, errors
    assert len(outputs) == 10
    assert all(p.shape == (4, 5) and np.all(np.isfinite(p)) for p in outputs)
    copy = _cnn()
    copy.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), copy.predict(x, verbose=0))
