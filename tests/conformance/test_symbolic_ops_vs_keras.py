"""``keras.ops`` on KerasTensors: op nodes in functional models, compared with Keras 3.

(a) The same graph built in both libraries with ops on symbolic tensors (``ops.add``,
``ops.concatenate``, ``ops.reshape``, ``ops.mean``, ``ops.matmul``, ``x * 2.0``, ``x[:, 1:]``,
``ops.softmax``, ``ops.where`` of a comparison): predictions, one short ``fit`` and the op
entries of ``get_config``. (b) ``.keras`` files written by Keras with op nodes (an
``Embedding(mask_zero=True)`` whose mask reaches the pooling as a ``not_equal`` node) load and
predict the same. (c) Our saved file loads in Keras and predicts the same.
"""

import json

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

from tolerances import TRAINING_ATOL, TRAINING_RTOL


def op_graph(m):
    ops, layers = m.ops, m.layers
    inp = m.Input((4,), name="features")
    h = layers.Dense(6, activation="tanh", name="hidden")(inp)
    b = ops.add(h, h)
    c = ops.concatenate([b, h], axis=-1)
    d = ops.reshape(c, (-1, 3, 4))
    e = ops.mean(d, axis=1)
    f = e * 2.0
    g = f[:, 1:]
    s = ops.softmax(g)
    w = ops.where(s > 0.3, s, -s)
    out = layers.Dense(2, name="head")(w)
    return m.Model(inp, out, name="op_graph")


def matmul_graph(m):
    ops, layers = m.ops, m.layers
    inp = m.Input((3, 4), name="seq")
    q = layers.Dense(4, name="q")(inp)
    k = layers.Dense(4, name="k")(inp)
    scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / 2.0
    att = ops.matmul(ops.softmax(scores, axis=-1), inp)
    out = layers.Dense(1, name="head")(ops.sum(att, axis=1) - ops.abs(att[:, 0]))
    return m.Model(inp, out, name="matmul_graph")


GRAPHS = [op_graph, matmul_graph]


def _pair(keras, build):
    keras.utils.clear_session()
    clear_session()
    theirs, ours = build(keras), build(nk)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def _op_entries(model):
    config = json.loads(json.dumps(model.get_config()))
    return [e for e in config["layers"] if e["module"].startswith("keras.src.ops.")]


@pytest.mark.parametrize("build", GRAPHS, ids=lambda b: b.__name__)
def test_predict_fit_and_config(keras, build):
    theirs, ours = _pair(keras, build)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10,) + tuple(theirs.input_shape[1:])).astype("float32")
    y = rng.standard_normal((10,) + tuple(theirs.output_shape[1:])).astype("float32")
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), TRAINING_RTOL, TRAINING_ATOL
    )
    assert _op_entries(ours) == _op_entries(theirs)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    for model, opt in ((theirs, keras.optimizers.SGD(0.1)), (ours, nk.optimizers.SGD(0.1))):
        model.compile(opt, "mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, TRAINING_RTOL, TRAINING_ATOL)


@pytest.mark.parametrize("build", GRAPHS, ids=lambda b: b.__name__)
def test_our_file_loads_in_keras(keras, build, tmp_path):
    _, ours = _pair(keras, build)
    x = np.random.default_rng(1).standard_normal((6,) + ours.input_shape[1:]).astype("float32")
    ours.save(tmp_path / "ours.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), ours.predict(x, verbose=0), TRAINING_RTOL, TRAINING_ATOL
    )
    back = nk.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x, verbose=0))


def embedding_pooling(m):
    inp = m.Input((6,), dtype="int32", name="tokens")
    e = m.layers.Embedding(12, 4, mask_zero=True, name="embed")(inp)
    p = m.layers.GlobalAveragePooling1D(name="pool")(e)
    return m.Model(inp, m.layers.Dense(2, name="head")(p))


def embedding_attention(m):
    inp = m.Input((6,), dtype="int32", name="tokens")
    e = m.layers.Embedding(12, 8, mask_zero=True, name="embed")(inp)
    a = m.layers.MultiHeadAttention(2, 4, name="mha")(e, e)
    p = m.layers.GlobalAveragePooling1D(name="pool")(a)
    return m.Model(inp, m.layers.Dense(2, name="head")(p))


@pytest.mark.parametrize(
    "build", [embedding_pooling, embedding_attention], ids=lambda b: b.__name__
)
def test_keras_file_with_mask_nodes_loads(keras, build, tmp_path):
    keras.utils.clear_session()
    theirs = build(keras)
    path = tmp_path / "theirs.keras"
    theirs.save(path)
    entries = _op_entries(theirs)
    assert any(e["class_name"] == "NotEqual" for e in entries)
    x = np.array([[3, 5, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6], [7, 0, 0, 0, 0, 0]], dtype="int32")
    ours = nk.models.load_model(path)
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), TRAINING_RTOL, TRAINING_ATOL
    )


def test_unknown_op_class_is_a_clear_error():
    from numpykeras.layers.core.op_layer import OpLayer

    with pytest.raises(ValueError, match="Unknown op class 'FancyOp'"):
        OpLayer.from_keras_config(
            {"module": "keras.src.ops.numpy", "class_name": "FancyOp", "config": {"name": "f"}}
        )
