"""Recurrent layers in ``.h5`` files as Keras 2.0-2.2 wrote them (configs and weights built by
hand in ``tests/keras2_recurrent_files.py``), CuDNNLSTM/CuDNNGRU included: loaded by numpykeras,
they predict what Keras 2 computed, checked against a float64 NumPy reference of Keras 2's (and
cuDNN's) equations written from their sources. Keras 3.15 loads none of these Sequential files (a
bare-list config fails, a 2.2 one is built for inputs of the wrong rank, CuDNN classes are
unknown); tf_keras reads those without a reset_after-less GRU and is compared in
``tests/conformance/test_keras2_recurrent_files.py``.
"""

import warnings

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

import keras2_files as k2
import keras2_recurrent_files as r
from tolerances import RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, assert_close

# At most RECURRENT_STEPS timesteps and RECURRENT_REDUCTION = features + units terms per product,
# so RECURRENT_FORWARD_* bound float32 vs the float64 reference (one float32 evaluation only).
BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
ERAS = ["2.0.8", "2.1.2", "2.1.6", "2.2.4"]
X = np.random.default_rng(2).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


def close(actual, expected, what):
    assert_close(actual, expected, RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, what)


def dense_ref(x, weights):
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    return x @ kernel + bias


def step_ref(entry, weights):
    """The NumPy step function of a Keras 2 recurrent entry with its saved ``weights``."""
    class_name, config = entry["class_name"], entry["config"]
    if class_name == "CuDNNLSTM":
        return r.cudnn_lstm_step(*weights)
    if class_name == "CuDNNGRU":
        return r.cudnn_gru_step(*weights)
    bias = weights[2] if len(weights) == 3 else None
    activation = config["activation"]
    if class_name == "SimpleRNN":
        return r.simple_rnn_step(weights[0], weights[1], bias, activation)
    recurrent_activation = config["recurrent_activation"]
    if class_name == "LSTM":
        return r.lstm_step(weights[0], weights[1], bias, activation, recurrent_activation)
    reset_after = config.get("reset_after", False)
    return r.gru_step(weights[0], weights[1], bias, reset_after, activation, recurrent_activation)


def recurrent_ref(entry, weights, x, mask=None):
    config = entry["config"]
    return r.layer_output(
        step_ref(entry, weights),
        entry["class_name"],
        x,
        config["units"],
        go_backwards=config.get("go_backwards", False),
        return_sequences=config["return_sequences"],
        mask=mask,
    )


def bidirectional_ref(entry, weights, x, mask=None):
    """Keras 2.0-2.2's ``Bidirectional``: the backward copy runs with ``go_backwards`` flipped and
    its sequence is reversed back; each direction repeats its previous output at masked steps."""
    inner, merge_mode = entry["config"]["layer"], entry["config"]["merge_mode"]
    half = len(weights) // 2
    backward = {**inner, "config": {**inner["config"], "go_backwards": True}}
    y = recurrent_ref(inner, weights[:half], x, mask)
    y_rev = recurrent_ref(backward, weights[half:], x, mask)
    if inner["config"]["return_sequences"]:
        y_rev = y_rev[:, ::-1]
    return {
        "concat": lambda: np.concatenate([y, y_rev], axis=-1),
        "sum": lambda: y + y_rev,
        "ave": lambda: (y + y_rev) / 2,
        "mul": lambda: y * y_rev,
    }[merge_mode]()


def layer_ref(entry, weights, x, mask=None):
    class_name = entry["class_name"]
    if class_name == "Bidirectional":
        return bidirectional_ref(entry, weights, x, mask)
    if class_name in ("Dense", "TimeDistributed"):
        return dense_ref(x, weights)
    return recurrent_ref(entry, weights, x, mask)


def write_sequential(path, entries, version, input_dim=FEATURES, seed=1):
    """A Sequential model file of ``entries`` (the first carries ``batch_input_shape``): a bare
    list before 2.2, ``{name, layers}`` from 2.2. Returns ``{layer name: [arrays]}``."""
    rng = np.random.default_rng(seed)
    weights, dim = {}, input_dim
    for entry in entries:
        weights[entry["config"]["name"]] = r.random_weights(entry, dim, rng)
        dim = output_dim(entry, dim)
    bare = r._version(version) < (2, 2, 0)
    r.write_model(path, k2.sequential_config("sequential_1", entries, bare), weights, version)
    return {name: [a for _, a in pairs] for name, pairs in weights.items()}


def output_dim(entry, dim):
    config = entry["config"]
    if entry["class_name"] == "Bidirectional":
        units = output_dim(config["layer"], dim)
        return 2 * units if config["merge_mode"] == "concat" else units
    if entry["class_name"] == "TimeDistributed":
        return output_dim(config["layer"], dim)
    if entry["class_name"] == "Embedding":
        return config["output_dim"]
    return config.get("units", dim)


def sequential_ref(entries, weights, x, mask=None):
    for entry in entries:
        x = layer_ref(entry, weights[entry["config"]["name"]], x, mask)
    return x


# --------------------------------------------------------------------------- plain layers


def stack(version):
    """SimpleRNN(relu, sequences) -> LSTM(sequences, backwards) -> GRU -> Dense, Keras 2 defaults
    (hard_sigmoid gates; GRU with or without ``reset_after`` as ``version`` wrote it)."""
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
        r.recurrent("LSTM", "lstm_1", 3, version, return_sequences=True, go_backwards=True),
        r.recurrent("GRU", "gru_1", UNITS, version),
        r.dense("dense_1", 2),
    ]


@pytest.mark.parametrize("version", ERAS)
def test_recurrent_stack_predicts_keras2(tmp_path, version):
    entries = stack(version)
    weights = write_sequential(tmp_path / "old.h5", entries, version)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    close(model.predict(X, verbose=0), sequential_ref(entries, weights, X), f"Keras {version}")
    gru = model.get_layer("gru_1")
    assert gru.reset_after is False and gru.cell.bias.shape == (3 * UNITS,)
    lstm = model.get_layer("lstm_1")
    assert nk.activations.serialize(lstm.recurrent_activation) == "keras2_hard_sigmoid"
    assert lstm.go_backwards and lstm.implementation in (1, 2)


@pytest.mark.parametrize("version", ["2.1.6", "2.2.4"])
def test_gru_reset_after_written_by_keras_2_1_5_and_later(tmp_path, version):
    entries = [
        r.recurrent(
            "GRU",
            "gru_1",
            UNITS,
            version,
            batch_input_shape=[None, STEPS, FEATURES],
            reset_after=True,
            recurrent_activation="sigmoid",
            return_sequences=True,
        )
    ]
    weights = write_sequential(tmp_path / "old.h5", entries, version)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    assert model.get_layer("gru_1").cell.bias.shape == (2, 3 * UNITS)
    close(model.predict(X, verbose=0), sequential_ref(entries, weights, X), "reset_after")


@pytest.mark.parametrize(
    "version, merge_mode",
    [("2.0.8", "concat"), ("2.1.2", "sum"), ("2.1.6", "mul"), ("2.2.4", "ave")],
)
def test_bidirectional_and_time_distributed(tmp_path, version, merge_mode):
    inner = r.recurrent("LSTM", "lstm_1", UNITS, version, return_sequences=True)
    entries = [
        r.bidirectional(
            "bidirectional_1", inner, merge_mode, batch_input_shape=[None, STEPS, FEATURES]
        ),
        r.time_distributed("time_distributed_1", r.dense("dense_1", 2)),
    ]
    weights = write_sequential(tmp_path / "old.h5", entries, version)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    close(model.predict(X, verbose=0), sequential_ref(entries, weights, X), merge_mode)
    bidirectional = model.get_layer("bidirectional_1")
    assert bidirectional.backward_layer.go_backwards and bidirectional.merge_mode == merge_mode


# Tokens padded with zeros at the end, at the start and in the middle.
TOKENS = np.array([[3, 5, 2, 7, 0, 0], [0, 0, 4, 4, 9, 1], [6, 0, 8, 1, 0, 2]], dtype="int32")


@pytest.mark.parametrize("version", ["2.0.8", "2.2.4"])
def test_masked_embedding_bidirectional_gru_tagger(tmp_path, version):
    """Embedding(mask_zero) -> Bidirectional(GRU, sequences) -> TimeDistributed(Dense): Keras
    2.0-2.2 repeated each direction's previous output at masked steps (tf.keras and Keras 3
    output zeros there)."""
    inner = r.recurrent("GRU", "gru_1", UNITS, version, return_sequences=True)
    entries = [
        r.embedding("embedding_1", 10, FEATURES, STEPS, mask_zero=True),
        r.bidirectional("bidirectional_1", inner, "concat"),
        r.time_distributed("time_distributed_1", r.dense("dense_1", 3, "softmax")),
    ]
    weights = write_sequential(tmp_path / "old.h5", entries, version, input_dim=None)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    mask = TOKENS != 0
    x = np.asarray(weights["embedding_1"][0], dtype=np.float64)[TOKENS]
    logits = sequential_ref(entries[1:2], weights, x, mask)
    logits = dense_ref(logits, weights["time_distributed_1"])
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    close(model.predict(TOKENS, verbose=0), expected, "masked tagger")


def test_functional_masking_lstm_with_states(tmp_path):
    """A Keras 2.2 functional model (class ``Model``): Masking -> LSTM(return_state) whose final
    states feed a Dense."""
    version = "2.2.4"
    lstm = r.recurrent(
        "LSTM", "lstm_1", UNITS, version, ["masking_1"], return_sequences=True, return_state=True
    )
    # The Dense reads the LSTM's third output (tensor index 2: the cell state c).
    dense = {"name": "dense_1", **r.dense("dense_1", 2), "inbound_nodes": [[["lstm_1", 0, 2, {}]]]}
    layers = [
        k2.input_layer("input_1", [None, STEPS, FEATURES]),
        r.masking("masking_1", 0.0, ["input_1"]),
        lstm,
        dense,
    ]
    config = k2.functional_config("model_1", layers, ["input_1"], ["lstm_1", "dense_1"])
    rng = np.random.default_rng(3)
    weights = {
        "input_1": [],
        "masking_1": [],
        "lstm_1": r.random_weights(lstm, FEATURES, rng),
        "dense_1": r.random_weights(dense, UNITS, rng),
    }
    r.write_model(tmp_path / "old.h5", config, weights, version)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    x = X.copy()
    x[0, 4:] = 0.0
    x[2, :2] = 0.0
    mask = (x != 0).any(axis=-1)
    arrays = [a for _, a in weights["lstm_1"]]
    states = r.zeros_states("LSTM", BATCH, UNITS)
    _, sequence, (h, c) = r.run(r.lstm_step(*arrays), x.astype(np.float64), states, mask=mask)
    sequence_out, dense_out = model.predict(x, verbose=0)
    close(sequence_out, sequence, "sequence")
    close(dense_out, dense_ref(c, [a for _, a in weights["dense_1"]]), "Dense(c)")


def test_stateful_lstm_carries_states_across_batches(tmp_path):
    version = "2.1.6"
    entries = [
        r.recurrent(
            "LSTM", "lstm_1", UNITS, version, batch_input_shape=[BATCH, 3, FEATURES], stateful=True
        )
    ]
    weights = write_sequential(tmp_path / "old.h5", entries, version)
    model = nk.models.load_model(tmp_path / "old.h5", compile=False)
    first = model.predict(X[:, :3], batch_size=BATCH, verbose=0)
    second = model.predict(X[:, 3:], batch_size=BATCH, verbose=0)
    close(first, recurrent_ref(entries[0], weights["lstm_1"], X[:, :3]), "first batch")
    close(second, recurrent_ref(entries[0], weights["lstm_1"], X), "second batch continues")


# --------------------------------------------------------------------------- CuDNN layers


def cudnn_stack(version):
    return [
        r.cudnn(
            "CuDNNLSTM",
            "cu_dnnlstm_1",
            UNITS,
            version,
            batch_input_shape=[None, STEPS, FEATURES],
            return_sequences=True,
        ),
        r.cudnn("CuDNNGRU", "cu_dnngru_1", 3, version, go_backwards=True, return_sequences=True),
        r.bidirectional(
            "bidirectional_1", r.cudnn("CuDNNLSTM", "cu_dnnlstm_2", 2, version), "concat"
        ),
        r.dense("dense_1", 2),
    ]


@pytest.mark.parametrize("version", ["2.1.6", "2.2.4"])
def test_cudnn_layers_load_as_lstm_and_gru(tmp_path, version):
    entries = cudnn_stack(version)
    weights = write_sequential(tmp_path / "cudnn.h5", entries, version)
    model = nk.models.load_model(tmp_path / "cudnn.h5", compile=False)
    close(model.predict(X, verbose=0), sequential_ref(entries, weights, X), "CuDNN stack")
    lstm, gru = model.get_layer("cu_dnnlstm_1"), model.get_layer("cu_dnngru_1")
    assert type(lstm) is nk.layers.LSTM and type(gru) is nk.layers.GRU
    for layer in (lstm, gru):
        assert nk.activations.serialize(layer.activation) == "tanh"
        assert nk.activations.serialize(layer.recurrent_activation) == "sigmoid"
    assert gru.reset_after and gru.go_backwards and lstm.unit_forget_bias
    assert lstm.cell.bias.shape == (4 * UNITS,) and gru.cell.bias.shape == (2, 9)
    inner = model.get_layer("bidirectional_1").forward_layer
    assert type(inner) is nk.layers.LSTM


def test_cudnn_weights_load_into_plain_layers_built_in_code(tmp_path):
    """``load_weights`` of a weights file saved by CuDNN layers into a model of plain ``LSTM`` /
    ``GRU(reset_after=True)`` layers (positionally and by name), as Keras 2 converted them."""
    version = "2.2.4"
    entries = cudnn_stack(version)
    rng, pairs, dim = np.random.default_rng(4), {}, FEATURES
    for entry in entries:
        pairs[entry["config"]["name"]] = r.random_weights(entry, dim, rng)
        dim = output_dim(entry, dim)
    r.write_weights_file(tmp_path / "w.h5", pairs, version)
    weights = {name: [a for _, a in p] for name, p in pairs.items()}
    expected = sequential_ref(entries, weights, X)

    def build(names=(None, None, "bidirectional_1", None)):
        L = nk.layers
        return nk.Sequential(
            [
                nk.Input((STEPS, FEATURES)),
                L.LSTM(UNITS, recurrent_activation="sigmoid", return_sequences=True, name=names[0]),
                L.GRU(
                    3,
                    recurrent_activation="sigmoid",
                    go_backwards=True,
                    return_sequences=True,
                    name=names[1],
                ),
                L.Bidirectional(L.LSTM(2, recurrent_activation="sigmoid"), name=names[2]),
                L.Dense(2, name=names[3]),
            ]
        )

    model = build()
    model.load_weights(tmp_path / "w.h5")
    close(model.predict(X, verbose=0), expected, "load_weights")

    model = build(list(pairs))  # the file's names, for loading by name
    model.load_weights(tmp_path / "w.h5", by_name=True)
    close(model.predict(X, verbose=0), expected, "load_weights(by_name=True)")


def test_cudnn_weights_inside_a_nested_model(tmp_path):
    """A nested model's weights are saved as one layer (its trainable weights, then the rest):
    the cuDNN share among them is converted as Keras 2 converted it."""
    rng = np.random.default_rng(0)
    lstm = r.cudnn("CuDNNLSTM", "cu_dnnlstm_1", UNITS, "2.2.4")
    pairs = r.random_weights(lstm, FEATURES, rng) + r.random_weights(r.dense("d", 2), UNITS, rng)
    r.write_weights_file(tmp_path / "w.h5", {"inner": pairs}, "2.2.4")
    inner = nk.Sequential(
        [
            nk.Input((STEPS, FEATURES)),
            nk.layers.LSTM(UNITS, recurrent_activation="sigmoid"),
            nk.layers.Dense(2),
        ],
        name="inner",
    )
    model = nk.Sequential([nk.Input((STEPS, FEATURES)), inner])
    model.load_weights(tmp_path / "w.h5")
    arrays = [a for _, a in pairs]
    h = r.layer_output(r.cudnn_lstm_step(*arrays[:3]), "CuDNNLSTM", X, UNITS)
    close(model.predict(X, verbose=0), dense_ref(h, arrays[3:]), "nested")


@pytest.mark.parametrize("version", ["2.0.8", "2.2.4"])
def test_keras2_model_json_and_weights_file(tmp_path, version):
    """Keras 2's other way to ship a model: ``model.to_json()`` (which records
    ``keras_version``) and ``save_weights``; ``model_from_json`` reads it as ``load_model``."""
    import json

    entries = stack(version) if version < "2.1" else cudnn_stack(version)
    rng, pairs, dim = np.random.default_rng(8), {}, FEATURES
    for entry in entries:
        pairs[entry["config"]["name"]] = r.random_weights(entry, dim, rng)
        dim = output_dim(entry, dim)
    r.write_weights_file(tmp_path / "w.h5", pairs, version)
    bare = version < "2.2"
    config = k2.sequential_config("sequential_1", entries, bare)
    text = json.dumps({**config, "keras_version": version, "backend": "tensorflow"})
    model = nk.models.model_from_json(text)
    model.load_weights(tmp_path / "w.h5")
    weights = {name: [a for _, a in p] for name, p in pairs.items()}
    close(model.predict(X, verbose=0), sequential_ref(entries, weights, X), "json + weights")


def test_cudnn_gru_weights_refuse_a_gru_without_reset_after(tmp_path):
    version = "2.2.4"
    entry = r.cudnn("CuDNNGRU", "cu_dnngru_1", UNITS, version)
    r.write_weights_file(
        tmp_path / "w.h5",
        {"cu_dnngru_1": r.random_weights(entry, FEATURES, np.random.default_rng(0))},
        version,
    )
    model = nk.Sequential([nk.Input((STEPS, FEATURES)), nk.layers.GRU(UNITS, reset_after=False)])
    before = [w.numpy() for w in model.weights]
    with pytest.raises(ValueError, match=r"layer #0 \(named gru\).*reset_after=False.*CuDNNGRU"):
        model.load_weights(tmp_path / "w.h5")
    with pytest.warns(UserWarning, match="Skipping loading weights for layer #0"):
        model.load_weights(tmp_path / "w.h5", skip_mismatch=True)
    for w, value in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), value)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "class_name, saved_weight",
    [("LSTM", "kernel"), ("GRU", "kernel"), ("SimpleRNN", "kernel"), ("CuDNNLSTM", "kernel")],
)
def test_wrong_units_raise_naming_layer_weight_and_shapes_and_change_nothing(
    tmp_path, class_name, saved_weight
):
    """A file saved with 4 units loaded into a layer of 5: Keras 3's error text, the stored
    shapes (a CuDNN file's too), and no weight of the model assigned."""
    version = "2.2.4"
    dense = r.dense("dense_1", 2)
    if class_name.startswith("CuDNN"):
        entry = r.cudnn(class_name, "rnn_1", 4, version)
    else:
        entry = r.recurrent(class_name, "rnn_1", 4, version)
    rng = np.random.default_rng(0)
    pairs = {"rnn_1": r.random_weights(entry, FEATURES, rng)}
    pairs["dense_1"] = r.random_weights(dense, 4, rng)
    r.write_weights_file(tmp_path / "w.h5", pairs, version)
    plain = class_name.replace("CuDNN", "")
    model = nk.Sequential(
        [nk.Input((STEPS, FEATURES)), getattr(nk.layers, plain)(UNITS), nk.layers.Dense(2)]
    )
    before = [w.numpy() for w in model.weights]
    stored = dict(pairs["rnn_1"])[f"rnn_1/{saved_weight}:0"].shape
    expected = tuple(model.layers[0].weights[0].shape)
    layer_name = model.layers[0].name
    with pytest.raises(ValueError) as info:
        model.load_weights(tmp_path / "w.h5")
    text = str(info.value)
    assert f"layer #0 (named {layer_name})" in text
    assert f"for weight {model.layers[0].weights[0].path}." in text
    assert f"Weight expects shape {expected}" in text
    assert f"Received saved weight with shape {stored}" in text
    for w, value in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), value)


def test_wrong_units_in_a_full_model_file_raise(tmp_path):
    """``load_model`` of a file whose saved GRU weights are for other units than its config."""
    version = "2.0.8"
    entry = r.recurrent("GRU", "gru_1", UNITS, version, batch_input_shape=[None, STEPS, FEATURES])
    small = r.recurrent("GRU", "gru_1", 4, version)
    pairs = {"gru_1": r.random_weights(small, FEATURES, np.random.default_rng(0))}
    r.write_model(tmp_path / "old.h5", k2.sequential_config("s", [entry], True), pairs, version)
    with pytest.raises(
        ValueError,
        match=r"named gru_1\)for weight .*gru_1/gru_cell/kernel\. "
        r"Weight expects shape \(4, 15\)\. Received saved weight with shape \(4, 12\)",
    ):
        nk.models.load_model(tmp_path / "old.h5", compile=False)


def test_keras2_file_reloads_after_numpykeras_saves_it(tmp_path):
    """A loaded Keras 2 (CuDNN) model saved again by numpykeras keeps its predictions."""
    entries = cudnn_stack("2.2.4")
    write_sequential(tmp_path / "cudnn.h5", entries, "2.2.4")
    model = nk.models.load_model(tmp_path / "cudnn.h5", compile=False)
    expected = model.predict(X, verbose=0)
    for name in ("again.h5", "again.keras"):
        model.save(tmp_path / name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = nk.models.load_model(tmp_path / name, compile=False)
        np.testing.assert_array_equal(again.predict(X, verbose=0), expected)
