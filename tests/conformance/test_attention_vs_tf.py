"""Attention layers vs Keras 3 on TensorFlow: ``Attention``, ``AdditiveAttention``,
``MultiHeadAttention`` and ``EinsumDense`` (its projections) built in both with the same weights,
compared on outputs and on the gradients of every input and weight (a random upstream gradient);
masks given explicitly and propagated from ``Embedding(mask_zero=True)`` in a functional model;
configs; a ``.keras`` file crossing both ways; a whole ``fit``."""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as nk

from tolerances import (
    ATTENTION_FORWARD_ATOL,
    ATTENTION_FORWARD_RTOL,
    ATTENTION_GRAD_ATOL,
    ATTENTION_GRAD_RTOL,
    TRAINING_ATOL,
    TRAINING_RTOL,
    assert_close,
)

BATCH, TQ, TV, DIM = 3, 4, 6, 5
_rng = np.random.default_rng(5)
Q_MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=bool)
V_MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1]], dtype=bool)
ATTN_MASK = _rng.random((BATCH, TQ, TV)) > 0.3
ATTN_MASK[1, 2] = False  # a query that may attend to nothing

# (layer, constructor kwargs, inputs, call kwargs). Inputs name the arrays: "q" (BATCH, TQ,
# DIM), "v" and "k" (BATCH, TV, DIM), "s" (BATCH, TQ, DIM, a self-attention value), "q4" and
# "v4" (BATCH, 2, TQ, DIM) / (BATCH, 2, TV, DIM). Attention layers get a list.
CASES = [
    ("Attention", {}, ["q", "v"], {}),
    ("Attention", {"use_scale": True}, ["q", "v", "k"], {}),
    ("Attention", {"score_mode": "concat"}, ["q", "v"], {}),
    ("Attention", {"score_mode": "concat", "use_scale": True}, ["q", "v", "k"], {}),
    ("Attention", {}, ["q", "v"], {"mask": [Q_MASK, V_MASK]}),
    ("Attention", {"use_scale": True}, ["q", "s"], {"use_causal_mask": True}),
    ("Attention", {}, ["q", "v"], {"mask": [None, V_MASK], "use_causal_mask": True}),
    ("Attention", {}, ["q", "v"], {"return_attention_scores": True, "mask": [Q_MASK, V_MASK]}),
    ("AdditiveAttention", {}, ["q", "v"], {}),
    ("AdditiveAttention", {"use_scale": False}, ["q", "v", "k"], {"mask": [Q_MASK, V_MASK]}),
    ("AdditiveAttention", {}, ["q", "s"], {"use_causal_mask": True}),
    ("AdditiveAttention", {}, ["q", "v"], {"return_attention_scores": True}),
    (
        "EinsumDense",
        {"equation": "abc,cd->abd", "output_shape": (None, 7), "bias_axes": "d"},
        ["q"],
        {},
    ),
    (
        "EinsumDense",
        {"equation": "...b,bc->...c", "output_shape": 4, "activation": "tanh"},
        ["q"],
        {},
    ),
    (
        "EinsumDense",
        {"equation": "abc,cde->abde", "output_shape": (None, 2, 3), "bias_axes": "de"},
        ["q"],
        {},
    ),
    (
        "EinsumDense",
        {"equation": "ab...,bc->ac...", "output_shape": 6, "bias_axes": "c"},
        ["q"],
        {},
    ),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, ["q", "q"], {}),
    ("MultiHeadAttention", {"num_heads": 3, "key_dim": 2, "value_dim": 4}, ["q", "v", "k"], {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "use_bias": False}, ["q", "v"], {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "output_shape": 7}, ["q", "v"], {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "output_shape": (2, 3)}, ["q", "v"], {}),
    (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3},
        ["q", "v"],
        {"attention_mask": ATTN_MASK},
    ),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, ["q", "s"], {"use_causal_mask": True}),
    (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3},
        ["q", "v", "k"],
        {"value_mask": V_MASK, "key_mask": V_MASK[::-1].copy(), "attention_mask": ATTN_MASK},
    ),
    (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3},
        ["q", "v"],
        {"attention_mask": ATTN_MASK, "return_attention_scores": True},
    ),
    (  # dropout > 0 in inference: Keras's explicit-softmax route (a masked row gets zeros)
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3, "dropout": 0.25},
        ["q", "v"],
        {"attention_mask": ATTN_MASK},
    ),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "use_gate": True}, ["q", "v"], {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "sliding_window": 2}, ["q", "s"], {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "attention_axes": 2}, ["q4", "v4"], {}),
    (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)},
        ["q4", "v4"],
        {"return_attention_scores": True},
    ),
]
IDS = [
    f"{i}-{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}-"
    f"{'+'.join(ins)}" + "".join(f"-{k}" for k in call)
    for i, (name, kw, ins, call) in enumerate(CASES)
]


def _arrays(seed):
    rng = np.random.default_rng(seed)
    shapes = {
        "q": (BATCH, TQ, DIM),
        "v": (BATCH, TV, DIM),
        "k": (BATCH, TV, DIM),
        "s": (BATCH, TQ, DIM),
        "q4": (BATCH, 2, TQ, DIM),
        "v4": (BATCH, 2, TV, DIM),
    }
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def _call(layer, name, tensors, call):
    if name == "EinsumDense":
        return layer(tensors[0], **call)
    if name == "MultiHeadAttention":
        return layer(*tensors, **call)
    return layer(list(tensors), **call)


def _flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("name,kwargs,inputs,call", CASES, ids=IDS)
def test_layer_matches_keras(tf, keras, name, kwargs, inputs, call):
    arrays = _arrays(len(inputs))
    ours = getattr(nk.layers, name)(**kwargs)
    theirs = getattr(keras.layers, name)(**kwargs)
    tensors = [arrays[n] for n in inputs]
    _call(ours, name, tensors, {})  # build both
    _call(theirs, name, [tf.constant(a) for a in tensors], {})
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    depth = 2 if name == "MultiHeadAttention" else 1  # "query/kernel", "scale"
    assert [w.path.split("/")[-depth:] for w in ours.weights] == [
        w.path.split("/")[-depth:] for w in theirs.weights
    ]
    rng = np.random.default_rng(7)
    weights = [
        (rng.standard_normal(w.shape) * 0.5 + (1.0 if w.shape == () else 0.0)).astype(np.float32)
        for w in ours.weights
    ]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    assert ours.get_config() == theirs.get_config()

    unique = list(dict.fromkeys(inputs))  # watched once each; a repeated name is one tensor
    expected_outs = _flat(_call(theirs, name, [tf.constant(a) for a in tensors], call))
    dys = [rng.standard_normal(o.shape).astype(np.float32) for o in expected_outs]

    outs, grads = _nk_run(ours, name, unique, arrays, inputs, call, dys)
    k_outs, k_grads = _tf_run(tf, theirs, name, unique, arrays, inputs, call, dys)
    for i, (o, k) in enumerate(zip(outs, k_outs)):
        assert_close(o, k, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL, f"output {i}")
    labels = unique + [w.path for w in ours.trainable_weights]
    assert len(grads) == len(k_grads)
    for label, g, k in zip(labels, grads, k_grads):
        assert_close(g, k, ATTENTION_GRAD_ATOL, ATTENTION_GRAD_RTOL, f"gradient of {label}")


def _nk_run(layer, name, unique, arrays, inputs, call, dys):
    """Outputs, and gradients with respect to each distinct input array (a name repeated in
    ``inputs`` is one array: self-attention) and each weight."""
    sources = [arrays[n].copy() for n in unique]
    by_name = dict(zip(unique, sources))
    with nk.GradientTape() as tape:
        for s in sources:
            tape.watch(s)
        outs = _flat(_call(layer, name, [by_name[n] for n in inputs], call))
        total = sum(nk.ops.sum(nk.ops.multiply(o, dy)) for o, dy in zip(outs, dys))
    grads = tape.gradient(total, sources + list(layer.trainable_weights))
    return [np.asarray(nk.ops.convert_to_numpy(o)) for o in outs], grads


def _tf_run(tf, layer, name, unique, arrays, inputs, call, dys):
    sources = [tf.constant(arrays[n]) for n in unique]
    by_name = dict(zip(unique, sources))
    with tf.GradientTape() as tape:
        for s in sources:
            tape.watch(s)
        outs = _flat(_call(layer, name, [by_name[n] for n in inputs], call))
        total = tf.add_n([tf.reduce_sum(o * dy) for o, dy in zip(outs, dys)])
    grads = tape.gradient(total, sources + list(layer.trainable_weights))
    return [o.numpy() for o in outs], [g.numpy() for g in grads]


def test_dropout_in_training_drops_attention_weights():
    """Dropout only in training: the weights of a training call are the inference weights
    zeroed or scaled by ``1 / (1 - rate)`` (the draws are not Keras's)."""
    arrays = _arrays(3)
    for layer in (
        nk.layers.Attention(dropout=0.5, seed=1),
        nk.layers.MultiHeadAttention(2, 3, dropout=0.5, seed=1),
    ):
        if isinstance(layer, nk.layers.MultiHeadAttention):
            _, w_inf = layer(arrays["q"], arrays["v"], return_attention_scores=True)
            _, w_train = layer(
                arrays["q"], arrays["v"], return_attention_scores=True, training=True
            )
            out_a = layer(arrays["q"], arrays["v"], training=True)
            out_b = layer(arrays["q"], arrays["v"], training=False)
            assert not np.allclose(out_a, out_b)
            np.testing.assert_array_equal(w_inf, w_train)  # the scores are before dropout
        else:
            _, w_inf = layer([arrays["q"], arrays["v"]], return_attention_scores=True)
            _, w_train = layer(
                [arrays["q"], arrays["v"]], return_attention_scores=True, training=True
            )
            kept = w_train != 0
            assert 0 < kept.mean() < 1
            np.testing.assert_allclose(w_train[kept], w_inf[kept] * 2.0, rtol=1e-6)


# --------------------------------------------------------------------------- masks in models

VOCAB, T = 12, 6
TOKENS = np.random.default_rng(21).integers(1, VOCAB, size=(16, T))
TOKENS[:5, 4:] = 0  # post-padded
TOKENS[5:8, :2] = 0  # pre-padded
OTHER = np.random.default_rng(22).integers(1, VOCAB, size=(16, T + 1))
OTHER[::3, 5:] = 0

MODEL_CASES = ["mha-self", "mha-causal", "mha-cross", "attention-self", "mha-pool-classifier"]


def _masked_model(module, case, seed=0):
    layers = module.layers
    tokens = module.Input((T,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=True)(tokens)
    inputs = tokens
    if case == "mha-self":
        y = layers.MultiHeadAttention(2, 4)(x, x)
    elif case == "mha-causal":
        y = layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    elif case == "mha-cross":
        other = module.Input((T + 1,), dtype="int32")
        c = layers.Embedding(VOCAB, 6, mask_zero=True)(other)
        y = layers.MultiHeadAttention(2, 3)(x, c, key=layers.Dense(7)(c))
        inputs = [tokens, other]
    elif case == "attention-self":
        y = layers.Attention(use_scale=True)([x, x])
    else:
        y = layers.MultiHeadAttention(2, 4)(x, x)
        y = layers.GlobalAveragePooling1D()(y)
        y = layers.Dense(3, activation="softmax")(y)
    return module.Model(inputs, y)


def _copy_random_weights(ours, theirs, seed):
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal(w.shape) * 0.4).astype(np.float32) for w in ours.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)


@pytest.mark.parametrize("case", MODEL_CASES)
def test_masked_functional_model_matches_keras(tf, keras, case):
    """Masks made by ``Embedding(mask_zero=True)`` reach the attention layers (MHA's
    ``query_mask`` / ``value_mask`` / ``key_mask``, Attention's ``mask``) and, through their
    ``compute_mask``, the layers after them."""
    ours, theirs = _masked_model(nk, case), _masked_model(keras, case)
    _copy_random_weights(ours, theirs, 3)
    x = [TOKENS, OTHER] if case == "mha-cross" else TOKENS
    expected = theirs(x).numpy()
    dy = np.random.default_rng(4).standard_normal(expected.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(theirs(x) * dy)
    k_grads = tape.gradient(total, theirs.trainable_weights)
    with nk.GradientTape() as tape:
        out = ours(x)
        total = nk.ops.sum(nk.ops.multiply(out, dy))
    grads = tape.gradient(total, ours.trainable_weights)
    assert_close(
        nk.ops.convert_to_numpy(out), expected, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL
    )
    assert_close(
        ours.predict(x, verbose=0), expected, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL
    )
    for w, g, k in zip(ours.trainable_weights, grads, k_grads):
        k = tf.convert_to_tensor(k).numpy()
        assert_close(g, k, ATTENTION_GRAD_ATOL, ATTENTION_GRAD_RTOL, f"gradient of {w.path}")


def test_keras_file_loads_and_predicts_the_same(keras, tmp_path):
    """A ``.keras`` file written by Keras loads in numpykeras (and back) with the same outputs."""
    theirs = _masked_model(keras, "mha-cross")
    ours_template = _masked_model(nk, "mha-cross")
    _copy_random_weights(ours_template, theirs, 9)
    path = str(tmp_path / "attention.keras")
    theirs.save(path)
    ours = nk.models.load_model(path)
    x = [TOKENS, OTHER]
    expected = theirs.predict(x, verbose=0)
    assert_close(
        ours.predict(x, verbose=0), expected, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL
    )
    back = str(tmp_path / "back.keras")
    ours.save(back)
    reloaded = keras.models.load_model(back)
    assert_close(reloaded.predict(x, verbose=0), expected, 0.0, 0.0, "Keras reloading ours")
    weights_path = str(tmp_path / "w.weights.h5")
    theirs.save_weights(weights_path)
    ours_template.load_weights(weights_path)
    for w, k in zip(ours_template.weights, theirs.weights):
        np.testing.assert_array_equal(w.numpy(), k.numpy(), err_msg=w.path)


def test_fit_masked_classifier_matches_keras(keras):
    """``Embedding(mask_zero=True)`` + ``MultiHeadAttention`` + ``GlobalAveragePooling1D`` +
    ``Dense`` trained by ``fit`` (SGD, no shuffling), per epoch."""
    ours, theirs = (
        _masked_model(nk, "mha-pool-classifier"),
        _masked_model(keras, "mha-pool-classifier"),
    )
    _copy_random_weights(ours, theirs, 11)
    y = (TOKENS[:, 0] % 3).astype(np.int32)
    for model, module in ((ours, nk), (theirs, keras)):
        model.compile(
            optimizer=module.optimizers.SGD(0.1),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    args = {"epochs": 3, "batch_size": 4, "shuffle": False, "verbose": 0}
    k_history = theirs.fit(TOKENS, y, **args).history
    history = ours.fit(TOKENS, y, **args).history
    assert sorted(history) == sorted(k_history)
    for key in k_history:
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    for w, k_w in zip(ours.weights, theirs.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)


# --------------------------------------------------------------------------- scores in graphs

# (layer, constructor kwargs, symbolic input shapes without the batch axis). Keras's symbolic
# MultiHeadAttention scores are (batch, heads, Tq, Tq) whatever the key's length and the
# attention axes; the arrays it computes are (batch, heads, <query axes>, <key axes>), which is
# what numpykeras's symbolic scores are: the shapes are compared with Keras's symbolic ones where
# those are right (Tq == Tv, 3-D inputs) and with the shapes of what Keras computes otherwise.
SCORES_CASES = [
    ("Attention", {}, [(TQ, DIM), (TV, DIM)]),
    ("Attention", {"score_mode": "concat"}, [(TQ, DIM), (TV, 3), (TV, DIM)]),
    ("AdditiveAttention", {}, [(TQ, DIM), (TV, DIM)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(TQ, DIM), (TQ, DIM)]),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(TQ, DIM), (TV, DIM)]),
    ("MultiHeadAttention", {"num_heads": 3, "key_dim": 2}, [(TQ, DIM), (TV, 4), (TV, 3)]),
    (
        "MultiHeadAttention",
        {"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)},
        [(2, TQ, DIM), (2, TV, DIM)],
    ),
]
SCORES_IDS = [
    f"{i}-{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}-{len(shapes)}inputs"
    for i, (name, kw, shapes) in enumerate(SCORES_CASES)
]


def _scores_model(module, name, kwargs, shapes):
    """A model returning the layer's output and attention scores (two symbolic outputs)."""
    inputs = [module.Input(s) for s in shapes]
    layer = getattr(module.layers, name)(name="attention_layer", **kwargs)
    if name == "MultiHeadAttention":
        args, call = inputs[:2], {"key": inputs[2]} if len(inputs) > 2 else {}
        out, scores = layer(*args, return_attention_scores=True, **call)
    else:
        out, scores = layer(inputs, return_attention_scores=True)
    return module.Model(inputs, [out, scores]), out, scores


@pytest.mark.parametrize("name,kwargs,shapes", SCORES_CASES, ids=SCORES_IDS)
def test_return_attention_scores_in_a_functional_model_matches_keras(
    keras, tmp_path, name, kwargs, shapes
):
    """``return_attention_scores=True`` on symbolic tensors gives (output, scores) KerasTensors;
    a model returning both predicts what Keras's predicts, and survives a ``.keras`` file read
    by Keras."""
    ours, out, scores = _scores_model(nk, name, kwargs, shapes)
    theirs, k_out, k_scores = _scores_model(keras, name, kwargs, shapes)
    _copy_random_weights(ours, theirs, 13)
    rng = np.random.default_rng(14)
    x = [rng.standard_normal((BATCH,) + s).astype(np.float32) for s in shapes]
    expected = theirs.predict(x, verbose=0)
    assert out.shape == tuple(k_out.shape)
    assert scores.shape == (None,) + expected[1].shape[1:]
    if name != "MultiHeadAttention" or (len(shapes[0]) == 2 and shapes[0][0] == shapes[1][0]):
        assert scores.shape == tuple(k_scores.shape)
    got = ours.predict(x, verbose=0)
    assert len(got) == 2
    for i, (o, k) in enumerate(zip(got, expected)):
        assert o.shape == k.shape
        assert_close(o, k, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL, f"output {i}")
    path = str(tmp_path / "scores.keras")
    ours.save(path)
    reloaded = keras.models.load_model(path)
    for i, (o, k) in enumerate(zip(reloaded.predict(x, verbose=0), expected)):
        assert_close(o, k, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL, f"Keras reloaded {i}")
    back = str(tmp_path / "back.keras")
    theirs.save(back)
    for i, (o, k) in enumerate(zip(nk.models.load_model(back).predict(x, verbose=0), expected)):
        assert_close(o, k, ATTENTION_FORWARD_ATOL, ATTENTION_FORWARD_RTOL, f"ours reloaded {i}")


def test_attention_scores_output_trains_with_fit(keras):
    """A model with both outputs of ``MultiHeadAttention(..., return_attention_scores=True)``
    and a loss on each trains by ``fit`` as Keras's does (SGD, no shuffling)."""
    shapes = [(TQ, DIM), (TV, DIM)]
    kwargs = {"num_heads": 2, "key_dim": 3}
    ours = _scores_model(nk, "MultiHeadAttention", kwargs, shapes)[0]
    theirs = _scores_model(keras, "MultiHeadAttention", kwargs, shapes)[0]
    _copy_random_weights(ours, theirs, 15)
    rng = np.random.default_rng(16)
    x = [rng.standard_normal((8,) + s).astype(np.float32) for s in shapes]
    y = [
        rng.standard_normal((8, TQ, DIM)).astype(np.float32),
        rng.random((8, 2, TQ, TV)).astype(np.float32),
    ]
    for model, module in ((ours, nk), (theirs, keras)):
        model.compile(optimizer=module.optimizers.SGD(0.1), loss=["mse", "mse"])
    args = {"epochs": 2, "batch_size": 4, "shuffle": False, "verbose": 0}
    k_history = theirs.fit(x, y, **args).history
    history = ours.fit(x, y, **args).history
    assert sorted(history) == sorted(k_history)
    for key in k_history:
        assert_close(history[key], k_history[key], TRAINING_ATOL, TRAINING_RTOL, key)
    for w, k_w in zip(ours.weights, theirs.weights):
        assert_close(w.numpy(), k_w.numpy(), TRAINING_ATOL, TRAINING_RTOL, w.path)
