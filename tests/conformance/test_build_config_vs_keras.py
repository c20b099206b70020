"""Build configs against Keras 3: what ``get_build_config()`` returns and what ``.keras`` files
hold for layers whose ``build`` takes one shape (``{"input_shape": ...}``) or the shapes of
several ``call`` arguments (``{"shapes_dict": {"<argument>_shape": ...}}``): a custom layer with
``build(self, a_shape, b_shape)``, ``MultiHeadAttention``, ``Bidirectional`` and recurrent layers
given an ``initial_state``. A ``.keras`` file holding the custom layer crosses both ways.
"""

import json
import zipfile

import numpy as np
import pytest

import numpykeras as nk

from tolerances import assert_forward_close

_RNG = np.random.default_rng(31)
A = _RNG.normal(size=(6, 4)).astype("float32")
B = _RNG.normal(size=(6, 3)).astype("float32")


def two_shape_layer(m):
    """A custom layer written against ``m`` (keras or numpykeras) whose ``build`` takes the
    shapes of both of ``call``'s tensors."""

    class TwoShape(m.layers.Layer):
        def build(self, a_shape, b_shape):
            self.kernel = self.add_weight(
                shape=(a_shape[-1], b_shape[-1]), initializer="glorot_uniform", name="kernel"
            )
            self.gate = self.add_weight(shape=(b_shape[-1],), initializer="ones", name="gate")

        def call(self, a, b):
            return m.ops.matmul(a, self.kernel) + b * self.gate

        def compute_output_shape(self, a_shape, b_shape):
            return tuple(a_shape[:-1]) + (b_shape[-1],)

    return TwoShape


def _json(value):
    """A build config as a ``.keras`` file's JSON holds it (tuples become lists)."""
    return json.loads(json.dumps(value))


def _calls(m, case):
    """The layer of ``case`` called on symbolic inputs of ``m``; returns the layer."""
    layers = m.layers
    seq, h, c = m.Input((5, 3)), m.Input((4,)), m.Input((4,))
    if case == "two-shape":
        layer = two_shape_layer(m)()
        layer(m.Input((4,)), m.Input((3,)))
    elif case == "mha":
        layer = layers.MultiHeadAttention(2, 3)
        layer(m.Input((4, 3)), seq)
    elif case == "mha-key":
        layer = layers.MultiHeadAttention(2, 3)
        layer(m.Input((4, 3)), seq, key=m.Input((5, 2)))
    elif case == "bidirectional":
        layer = layers.Bidirectional(layers.LSTM(4))
        layer(seq)
    elif case == "bidirectional-initial-state":
        layer = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
        layer(seq, initial_state=[h, c, h, c])
    elif case == "lstm-initial-state":
        layer = layers.LSTM(4)
        layer(seq, initial_state=[h, c])
    elif case == "gru-initial-state":
        layer = layers.GRU(4)
        layer(seq, initial_state=h)
    elif case == "simple-rnn":
        layer = layers.SimpleRNN(4)
        layer(seq)
    elif case == "attention-list":
        layer = layers.Attention()
        layer([m.Input((4, 3)), seq])
    else:
        raise ValueError(case)
    return layer


CASES = [
    "two-shape",
    "mha",
    "mha-key",
    "bidirectional",
    "bidirectional-initial-state",
    "lstm-initial-state",
    "gru-initial-state",
    "simple-rnn",
    "attention-list",
]


@pytest.mark.parametrize("case", CASES)
def test_build_config_matches_keras(keras, case):
    ours, theirs = _calls(nk, case), _calls(keras, case)
    expected = theirs.get_build_config()
    assert _json(ours.get_build_config()) == _json(expected)
    # Each library rebuilds a fresh copy from the other's config (as read back from a file)
    # and from its own, and gets the same weights.
    for config in (_json(expected), _json(ours.get_build_config())):
        rebuilt = type(ours).from_config(ours.get_config())
        rebuilt.build_from_config(config)
        assert rebuilt.built
        assert [tuple(w.shape) for w in rebuilt.weights] == [tuple(w.shape) for w in ours.weights]
    k_rebuilt = type(theirs).from_config(theirs.get_config())
    k_rebuilt.build_from_config(_json(ours.get_build_config()))
    assert [tuple(w.shape) for w in k_rebuilt.weights] == [tuple(w.shape) for w in theirs.weights]


def _two_shape_model(m, layer_class):
    a, b = m.Input((4,), name="a"), m.Input((3,), name="b")
    h = layer_class(name="two_shape")(a, b)
    return m.Model([a, b], m.layers.Dense(2, name="head")(h))


def _layer_entry(path, name):
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    return next(e for e in config["config"]["layers"] if e["config"]["name"] == name)


@pytest.mark.parametrize("writer", ["numpykeras", "keras"])
def test_keras_file_with_a_two_shape_custom_layer_crosses(keras, tmp_path, writer):
    """Written by one library, loaded by the other: the custom layer is rebuilt from its
    ``shapes_dict`` and predicts the same."""
    ours_class, theirs_class = two_shape_layer(nk), two_shape_layer(keras)
    ours, theirs = _two_shape_model(nk, ours_class), _two_shape_model(keras, theirs_class)
    ours.set_weights(theirs.get_weights())
    expected = theirs.predict([A, B], verbose=0)
    assert_forward_close(ours.predict([A, B], verbose=0), expected, "before saving")
    path = str(tmp_path / f"{writer}.keras")
    (ours if writer == "numpykeras" else theirs).save(path)
    entry = _layer_entry(path, "two_shape")
    assert entry["build_config"] == {"shapes_dict": {"a_shape": [None, 4], "b_shape": [None, 3]}}
    custom = {"TwoShape": None}
    if writer == "numpykeras":
        custom["TwoShape"] = theirs_class
        loaded = keras.models.load_model(path, custom_objects=custom)
    else:
        custom["TwoShape"] = ours_class
        loaded = nk.models.load_model(path, custom_objects=custom)
    layer = loaded.get_layer("two_shape")
    assert layer.built
    assert _json(layer.get_build_config()) == entry["build_config"]
    assert_forward_close(np.asarray(loaded.predict([A, B], verbose=0)), expected, "loaded")
