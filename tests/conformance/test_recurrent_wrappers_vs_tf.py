"""``Bidirectional`` and ``TimeDistributed`` vs Keras 3 on TensorFlow: the same layer in both with
Keras's weights copied, compared on outputs and on the gradients of the input, the initial
states and every weight (tf.GradientTape with a random upstream gradient); configs; files
crossing both ways; masks through a tagger; a whole ``fit``."""

from __future__ import annotations

import json
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

# (wrapped layer, its kwargs, Bidirectional kwargs, call kwargs); "backward" in the Bidirectional
# kwargs: kwargs of a custom backward layer (go_backwards=True unless given); "keras_backward":
# the same, for the Keras layer only.
BIDIRECTIONAL_CASES = [
    ("LSTM", {}, {}, {}),
    ("LSTM", {"return_sequences": True}, {"merge_mode": "sum"}, {}),
    ("LSTM", {"return_sequences": True, "return_state": True}, {"merge_mode": "ave"}, {}),
    ("LSTM", {"return_state": True}, {"merge_mode": None}, {"initial_state": "random"}),
    ("LSTM", {"return_sequences": True}, {}, {"mask": MASK}),
    (
        "LSTM",
        {"return_sequences": True},
        {"backward": {"activation": "relu", "return_sequences": True}},
        {},
    ),
    ("GRU", {}, {"merge_mode": "mul"}, {}),
    ("GRU", {"return_sequences": True, "return_state": True}, {"merge_mode": "concat"}, {}),
    ("GRU", {"reset_after": False, "return_sequences": True}, {"merge_mode": None}, {}),
    ("GRU", {"return_state": True}, {"merge_mode": "sum"}, {"mask": MASK}),
    ("GRU", {}, {}, {"initial_state": "random"}),
    ("SimpleRNN", {"return_sequences": True}, {"merge_mode": "ave"}, {}),
    # A layer that goes backwards: our backward copy goes forwards (go_backwards flipped, as
    # Keras 2); Keras 3 refuses to make that copy, so it is given to Keras explicitly.
    (
        "SimpleRNN",
        {"go_backwards": True, "return_sequences": True},
        {
            "merge_mode": "mul",
            "keras_backward": {
                "go_backwards": False,
                "return_sequences": True,
                "name": "backward_simple_rnn",
            },
        },
        {},
    ),
    ("SimpleRNN", {"activation": "relu"}, {"merge_mode": None}, {"mask": MASK}),
]
BIDIRECTIONAL_IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
    + f"-merge={bi.get('merge_mode', 'concat')}"
    + ("-custom_backward" if "backward" in bi else "")
    + "".join(f"-{k}" for k in call)
    for name, kw, bi, call in BIDIRECTIONAL_CASES
]


def _bidirectional(module, name, kwargs, bi_kwargs):
    bi_kwargs = dict(bi_kwargs)
    backward = bi_kwargs.pop("backward", None)
    keras_backward = bi_kwargs.pop("keras_backward", None)
    if module is not nk and keras_backward is not None:
        backward = keras_backward
    if backward is not None:
        backward = getattr(module.layers, name)(UNITS, **{"go_backwards": True, **backward})
        bi_kwargs["backward_layer"] = backward
    return module.layers.Bidirectional(getattr(module.layers, name)(UNITS, **kwargs), **bi_kwargs)


def _states(name, rng):
    n = 4 if name == "LSTM" else 2  # forward's then backward's
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


def _compare_with_keras(tf, k_layer, ours, x, call, rng, what):
    """Outputs and gradients (input, initial states, every trainable weight) of ``ours`` vs
    ``k_layer`` on ``x``, after copying Keras's weights into ``ours``."""
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

    assert len(out) == len(k_out), f"{what}: {len(out)} outputs, Keras {len(k_out)}"
    for i, (got, expected) in enumerate(zip(out, k_out)):
        assert_close(
            np.asarray(got),
            expected.numpy(),
            RECURRENT_FORWARD_ATOL,
            RECURRENT_FORWARD_RTOL,
            f"{what} output {i}",
        )
    labels = ["x"] + [f"state {i}" for i in range(len(states_t))]
    labels += [w.path for w in ours.trainable_weights]
    assert len(grads) == len(k_grads) == len(labels)
    for label, got, expected in zip(labels, grads, k_grads):
        assert got is not None, f"{what}: no gradient for {label}"
        assert_close(
            np.asarray(got),
            expected.numpy(),
            RECURRENT_GRAD_ATOL,
            RECURRENT_GRAD_RTOL,
            f"d {what} / d {label}",
        )


@pytest.mark.parametrize("name,kwargs,bi_kwargs,call", BIDIRECTIONAL_CASES, ids=BIDIRECTIONAL_IDS)
def test_bidirectional_matches_keras(tf, keras, name, kwargs, bi_kwargs, call):
    rng = np.random.default_rng(len(name) + 3 * len(kwargs) + 7 * len(bi_kwargs))
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    call = dict(call)
    if call.get("initial_state") == "random":
        call["initial_state"] = _states(name, rng)
    k_layer = _bidirectional(keras, name, kwargs, bi_kwargs)
    ours = _bidirectional(nk, name, kwargs, bi_kwargs)
    _compare_with_keras(tf, k_layer, ours, x, call, rng, f"Bidirectional({name})")
    shape = ours.compute_output_shape((BATCH, STEPS, FEATURES))
    k_shape = k_layer.compute_output_shape((BATCH, STEPS, FEATURES))
    assert json.loads(json.dumps(shape)) == json.loads(json.dumps(k_shape))


@pytest.mark.parametrize(
    "inner,shape",
    [
        ("Dense", (BATCH, STEPS, FEATURES)),
        ("Dense-relu-3d", (BATCH, STEPS, 2, FEATURES)),
        ("Conv2D", (BATCH, 3, 5, 5, 2)),
    ],
)
def test_time_distributed_matches_keras(tf, keras, inner, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape).astype(np.float32)

    def make(module):
        if inner == "Conv2D":
            layer = module.layers.Conv2D(3, 3, activation="tanh")
        elif inner == "Dense":
            layer = module.layers.Dense(UNITS)
        else:
            layer = module.layers.Dense(UNITS, activation="relu")
        return module.layers.TimeDistributed(layer)

    k_layer, ours = make(keras), make(nk)
    _compare_with_keras(tf, k_layer, ours, x, {}, rng, f"TimeDistributed({inner})")
    assert ours.compute_output_shape((None, *shape[1:])) == tuple(
        k_layer.compute_output_shape((None, *shape[1:]))
    )


def test_stateful_bidirectional_matches_keras(keras):
    rng = np.random.default_rng(5)
    x1, x2 = (rng.normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32) for _ in range(2))

    def make(module):
        return module.layers.Bidirectional(
            module.layers.GRU(UNITS, stateful=True, return_sequences=True)
        )

    k_layer, ours = make(keras), make(nk)
    k_layer(x1)
    ours(x1)
    ours.set_weights(k_layer.get_weights())
    k_layer.reset_states()
    ours.reset_states()
    for step, x in enumerate((x1, x2, x1)):
        assert_close(
            np.asarray(ours(x)),
            k_layer(x).numpy(),
            RECURRENT_FORWARD_ATOL,
            RECURRENT_FORWARD_RTOL,
            f"stateful batch {step}",
        )
    assert len(ours.states) == len(k_layer.states) == 2
    ours.reset_states()
    assert all(not np.asarray(s.numpy()).any() for s in ours.states)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Invalid merge mode"):
        nk.layers.Bidirectional(nk.layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="Layer` instance"):
        nk.layers.Bidirectional("lstm")
    with pytest.raises(ValueError, match="different `go_backwards`"):
        nk.layers.Bidirectional(nk.layers.LSTM(2), backward_layer=nk.layers.LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        nk.layers.Bidirectional(
            nk.layers.LSTM(2, return_sequences=True),
            backward_layer=nk.layers.LSTM(2, go_backwards=True),
        )
    with pytest.raises(ValueError, match="even number of initial states"):
        x = np.zeros((2, 3, 4), np.float32)
        nk.layers.Bidirectional(nk.layers.GRU(2))(x, initial_state=[np.zeros((2, 2))] * 3)
    with pytest.raises(ValueError, match="Layer` instance"):
        nk.layers.TimeDistributed(3)
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        nk.layers.TimeDistributed(nk.layers.Dense(2))(np.zeros((2, 3), np.float32))


# --------------------------------------------------------------------------- configs


def _normalized(config, build_configs=True):
    """A config as JSON, layer names without their auto-numbering (and, with
    ``build_configs=False``, without the wrapped layers' ``build_config``)."""
    text = json.dumps(config, sort_keys=False)
    text = re.sub(r'"name": "([a-z0-9_]+?)(_\d+)?"', r'"name": "\1"', text)
    config = json.loads(text)
    if not build_configs:
        for key in ("layer", "backward_layer"):
            if isinstance(config.get(key), dict):
                config[key].pop("build_config", None)
    return config


@pytest.mark.parametrize(
    "kind",
    ["lstm-concat", "gru-none-custom-backward", "simple-rnn-stateful", "td-dense", "td-conv"],
)
def test_configs_match_keras(keras, kind):
    def make(module):
        layers = module.layers
        if kind == "lstm-concat":
            return layers.Bidirectional(layers.LSTM(3, dropout=0.25, return_sequences=True))
        if kind == "gru-none-custom-backward":
            return layers.Bidirectional(
                layers.GRU(3, reset_after=False, return_state=True),
                merge_mode=None,
                backward_layer=layers.GRU(3, go_backwards=True, return_state=True),
            )
        if kind == "simple-rnn-stateful":
            return layers.Bidirectional(layers.SimpleRNN(2, stateful=True), merge_mode="ave")
        if kind == "td-dense":
            return layers.TimeDistributed(layers.Dense(4, activation="relu"))
        return layers.TimeDistributed(layers.Conv2D(2, 3, padding="same"))

    shape = (2, 3, 5, 5, 2) if kind == "td-conv" else (2, STEPS, FEATURES)
    k_layer, ours = make(keras), make(nk)
    for built in (False, True):
        k_config, config = _normalized(k_layer.get_config()), _normalized(ours.get_config())
        assert list(config) == list(k_config)
        assert config == k_config, f"built={built}"
        # Built in a graph (numpykeras records an eager build's batch axis as None).
        k_layer(keras.Input(shape[1:], batch_size=shape[0]))
        ours(nk.Input(shape[1:], batch_size=shape[0]))
    # Keras's config makes our layer, and ours makes Keras's (Keras builds the wrapped layers of
    # a layer made from a config at once; numpykeras when the wrapper is built, under its name).
    from_keras = type(ours).from_config(k_layer.get_config())
    assert _normalized(from_keras.get_config(), False) == _normalized(k_layer.get_config(), False)
    from_ours = type(k_layer).from_config(json.loads(json.dumps(ours.get_config())))
    assert _normalized(from_ours.get_config(), False) == _normalized(ours.get_config(), False)


# --------------------------------------------------------------------------- files


def _wrapped_stack(module):
    layers = module.layers
    return module.Sequential(
        [
            module.Input((STEPS, FEATURES)),
            layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True)),
            layers.TimeDistributed(layers.Dense(4, activation="tanh")),
            layers.Bidirectional(
                layers.SimpleRNN(3, return_sequences=True),
                backward_layer=layers.SimpleRNN(3, go_backwards=True, return_sequences=True),
                merge_mode="sum",
            ),
            layers.Bidirectional(layers.GRU(3, reset_after=False), merge_mode="mul"),
            layers.Dense(2),
        ]
    )


@pytest.mark.parametrize("fmt", ["keras", "weights.h5"])
@pytest.mark.parametrize("writer", ["keras", "numpykeras"])
def test_files_cross_both_ways(keras, tmp_path, fmt, writer):
    import h5py

    x = np.random.default_rng(3).normal(size=(4, STEPS, FEATURES)).astype(np.float32)
    source = _wrapped_stack(keras if writer == "keras" else nk)
    path = str(tmp_path / f"model.{fmt}")
    if fmt == "keras":
        source.save(path)
        loaded = (nk if writer == "keras" else keras).models.load_model(path)
    else:
        source.save_weights(path)
        with h5py.File(path) as f:
            names = []
            f.visit(names.append)
        assert "layers/bidirectional/forward_layer/cell/vars/0" in names
        assert "layers/bidirectional/backward_layer/cell/vars/2" in names
        assert "layers/time_distributed/layer/vars/1" in names
        loaded = _wrapped_stack(nk if writer == "keras" else keras)
        loaded.load_weights(path)
    assert_close(
        np.asarray(loaded.predict(x, verbose=0)),
        np.asarray(source.predict(x, verbose=0)),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        f"{writer} -> .{fmt}",
    )


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_keras2_files_load(tf_keras, tmp_path):
    """A Keras 2 (tf_keras) ``.h5`` model and weights file with both wrappers."""
    x = np.random.default_rng(6).normal(size=(4, STEPS, FEATURES)).astype(np.float32)

    def build(module):
        return module.Sequential(
            [
                module.layers.Input((STEPS, FEATURES)),
                module.layers.Bidirectional(
                    module.layers.GRU(UNITS, return_sequences=True), merge_mode="ave"
                ),
                module.layers.TimeDistributed(module.layers.Dense(2)),
            ]
        )

    model = build(tf_keras)
    expected = model.predict(x, verbose=0)
    model.save(str(tmp_path / "keras2.h5"))
    model.save_weights(str(tmp_path / "keras2_weights.h5"))
    loaded = nk.models.load_model(str(tmp_path / "keras2.h5"))
    ours = build(nk)
    ours.load_weights(str(tmp_path / "keras2_weights.h5"))
    for got, what in (
        (loaded.predict(x, verbose=0), "load_model"),
        (ours.predict(x, verbose=0), "weights"),
    ):
        assert_close(got, expected, RECURRENT_FORWARD_ATOL, RECURRENT_FORWARD_RTOL, what)


# --------------------------------------------------------------------------- models

TOKENS = np.random.default_rng(21).integers(1, 20, size=(16, STEPS))
TOKENS[:5, 4:] = 0  # post-padded
TOKENS[5:9, :2] = 0  # pre-padded


def test_masked_bidirectional_tagger_matches_keras(keras):
    """Embedding(mask_zero) -> Bidirectional(GRU, return_sequences) -> TimeDistributed(Dense):
    the mask reaches both directions and the output, where it weights the loss and metric."""
    y = (TOKENS % 3).astype("int32")

    def build(module):
        return module.Sequential(
            [
                module.Input((STEPS,), dtype="int32"),
                module.layers.Embedding(20, 4, mask_zero=True),
                module.layers.Bidirectional(module.layers.GRU(UNITS, return_sequences=True)),
                module.layers.TimeDistributed(module.layers.Dense(3, activation="softmax")),
            ]
        )

    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    assert_close(
        ours.predict(TOKENS, verbose=0),
        k_model.predict(TOKENS, verbose=0),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        "masked tagger predict",
    )
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(
            optimizer=module.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    assert_close(
        ours.evaluate(TOKENS, y, verbose=0),
        k_model.evaluate(TOKENS, y, verbose=0),
        RECURRENT_FORWARD_ATOL,
        RECURRENT_FORWARD_RTOL,
        "masked tagger evaluate",
    )


def test_bidirectional_gru_tagger_fit_matches_keras(keras):
    """A Bidirectional GRU tagger with TimeDistributed(Dense), trained by ``fit`` (Adam)."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(32, STEPS, FEATURES)).astype(np.float32)
    y = (np.cumsum(x[..., 0], axis=1) > 0).astype("int32") + (x[..., 1] > 1).astype("int32")

    def build(module):
        inputs = module.Input((STEPS, FEATURES))
        h = module.layers.Bidirectional(module.layers.GRU(6, return_sequences=True))(inputs)
        h = module.layers.TimeDistributed(module.layers.Dense(3, activation="softmax"))(h)
        return module.Model(inputs, h)

    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(
            optimizer=module.optimizers.Adam(0.01),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    args = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, **args).history
    history = ours.fit(x, y, **args).history
    assert sorted(history) == sorted(k_history)
    for key in k_history:
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    for w, k_w in zip(ours.weights, k_model.weights):
        assert _unnumbered(w.path) == _unnumbered(k_w.path)
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)
