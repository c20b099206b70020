"""ConvLSTM1D/2D/3D vs Keras 3 on TensorFlow: the same layer in both with Keras's weights copied,
compared on outputs and on the gradients of the inputs and of every weight (tf.GradientTape with
a random upstream gradient); dropout with the same masks in both; configs; stateful layers;
a next-frame model trained by ``fit``; files written by Keras loaded here and the other way."""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as nk

from tolerances import (
    CONV_RECURRENT_FORWARD_ATOL,
    CONV_RECURRENT_FORWARD_RTOL,
    CONV_RECURRENT_GRAD_ATOL,
    CONV_RECURRENT_GRAD_RTOL,
    TRAINING_ATOL,
    TRAINING_RTOL,
    assert_close,
)

BATCH, STEPS, FILTERS = 2, 5, 4
# Per-timestep input shapes (channels last), small enough that every case runs in well under a
# second in both frameworks.
STEP_SHAPES = {1: (9, 3), 2: (7, 6, 3), 3: (5, 4, 6, 2)}
MASK = np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0]], dtype=bool)

# (rank, constructor kwargs, call kwargs)
CASES = [
    (1, {}, {}),
    (1, {"strides": 2, "padding": "same", "return_sequences": True, "go_backwards": True}, {}),
    (1, {"dilation_rate": 2, "return_state": True}, {}),
    (2, {}, {}),
    (2, {"padding": "same", "return_sequences": True, "return_state": True}, {}),
    (2, {"strides": (2, 1), "go_backwards": True, "return_sequences": True}, {}),
    (2, {"kernel_size": (3, 2), "dilation_rate": (1, 2), "padding": "same"}, {}),
    (2, {"data_format": "channels_first", "padding": "same", "return_state": True}, {}),
    (2, {"data_format": "channels_first", "strides": 2, "return_sequences": True}, {}),
    (2, {"use_bias": False, "unit_forget_bias": False}, {}),
    (2, {"activation": "relu", "recurrent_activation": "hard_sigmoid"}, {}),
    (2, {"padding": "same", "return_sequences": True}, {"mask": MASK}),
    (2, {"return_state": True, "go_backwards": True}, {"mask": MASK}),
    (2, {"return_sequences": True, "zero_output_for_mask": True}, {"mask": MASK}),
    (2, {"padding": "same", "return_state": True}, {"initial_state": "random"}),
    (3, {}, {}),
    (3, {"padding": "same", "strides": 2, "return_sequences": True}, {}),
    (3, {"dilation_rate": (1, 1, 2), "return_state": True, "go_backwards": True}, {}),
]
IDS = [
    f"{rank}D-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
    + "".join(f"-{k}" for k in call)
    for rank, kw, call in CASES
]


def _make(module, rank, kwargs, data_format=None):
    kwargs = dict(kwargs)
    kernel_size = kwargs.pop("kernel_size", 3)
    if data_format is not None:
        kwargs["data_format"] = data_format
    return getattr(module.layers, f"ConvLSTM{rank}D")(FILTERS, kernel_size, **kwargs)


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _channels_first(x, time_axis):
    """Channels from the last axis to just after the batch (and time) axes."""
    return np.moveaxis(np.asarray(x), -1, 2 if time_axis else 1)


def _keras_reference(tf, k_layer, x, call, first, sequence_output):
    """Keras's outputs and the gradients of the input, states and weights under a random
    upstream gradient. TensorFlow's CPU convolutions are channels-last only, so a
    channels-first case runs Keras's channels-last layer between transposes (the weights are
    the same in both layouts)."""
    xt = tf.Variable(x)
    states_t = [tf.Variable(s) for s in call.get("initial_state", [])]
    with tf.GradientTape() as tape:
        inputs = tf.experimental.numpy.moveaxis(xt, 2, -1) if first else xt
        k_call = {**call, "initial_state": states_t} if states_t else call
        out = _as_list(k_layer(inputs, **k_call))
        if first:
            out = [
                tf.experimental.numpy.moveaxis(o, -1, 2 if i == 0 and sequence_output else 1)
                for i, o in enumerate(out)
            ]
    rng = np.random.default_rng(99)
    dys = [rng.normal(size=tuple(o.shape)).astype(np.float32) for o in out]
    grads = tape.gradient(out, [xt, *states_t, *k_layer.trainable_weights], dys)
    return [o.numpy() for o in out], [g.numpy() for g in grads], dys


@pytest.mark.parametrize("rank,kwargs,call", CASES, ids=IDS)
def test_conv_lstm_matches_keras(tf, keras, rank, kwargs, call):
    rng = np.random.default_rng(rank * 100 + len(kwargs))
    first = kwargs.get("data_format") == "channels_first"
    x = rng.normal(size=(BATCH, STEPS, *STEP_SHAPES[rank])).astype(np.float32)
    k_layer = _make(keras, rank, kwargs, data_format="channels_last" if first else None)
    ours = _make(nk, rank, kwargs)
    call = dict(call)
    if call.get("initial_state") == "random":
        state_shape = k_layer.compute_output_shape(x.shape)[1]
        call["initial_state"] = [rng.normal(size=state_shape).astype(np.float32) for _ in range(2)]
    k_layer(x, **call)
    x_ours = _channels_first(x, time_axis=True) if first else x
    ours(x_ours, **call)
    assert [w.path for w in ours.weights] == [w.path for w in k_layer.weights]
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in k_layer.weights]
    ours.set_weights(k_layer.get_weights())

    expected, k_grads, dys = _keras_reference(
        tf, k_layer, x_ours, call, first, kwargs.get("return_sequences", False)
    )
    xv = nk.Variable(x_ours)
    states_v = [nk.Variable(s) for s in call.get("initial_state", [])]
    our_call = {**call, "initial_state": states_v} if states_v else call
    with nk.GradientTape() as tape:
        out = _as_list(ours(xv, **our_call))
    grads = tape.gradient(out, [xv, *states_v, *ours.trainable_weights], dys)

    assert len(out) == len(expected)
    for i, (got, want) in enumerate(zip(out, expected)):
        assert_close(
            np.asarray(got),
            want,
            CONV_RECURRENT_FORWARD_ATOL,
            CONV_RECURRENT_FORWARD_RTOL,
            f"output {i}",
        )
    labels = ["x"] + [f"state {i}" for i in range(len(states_v))]
    labels += [w.path for w in ours.trainable_weights]
    for label, got, want in zip(labels, grads, k_grads):
        assert got is not None, f"no gradient for {label}"
        assert_close(
            np.asarray(got),
            want,
            CONV_RECURRENT_GRAD_ATOL,
            CONV_RECURRENT_GRAD_RTOL,
            f"d/d {label}",
        )


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_dropout_with_the_same_masks_matches_keras(tf, keras, rank):
    """Training with dropout and recurrent dropout: each gate has its own input and state masks.
    Both layers are handed the same masks (the draws themselves are each framework's own)."""
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(BATCH, STEPS, *STEP_SHAPES[rank])).astype(np.float32)
    kwargs = {"return_sequences": True, "dropout": 0.3, "recurrent_dropout": 0.4}
    k_layer, ours = _make(keras, rank, kwargs), _make(nk, rank, kwargs)
    k_layer(x)
    ours(x)
    ours.set_weights(k_layer.get_weights())
    state_shape = (BATCH, *k_layer.compute_output_shape(x.shape)[2:])

    def masks(shape, rate):
        return [((rng.random(shape) >= rate) / (1 - rate)).astype(np.float32) for _ in range(4)]

    input_masks, state_masks = masks(x[:, 0].shape, 0.3), masks(state_shape, 0.4)
    for layer in (k_layer, ours):
        layer.cell.get_dropout_mask = lambda step_input: input_masks
        layer.cell.get_recurrent_dropout_mask = lambda state: state_masks
    xt = tf.Variable(x)
    with tf.GradientTape() as tape:
        k_out = k_layer(xt, training=True)
    dy = rng.normal(size=tuple(k_out.shape)).astype(np.float32)
    k_grads = tape.gradient(k_out, [xt, *k_layer.trainable_weights], dy)
    xv = nk.Variable(x)
    with nk.GradientTape() as tape:
        out = ours(xv, training=True)
    grads = tape.gradient(out, [xv, *ours.trainable_weights], dy)
    assert_close(
        np.asarray(out),
        k_out.numpy(),
        CONV_RECURRENT_FORWARD_ATOL,
        CONV_RECURRENT_FORWARD_RTOL,
        "dropout output",
    )
    assert np.abs(np.asarray(out) - ours(x)).max() > 0.01  # the masks did apply
    for got, want, label in zip(grads, k_grads, ["x", "kernel", "recurrent_kernel", "bias"]):
        assert_close(
            np.asarray(got), want.numpy(), CONV_RECURRENT_GRAD_ATOL, CONV_RECURRENT_GRAD_RTOL, label
        )
    # Inference draws nothing: the output is the deterministic one.
    del ours.cell.get_dropout_mask, ours.cell.get_recurrent_dropout_mask
    np.testing.assert_array_equal(ours(x), ours(x, training=False))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_configs_match_keras(keras, rank):
    kwargs = {
        "strides": 2,
        "padding": "same",
        "dropout": 0.25,
        "go_backwards": True,
        "return_sequences": True,
        "kernel_regularizer": "l2",
        "seed": 3,
    }
    k_layer, ours = _make(keras, rank, kwargs), _make(nk, rank, kwargs)
    k_config, config = k_layer.get_config(), ours.get_config()
    k_config.pop("name"), config.pop("name")
    assert list(config) == list(k_config)
    assert config == k_config
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    assert (ours.filters, ours.kernel_size, ours.strides) == (
        k_layer.filters,
        k_layer.kernel_size,
        k_layer.strides,
    )


def test_stateful_layer_matches_keras(keras):
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=(BATCH, 3, 6, 5, 2)).astype(np.float32) for _ in range(2)]
    kwargs = {"padding": "same", "stateful": True}
    k_layer, ours = _make(keras, 2, kwargs), _make(nk, 2, kwargs)
    k_layer(xs[0])
    ours(xs[0])
    ours.set_weights(k_layer.get_weights())
    k_layer.reset_states()
    ours.reset_states()
    for i, x in enumerate(xs + xs[:1]):
        if i == 2:
            k_layer.reset_states()
            ours.reset_states()
        assert_close(
            np.asarray(ours(x)),
            k_layer(x).numpy(),
            CONV_RECURRENT_FORWARD_ATOL,
            CONV_RECURRENT_FORWARD_RTOL,
            f"stateful call {i}",
        )


# --------------------------------------------------------------------------- a whole model


def _moving_squares(n, steps=7, size=8, seed=0):
    """``n`` sequences of ``steps`` frames ``size x size x 1``: a 2x2 square moving by one
    pixel a frame in a random direction, bouncing off the borders."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, steps, size, size, 1), dtype=np.float32)
    for i in range(n):
        pos = rng.integers(0, size - 1, size=2)
        vel = rng.choice([-1, 1], size=2)
        for t in range(steps):
            frames[i, t, pos[0] : pos[0] + 2, pos[1] : pos[1] + 2, 0] = 1.0
            for a in range(2):
                if not 0 <= pos[a] + vel[a] <= size - 2:
                    vel[a] = -vel[a]
                pos[a] += vel[a]
    return frames[:, :-1], frames[:, 1:]  # 6 input frames, the 6 frames that follow each


def _next_frame_model(module):
    """Keras's next-frame tutorial in small, with its usual Conv3D frame decoder (over time and
    space)."""
    return module.Sequential(
        [
            module.Input((6, 8, 8, 1)),
            module.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True),
            module.layers.Conv3D(1, 3, padding="same", activation="sigmoid"),
        ]
    )


def test_next_frame_model_fit_matches_keras(keras):
    x, y = _moving_squares(16)
    k_model, ours = _next_frame_model(keras), _next_frame_model(nk)
    ours.set_weights(k_model.get_weights())
    for model, module in ((k_model, keras), (ours, nk)):
        model.compile(optimizer=module.optimizers.Adam(0.01), loss="binary_crossentropy")
    args = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    k_history = k_model.fit(x, y, **args).history
    history = ours.fit(x, y, **args).history
    assert_close(history["loss"], k_history["loss"], TRAINING_ATOL, TRAINING_RTOL, "loss")
    assert history["loss"][-1] < history["loss"][0]
    for w, k_w in zip(ours.weights, k_model.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)


# --------------------------------------------------------------------------- files


def _file_model(module, rank):
    step = STEP_SHAPES[rank]
    layer = getattr(module.layers, f"ConvLSTM{rank}D")
    return module.Sequential(
        [
            module.Input((STEPS, *step)),
            layer(3, 2, padding="same", return_sequences=True),
            layer(2, 3, strides=2, go_backwards=True),
            module.layers.Flatten(),
            module.layers.Dense(2),
        ]
    )


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_files_written_by_keras_load_and_predict_the_same(keras, tmp_path, rank):
    x = np.random.default_rng(rank).normal(size=(3, STEPS, *STEP_SHAPES[rank]))
    x = x.astype(np.float32)
    source = _file_model(keras, rank)
    expected = source.predict(x, verbose=0)
    source.save(str(tmp_path / "model.keras"))
    source.save_weights(str(tmp_path / "model.weights.h5"))
    loaded = nk.models.load_model(str(tmp_path / "model.keras"))
    assert [type(layer).__name__ for layer in loaded.layers][:2] == [f"ConvLSTM{rank}D"] * 2
    ours = _file_model(nk, rank)
    ours.load_weights(str(tmp_path / "model.weights.h5"))
    for model, what in ((loaded, ".keras"), (ours, ".weights.h5")):
        assert_close(
            model.predict(x, verbose=0),
            expected,
            CONV_RECURRENT_FORWARD_ATOL,
            CONV_RECURRENT_FORWARD_RTOL,
            what,
        )


def test_files_written_here_load_in_keras(keras, tmp_path):
    x = np.random.default_rng(8).normal(size=(3, STEPS, *STEP_SHAPES[2])).astype(np.float32)
    source = _file_model(nk, 2)
    expected = source.predict(x, verbose=0)
    source.save(str(tmp_path / "model.keras"))
    source.save_weights(str(tmp_path / "model.weights.h5"))
    loaded = keras.models.load_model(str(tmp_path / "model.keras"))
    theirs = _file_model(keras, 2)
    theirs.load_weights(str(tmp_path / "model.weights.h5"))
    for model, what in ((loaded, ".keras"), (theirs, ".weights.h5")):
        assert_close(
            model.predict(x, verbose=0),
            expected,
            CONV_RECURRENT_FORWARD_ATOL,
            CONV_RECURRENT_FORWARD_RTOL,
            what,
        )


def test_keras2_file_predicts_what_keras2_predicted(tf_keras, tmp_path):
    """A full-model .h5 written by tf_keras (Keras 2's config, with `time_major: false`)."""
    x = np.random.default_rng(9).normal(size=(3, STEPS, *STEP_SHAPES[2])).astype(np.float32)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Input((STEPS, *STEP_SHAPES[2])),
            tf_keras.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True),
            tf_keras.layers.ConvLSTM2D(2, 2, strides=2),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(2),
        ]
    )
    path = str(tmp_path / "keras2.h5")
    model.save(path)
    assert_close(
        nk.models.load_model(path).predict(x, verbose=0),
        model.predict(x, verbose=0),
        CONV_RECURRENT_FORWARD_ATOL,
        CONV_RECURRENT_FORWARD_RTOL,
        "Keras 2 .h5",
    )
