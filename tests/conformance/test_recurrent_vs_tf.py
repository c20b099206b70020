"""Recurrent layers vs Keras 3 on TensorFlow: the same layer in both with Keras's weights copied,
compared on outputs and on the gradients of every input and weight (tf.GradientTape with a
random upstream gradient); files crossing both ways; a whole ``fit``."""

from __future__ import annotations

import re

import numpy as np
import pytest

import numpykeras as nk

from tolerances import (
    RECURRENT_FORWARD_ATOL,
    RECURRENT_FORWARD_RTOL,
    RECURRENT_GRAD_ATOL,
    RECURRENT_GRAD_RTOL,
    TRAINING_ATOL,
    TRAINING_RTOL,
    assert_close,
)

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1]], dtype=bool)

# (layer, constructor kwargs, call kwargs)
CASES = [
    ("SimpleRNN", {}, {}),
    ("SimpleRNN", {"activation": "relu", "return_sequences": True}, {}),
    ("SimpleRNN", {"use_bias": False, "go_backwards": True}, {}),
    ("LSTM", {}, {}),
    ("LSTM", {"return_sequences": True, "return_state": True}, {}),
    ("LSTM", {"go_backwards": True, "return_sequences": True}, {}),
    ("LSTM", {"unit_forget_bias": False, "use_bias": False}, {}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}, {}),
    ("LSTM", {"return_sequences": True}, {"mask": MASK}),
    ("LSTM", {"return_state": True}, {"mask": MASK}),
    ("LSTM", {"return_sequences": True, "zero_output_for_mask": True}, {"mask": MASK}),
    ("LSTM", {}, {"initial_state": "random"}),
    ("GRU", {}, {}),
    ("GRU", {"reset_after": False}, {}),
    ("GRU", {"return_sequences": True, "return_state": True, "go_backwards": True}, {}),
    ("GRU", {"use_bias": False}, {}),
    ("GRU", {"reset_after": False, "return_sequences": True}, {"mask": MASK}),
    ("GRU", {}, {"initial_state": "random"}),
    ("SimpleRNN", {"return_sequences": True}, {"mask": MASK}),
    ("StackedRNNCells", {"return_state": True}, {}),
]
IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
    + ("-mask" if "mask" in call else "")
    + ("-initial_state" if "initial_state" in call else "")
    for name, kw, call in CASES
]


def _make(module, name, kwargs):
    if name == "StackedRNNCells":
        cells = [module.layers.LSTMCell(UNITS), module.layers.GRUCell(3)]
        return module.layers.RNN(cells, **kwargs)
    return getattr(module.layers, name)(UNITS, **kwargs)


def _states(name, rng):
    n = 2 if name == "LSTM" else 1
    return [rng.normal(size=(BATCH, UNITS)).astype(np.float32) for _ in range(n)]


def _unnumbered(path):
    return "/".join(re.sub(r"_\d+$", "", part) for part in path.split("/"))


def _as_list(y):
    if isinstance(y, (list, tuple)):
        out = []
        for item in y:
            out.extend(_as_list(item))
        return out
    return [y]


@pytest.mark.parametrize("name,kwargs,call", CASES, ids=IDS)
def test_recurrent_layer_matches_keras(tf, keras, name, kwargs, call):
    rng = np.random.default_rng(len(name) + len(kwargs))
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    call = dict(call)
    if call.get("initial_state") == "random":
        call["initial_state"] = _states(name, rng)
    k_layer = _make(keras, name, kwargs)
    ours = _make(nk, name, kwargs)
    k_layer(x, **call)
    ours(x, **call)
    # Paths as Keras's, up to the auto-numbering of names (which depends on earlier tests).
    assert [_unnumbered(w.path) for w in ours.weights] == [
        _unnumbered(w.path) for w in k_layer.weights
    ]
    assert all(w.path.startswith(ours.name + "/") for w in ours.weights)
    ours.set_weights(k_layer.get_weights())

    xt = tf.Variable(x)
    states_t = [tf.Variable(s) for s in call.get("initial_state", [])]
    k_call = {**call, "initial_state": states_t} if states_t else call
    with tf.GradientTape() as tape:
        k_out = _as_list(k_layer(xt, **k_call))
    dys = [rng.normal(size=tuple(o.shape)).astype(np.float32) for o in k_out]
    k_grads = tape.gradient(k_out, [xt, *states_t, *k_layer.trainable_weights], dys)

    xv = nk.Variable(x)
    states_v = [nk.Variable(s) for s in call.get("initial_state", [])]
    our_call = {**call, "initial_state": states_v} if states_v else call
    with nk.GradientTape() as tape:
        out = _as_list(ours(xv, **our_call))
    grads = tape.gradient(out, [xv, *states_v, *ours.trainable_weights], dys)

    assert len(out) == len(k_out)
    for i, (got, expected) in enumerate(zip(out, k_out)):
        assert_close(
            np.asarray(got),
            expected.numpy(),
            RECURRENT_FORWARD_ATOL,
            RECURRENT_FORWARD_RTOL,
            f"{name} output {i}",
        )
    labels = ["x"] + [f"state {i}" for i in range(len(states_t))]
    labels += [w.path for w in ours.trainable_weights]
    for label, got, expected in zip(labels, grads, k_grads):
        assert got is not None, f"{name}: no gradient for {label}"
        assert_close(
            np.asarray(got),
            expected.numpy(),
            RECURRENT_GRAD_ATOL,
            RECURRENT_GRAD_RTOL,
            f"d {name} / d {label}",
        )


@pytest.mark.parametrize("cell", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_a_cell_called_directly_matches_keras(keras, cell):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(BATCH, FEATURES)).astype(np.float32)
    states = _states("LSTM" if cell == "LSTMCell" else cell, rng)
    k_cell, ours = getattr(keras.layers, cell)(UNITS), getattr(nk.layers, cell)(UNITS)
    k_out = k_cell(x, states)
    ours(x, states)
    ours.set_weights(k_cell.get_weights())
    out = ours(x, states)
    for got, expected in zip(_as_list(out), _as_list(k_out)):
        assert_close(
            np.asarray(got),
            np.asarray(expected),
            RECURRENT_FORWARD_ATOL,
            RECURRENT_FORWARD_RTOL,
            f"{cell} step",
        )


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU", "RNN"])
def test_configs_match_keras(keras, name):
    if name == "RNN":
        k_layer = keras.layers.RNN(keras.layers.LSTMCell(3), return_sequences=True)
        ours = nk.layers.RNN(nk.layers.LSTMCell(3), return_sequences=True)
    else:
        k_layer = getattr(keras.layers, name)(3, dropout=0.25, go_backwards=True)
        ours = getattr(nk.layers, name)(3, dropout=0.25, go_backwards=True)
    k_config, config = k_layer.get_config(), ours.get_config()
    for c in (k_config, config):
        c.pop("name")
        if "cell" in c:
            c["cell"]["config"].pop("name")
    assert list(config) == list(k_config)
    assert config == k_config


def _stack(module):
    return module.Sequential(
        [
            module.Input((STEPS, FEATURES)),
            module.layers.LSTM(UNITS, return_sequences=True),
            module.layers.GRU(4, reset_after=False, return_sequences=True),
            module.layers.RNN([module.layers.SimpleRNNCell(3), module.layers.GRUCell(2)]),
            module.layers.Dense(2),
        ]
    )


@pytest.mark.parametrize("fmt", ["keras", "weights.h5"])
@pytest.mark.parametrize("writer", ["keras", "numpykeras"])
def test_files_cross_both_ways(keras, tmp_path, fmt, writer):
    x = np.random.default_rng(3).normal(size=(4, STEPS, FEATURES)).astype(np.float32)
    source = _stack(keras if writer == "keras" else nk)
    path = str(tmp_path / f"model.{fmt}")
    if fmt == "keras":
        source.save(path)
        loaded = (nk if writer == "keras" else keras).models.load_model(path)
    else:
        source.save_weights(path)
        loaded = _stack(nk if writer == "keras" else keras)
        loaded.load_weights(path)
    assert_close(
        np.asarray(loaded.predict(x, verbose=0)),
        np.asarray(source.predict(x, verbose=0)),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        f"{writer} -> .{fmt}",
    )


def test_masked_lstm_classifier_fit_matches_keras(keras):
    """An LSTM classifier over padded sequences (an explicit mask), trained by ``fit``."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(48, STEPS, FEATURES)).astype(np.float32)
    y = (x[:, :3].sum(axis=(1, 2)) > 0).astype("int32")

    def build(module):
        inputs = module.Input((STEPS, FEATURES))
        h = module.layers.LSTM(6, return_sequences=True)(inputs)
        h = module.layers.GRU(4)(h)
        return module.Model(inputs, module.layers.Dense(2, activation="softmax")(h))

    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(
            optimizer=module.optimizers.Adam(0.01),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    args = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, **args).history
    history = ours.fit(x, y, **args).history
    assert sorted(history) == sorted(k_history)
    for key in k_history:
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    for w, k_w in zip(ours.weights, k_model.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)


def test_seq2seq_encoder_decoder_fit_matches_keras(keras):
    """A seq2seq model trained by ``fit``: a masked LSTM encoder whose final states are the
    decoder LSTM's ``initial_state`` (teacher forcing; two inputs, a sequence output). SGD:
    Keras applies Adam to an Embedding's sparse gradient slice by slice (see README)."""
    rng = np.random.default_rng(12)
    n, source_len, target_len, vocabulary = 32, 7, 5, 12
    source = rng.integers(1, vocabulary, size=(n, source_len))
    source[: n // 2, 5:] = 0  # padded sources
    target = np.flip(source[:, :target_len], axis=1).copy()  # the rule: first tokens reversed
    decoder_in = np.concatenate([np.ones((n, 1), int), target[:, :-1]], axis=1)

    def build(module):
        layers = module.layers
        encoder_in = module.Input((source_len,), dtype="int32")
        h = layers.Embedding(vocabulary, 6, mask_zero=True)(encoder_in)
        _, state_h, state_c = layers.LSTM(8, return_state=True)(h)
        dec_in = module.Input((target_len,), dtype="int32")
        d = layers.Embedding(vocabulary, 6)(dec_in)
        d = layers.LSTM(8, return_sequences=True)(d, initial_state=[state_h, state_c])
        outputs = layers.Dense(vocabulary, activation="softmax")(d)
        return module.Model([encoder_in, dec_in], outputs)

    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(
            optimizer=module.optimizers.SGD(0.5),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    args = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history = k_model.fit([source, decoder_in], target, **args).history
    history = ours.fit([source, decoder_in], target, **args).history
    assert sorted(history) == sorted(k_history)
    for key in k_history:
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    for w, k_w in zip(ours.weights, k_model.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)


# --------------------------------------------------------------------------- mask propagation

TOKENS = np.random.default_rng(21).integers(1, 20, size=(16, STEPS))
TOKENS[:5, 4:] = 0  # post-padded
TOKENS[5:9, :2] = 0  # pre-padded


def _masked_model(module, kind):
    inputs = module.Input((STEPS,), dtype="int32")
    h = module.layers.Embedding(20, 4, mask_zero=True)(inputs)
    if kind == "lstm-gru":
        h = module.layers.LSTM(5, return_sequences=True)(h)
        h = module.layers.GRU(3)(h)
    elif kind == "dense-average":
        h = module.layers.Dense(4, activation="tanh")(h)
        h = module.layers.GlobalAveragePooling1D()(h)
    elif kind == "merged":
        a = module.layers.Dense(4)(h)
        b = module.layers.Dropout(0.0)(h)
        h = module.layers.Add()([a, b])
        h = module.layers.Concatenate()([h, a])
        h = module.layers.SimpleRNN(3, go_backwards=True)(h)
    return module.Model(inputs, module.layers.Dense(2, activation="softmax")(h))


@pytest.mark.parametrize("kind", ["lstm-gru", "dense-average", "merged"])
def test_embedding_masks_propagate_as_in_keras(keras, kind):
    """Embedding(mask_zero=True): the mask passes through Dense/Dropout/merges and is used by
    the recurrent layers and GlobalAveragePooling1D; predictions and an SGD fit agree."""
    y = (TOKENS.sum(axis=1) % 2).astype("int32")
    k_model, ours = _masked_model(keras, kind), _masked_model(nk, kind)
    ours.set_weights(k_model.get_weights())
    assert_close(
        ours.predict(TOKENS, verbose=0),
        k_model.predict(TOKENS, verbose=0),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        f"{kind} masked predict",
    )
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(optimizer=module.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    args = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(TOKENS, y, **args).history
    history = ours.fit(TOKENS, y, **args).history
    assert_close(history["loss"], k_history["loss"], TRAINING_ATOL, TRAINING_RTOL, "loss")
    for w, k_w in zip(ours.weights, k_model.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)


def test_masking_layer_matches_keras(keras):
    x = np.random.default_rng(4).normal(size=(4, STEPS, 3)).astype(np.float32)
    x[1, 3:] = 0.0
    x[2, :2] = 0.0
    k_model = keras.Sequential(
        [
            keras.Input((STEPS, 3)),
            keras.layers.Masking(),
            keras.layers.LSTM(4, return_sequences=True),
        ]
    )
    ours = nk.Sequential(
        [nk.Input((STEPS, 3)), nk.layers.Masking(), nk.layers.LSTM(4, return_sequences=True)]
    )
    ours.set_weights(k_model.get_weights())
    assert ours.layers[0].get_config()["mask_value"] == k_model.layers[0].get_config()["mask_value"]
    assert_close(
        ours.predict(x, verbose=0),
        k_model.predict(x, verbose=0),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        "Masking -> LSTM",
    )


# --------------------------------------------------------------------------- Keras 2 files


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("LSTM", {}),
        ("GRU", {}),
        ("GRU", {"reset_after": False}),
        ("SimpleRNN", {"return_sequences": True}),
        ("LSTM", {"recurrent_activation": "hard_sigmoid", "return_sequences": True}),
        ("GRU", {"recurrent_activation": "hard_sigmoid", "time_major": True}),
        ("LSTM", {"time_major": True, "return_sequences": True}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={w}" for k, w in v.items()),
)
def test_keras2_recurrent_files_predict_what_keras2_predicted(tf_keras, tmp_path, name, kwargs):
    """Files written by tf_keras (Keras 2): configs with `time_major` and `implementation` (which
    Keras 3 refuses to load), `hard_sigmoid` with Keras 2's formula `clip(0.2 x + 0.5, 0, 1)`."""
    x = 3 * np.random.default_rng(2).normal(size=(STEPS, BATCH, FEATURES)).astype(np.float32)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Input((BATCH, FEATURES), batch_size=STEPS),
            getattr(tf_keras.layers, name)(UNITS, **kwargs),
            tf_keras.layers.Dense(2, activation="hard_sigmoid"),
        ]
    )
    path = str(tmp_path / "keras2.h5")
    model.save(path)
    expected = model.predict(x, batch_size=STEPS, verbose=0)
    loaded = nk.models.load_model(path)
    assert_close(
        loaded.predict(x, batch_size=STEPS, verbose=0),
        expected,
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        f"Keras 2 {name} {kwargs}",
    )
    weights_path = str(tmp_path / "keras2_weights.h5")
    model.save_weights(weights_path)
    ours = nk.Sequential(
        [
            nk.Input((BATCH, FEATURES), batch_size=STEPS),
            getattr(nk.layers, name)(UNITS, **kwargs),
            nk.layers.Dense(2, activation="hard_sigmoid"),
        ]
    )
    ours.load_weights(weights_path)
    assert len(ours.weights) == len(loaded.weights)
    for w, w_loaded in zip(ours.weights, loaded.weights):
        np.testing.assert_array_equal(w.numpy(), w_loaded.numpy())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_masked_sequence_tagger_losses_and_metrics_match_keras(keras, weighted):
    """A tagger (Embedding(mask_zero) -> GRU(return_sequences) -> Dense softmax): the output's
    mask weights the loss (Keras's apply_mask) and the metrics, in fit and evaluate."""
    y = (TOKENS % 3).astype("int32")
    sample_weight = np.random.default_rng(8).random(TOKENS.shape).astype(np.float32)
    sample_weight = sample_weight if weighted else None

    def build(module):
        return module.Sequential(
            [
                module.Input((STEPS,), dtype="int32"),
                module.layers.Embedding(20, 4, mask_zero=True),
                module.layers.GRU(5, return_sequences=True),
                module.layers.Dense(3, activation="softmax"),
            ]
        )

    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(
            optimizer=module.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    args = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(TOKENS, y, sample_weight=sample_weight, **args).history
    history = ours.fit(TOKENS, y, sample_weight=sample_weight, **args).history
    for key in ("loss", "accuracy"):
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    assert_close(
        ours.evaluate(TOKENS, y, sample_weight=sample_weight, verbose=0),
        k_model.evaluate(TOKENS, y, sample_weight=sample_weight, verbose=0),
        TRAINING_ATOL,
        TRAINING_RTOL,
        "evaluate",
    )
