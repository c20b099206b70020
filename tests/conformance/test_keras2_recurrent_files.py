"""Keras 2 recurrent files vs tf_keras (Keras 2): files with ``CuDNNLSTM``/``CuDNNGRU`` layers
written by tf_keras itself, and hand-built Keras 2.0-2.2 files (``tests/keras2_recurrent_files.py``)
that tf_keras reads.

tf_keras cannot run cuDNN layers on a CPU, but it builds and saves them, and its ``load_weights``
converts their weights for plain ``LSTM``/``GRU(reset_after=True)`` layers
(``hdf5_format._convert_rnn_weights``): those plain layers' predictions are what a Keras 2 model
predicted, and their converted weights are what numpykeras must hold. Hand-built files whose GRU
has no ``reset_after`` (Keras 2.0-2.1.4) are refused by tf_keras (it assumes ``reset_after=True``)
and are checked against the NumPy reference in ``tests/unit/test_keras2_recurrent_h5.py``.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

import keras2_files as k2
import keras2_recurrent_files as r
from tolerances import RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, assert_close

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5


def close(actual, expected, what):
    assert_close(actual, expected, RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, what)


def _cudnn_classes(tf_keras):
    from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU
    from tf_keras.src.layers.rnn.cudnn_lstm import CuDNNLSTM

    return CuDNNLSTM, CuDNNGRU


def _sequential(module, lstm, gru):
    """Input -> LSTM(sequences) -> GRU(backwards, sequences) -> Bidirectional(LSTM) -> Dense,
    with ``lstm``/``gru`` the layer constructors (cuDNN or plain)."""
    L = module.layers
    return module.Sequential(
        [
            L.Input((STEPS, FEATURES)),
            lstm(UNITS, return_sequences=True),
            gru(3, go_backwards=True, return_sequences=True),
            L.Bidirectional(lstm(2), merge_mode="sum"),
            L.Dense(2),
        ]
    )


def _functional(module, lstm, gru):
    """A stateful model with fixed batch: GRU(sequences, return_state) -> LSTM(return_state) ->
    Dense on the cell state; outputs the GRU state and the Dense."""
    L = module.layers
    inputs = L.Input(batch_shape=(BATCH, STEPS, FEATURES))
    sequence, gru_state = gru(UNITS, return_sequences=True, return_state=True, stateful=True)(
        inputs
    )
    _, _, c = lstm(3, return_state=True, stateful=True)(sequence)
    return module.Model(inputs, [gru_state, L.Dense(2)(c)])


def _plain(module):
    """Constructors of the plain layers that compute what the cuDNN layers compute."""

    def lstm(units, **kwargs):
        return module.layers.LSTM(units, recurrent_activation="sigmoid", **kwargs)

    def gru(units, **kwargs):
        return module.layers.GRU(units, recurrent_activation="sigmoid", reset_after=True, **kwargs)

    return lstm, gru


@pytest.mark.parametrize("architecture", ["sequential", "functional stateful"])
def test_cudnn_files_written_by_tf_keras(tf_keras, tmp_path, architecture):
    build = _sequential if architecture == "sequential" else _functional
    cudnn_lstm, cudnn_gru = _cudnn_classes(tf_keras)
    source = build(tf_keras, cudnn_lstm, cudnn_gru)
    rng = np.random.default_rng(7)
    source.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("f4") for w in source.weights])
    model_path, weights_path = str(tmp_path / "cudnn.h5"), str(tmp_path / "cudnn_weights.h5")
    source.save(model_path)
    source.save_weights(weights_path)

    reference = build(tf_keras, *_plain(tf_keras))
    reference.load_weights(weights_path)  # tf_keras's own cuDNN -> plain conversion
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("f4")

    clear_session()
    loaded = nk.models.load_model(model_path)
    ours = build(nk, *_plain(nk))
    ours.load_weights(weights_path)
    for model, what in ((loaded, "load_model"), (ours, "load_weights")):
        assert len(model.weights) == len(reference.weights)
        for w, expected in zip(model.weights, reference.weights):
            np.testing.assert_array_equal(w.numpy(), expected.numpy(), err_msg=f"{what} {w.path}")
    calls = 1 if architecture == "sequential" else 2  # stateful: the second call continues
    for call in range(calls):
        expected = _as_list(reference.predict(x, batch_size=BATCH, verbose=0))
        for model, what in ((loaded, "load_model"), (ours, "load_weights")):
            got = _as_list(model.predict(x, batch_size=BATCH, verbose=0))
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                close(a, b, f"{architecture} {what}, call {call}")


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


# --------------------------------------------------------------------------- hand-built files


def _stack(version):
    return [
        r.recurrent(
            "SimpleRNN",
            "simple_rnn_1",
            UNITS,
            version,
            batch_input_shape=[None, STEPS, FEATURES],
            activation="relu",
            return_sequences=True,
        ),
        r.recurrent("GRU", "gru_1", UNITS, version, return_sequences=True, go_backwards=True),
        r.bidirectional(
            "bidirectional_1",
            r.recurrent("LSTM", "lstm_1", 3, version, return_sequences=True),
            "concat",
        ),
        r.time_distributed("time_distributed_1", r.dense("dense_1", 2, "hard_sigmoid")),
    ]


def _embedded(version):
    return [
        r.embedding("embedding_1", 10, FEATURES, STEPS, mask_zero=False),
        r.recurrent("LSTM", "lstm_1", UNITS, version, go_backwards=True),
        r.dense("dense_1", 3, "softmax"),
    ]


CASES = {
    "recurrent stack 2.1.6": (_stack, "2.1.6", FEATURES),
    "recurrent stack 2.2.4": (_stack, "2.2.4", FEATURES),
    "embedding lstm 2.2.4": (_embedded, "2.2.4", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hand_built_keras2_recurrent_files_predict_as_tf_keras(tf_keras, tmp_path, case):
    build, version, input_dim = CASES[case]
    entries = build(version)
    rng, weights, dim = np.random.default_rng(5), {}, input_dim
    for entry in entries:
        weights[entry["config"]["name"]] = r.random_weights(entry, dim, rng)
        inner = entry["config"].get("layer", entry)["config"]
        if entry["class_name"] == "Embedding":
            dim = inner["output_dim"]
        elif "units" in inner:
            dim = inner["units"] * (2 if entry["class_name"] == "Bidirectional" else 1)
    path = str(tmp_path / "old.h5")
    bare = version < "2.2"
    r.write_model(path, k2.sequential_config("sequential_1", entries, bare), weights, version)
    if input_dim is None:
        x = np.random.default_rng(6).integers(0, 10, size=(BATCH, STEPS)).astype("int32")
    else:
        x = 2 * np.random.default_rng(6).normal(size=(BATCH, STEPS, FEATURES)).astype("f4")

    theirs = tf_keras.models.load_model(path, compile=False)
    clear_session()
    ours = nk.models.load_model(path, compile=False)
    close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), case)
