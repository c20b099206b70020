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


# --------------------------------------------------------------------------- compute_output_spec


def _spec_layer(m, case):
    """``(layer, symbolic arguments)`` of a ``compute_output_spec`` case written against ``m``."""
    layers, ops = m.layers, m.ops

    class Doubled(layers.Layer):  # no compute_output_shape: Keras traces `call`
        def call(self, x):
            return ops.concatenate([x, x], axis=-1)

    class FirstTwoAsInt(layers.Layer):  # the dtype comes from `call`
        def call(self, x):
            return ops.cast(x, "int32")[:, :2]

    class SuperWithShape(layers.Layer):  # `super()` uses compute_output_shape
        def compute_output_spec(self, x):
            return super().compute_output_spec(x)

        def call(self, x):
            return ops.concatenate([x] * 7, axis=-1)[..., :7]

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (7,)

    class SuperTraced(layers.Layer):  # `super()` traces `call`
        def compute_output_spec(self, x):
            return super().compute_output_spec(x)

        def call(self, x):
            return ops.sum(x, axis=-1)

    x = m.Input((4,))
    if case == "dense":
        return layers.Dense(3), (x,)
    if case == "dense-float16":
        return layers.Dense(3, dtype="float16"), (x,)
    if case == "dense-fixed-batch":
        return layers.Dense(3), (m.Input(batch_shape=(5, 4)),)
    if case == "conv2d":
        return layers.Conv2D(2, 3, strides=2), (m.Input((9, 9, 3)),)
    if case == "concatenate-list":
        return layers.Concatenate(), ([x, m.Input((3,))],)
    if case == "two-shape":
        return two_shape_layer(m)(), (x, m.Input((3,)))
    if case == "traced":
        return Doubled(), (x,)
    if case == "traced-int":
        return FirstTwoAsInt(), (x,)
    if case == "super-with-shape":
        return SuperWithShape(), (x,)
    if case == "super-traced":
        return SuperTraced(), (x,)
    raise ValueError(case)


SPEC_CASES = [
    "dense",
    "dense-float16",
    "dense-fixed-batch",
    "conv2d",
    "concatenate-list",
    "two-shape",
    "traced",
    "traced-int",
    "super-with-shape",
    "super-traced",
]


def _specs(spec):
    tensors = spec if isinstance(spec, (list, tuple)) else [spec]
    return [(tuple(t.shape), str(t.dtype)) for t in tensors]


@pytest.mark.parametrize("case", SPEC_CASES)
def test_compute_output_spec_matches_keras(keras, case):
    """The base ``compute_output_spec`` (called directly, through ``super()`` and by a symbolic
    call) gives Keras's shapes and dtypes."""
    ours, our_args = _spec_layer(nk, case)
    theirs, their_args = _spec_layer(keras, case)
    expected = _specs(theirs.compute_output_spec(*their_args))
    assert _specs(ours.compute_output_spec(*our_args)) == expected
    assert _specs(ours(*our_args)) == _specs(theirs(*their_args)) == expected


@pytest.mark.parametrize("case", ["dense", "conv2d", "two-shape"])
def test_compute_output_spec_leaves_the_layer_unbuilt_as_keras(keras, case):
    """From ``compute_output_shape``, the spec needs no weights: neither library builds."""
    ours, our_args = _spec_layer(nk, case)
    theirs, their_args = _spec_layer(keras, case)
    ours.compute_output_spec(*our_args)
    theirs.compute_output_spec(*their_args)
    assert ours.built == theirs.built is False
    assert ours.get_build_config() is theirs.get_build_config() is None


# --------------------------------------------------------------------------- build(shape) directly


def _built_directly(m, case):
    """A layer of ``m`` built by calling ``build`` directly, as ``case`` says."""
    layers = m.layers
    if case == "dense-tuple":
        layer = layers.Dense(3)
        layer.build((None, 4))
    elif case == "dense-list":
        layer = layers.Dense(3)
        layer.build([None, 4])
    elif case == "dense-batch":
        layer = layers.Dense(3)
        layer.build((8, 4))
    elif case == "dense-keyword":
        layer = layers.Dense(3)
        layer.build(input_shape=(None, 4))
    elif case == "conv2d":
        layer = layers.Conv2D(2, 3)
        layer.build((None, 9, 9, 3))
    elif case == "lstm":
        layer = layers.LSTM(4)
        layer.build((None, 5, 3))
    elif case == "add-list":
        layer = layers.Add()
        layer.build([(None, 4), (None, 4)])
    elif case == "two-shape":
        layer = two_shape_layer(m)()
        layer.build((None, 4), (None, 3))
    elif case == "two-shape-keywords":
        layer = two_shape_layer(m)()
        layer.build(b_shape=(None, 3), a_shape=(None, 4))
    elif case == "subclass-calling-super":

        class Wider(m.layers.Dense):
            def build(self, input_shape):
                super().build(tuple(input_shape[:-1]) + (2 * input_shape[-1],))

        layer = Wider(3)
        layer.build((None, 4))
    else:
        raise ValueError(case)
    return layer


BUILD_CASES = [
    "dense-tuple",
    "dense-list",
    "dense-batch",
    "dense-keyword",
    "conv2d",
    "lstm",
    "add-list",
    "two-shape",
    "two-shape-keywords",
    "subclass-calling-super",
]


@pytest.mark.parametrize("case", BUILD_CASES)
def test_direct_build_records_the_build_config_as_keras(keras, case):
    ours, theirs = _built_directly(nk, case), _built_directly(keras, case)
    assert ours.built and theirs.built
    # Compared as returned (tuples stay tuples, a list given stays a list) and as saved.
    assert ours.get_build_config() == theirs.get_build_config()
    assert _json(ours.get_build_config()) == _json(theirs.get_build_config())
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]


# --------------------------------------------------------------------------- built by an eager call


def _built_eagerly(m, case):
    """A layer of ``m`` built by its first call on arrays (batch size 2)."""
    layers = m.layers
    x, seq = A[:2], np.repeat(A[:2, None, :3], 5, axis=1)  # (2, 4), (2, 5, 3)
    if case == "dense":
        layer = layers.Dense(3)
        layer(x)
    elif case == "conv2d":
        layer = layers.Conv2D(2, 3)
        layer(np.zeros((2, 5, 5, 1), "float32"))
    elif case == "flatten":
        layer = layers.Flatten()
        layer(np.zeros((2, 4, 2), "float32"))
    elif case == "add-list":
        layer = layers.Add()
        layer([x, x])
    elif case == "batch-normalization":
        layer = layers.BatchNormalization()
        layer(x)
    elif case == "embedding":
        layer = layers.Embedding(5, 2)
        layer(np.zeros((2, 4), "int32"))
    elif case == "lstm":
        layer = layers.LSTM(4)
        layer(seq)
    elif case == "mha":
        layer = layers.MultiHeadAttention(2, 3)
        layer(seq, seq[:, :4])
    elif case == "two-shape":
        layer = two_shape_layer(m)()
        layer(x, B[:2])
    elif case == "optional-argument":

        class Optional(layers.Layer):
            def build(self, x_shape, y_shape=None):
                self.kernel = self.add_weight(shape=(x_shape[-1], 2))

            def call(self, x, y=None):
                return m.ops.matmul(x, self.kernel)

        layer = Optional()
        layer(x)
    else:
        raise ValueError(case)
    return layer


EAGER_CASES = [
    "dense",
    "conv2d",
    "flatten",
    "add-list",
    "batch-normalization",
    "embedding",
    "lstm",
    "mha",
    "two-shape",
    "optional-argument",
]


@pytest.mark.parametrize("case", EAGER_CASES)
def test_eager_call_records_the_real_input_shape_as_keras(keras, case):
    """Built by a call on arrays, a layer records their shapes, batch size included."""
    ours, theirs = _built_eagerly(nk, case), _built_eagerly(keras, case)
    assert ours.get_build_config() == theirs.get_build_config()
    assert _json(ours.get_build_config()) == _json(theirs.get_build_config())
    if case in ("two-shape", "optional-argument"):
        return  # classes local to each library: rebuilt in the tests above
    # Each library rebuilds a fresh copy from the other's config, to the same weights.
    for layer, other in ((ours, theirs), (theirs, ours)):
        copy = type(layer).from_config(layer.get_config())
        copy.build_from_config(_json(other.get_build_config()))
        assert copy.built
        assert [tuple(w.shape) for w in copy.weights] == [tuple(w.shape) for w in ours.weights]


def _subclassed_model(m):
    class Tiny(m.Model):
        def __init__(self):
            super().__init__()
            self.hidden = m.layers.Dense(3)
            self.head = m.layers.Dense(1)

        def call(self, x):
            return self.head(self.hidden(x))

    return Tiny()


@pytest.mark.parametrize("how", ["call", "predict", "fit", "evaluate"])
def test_layers_of_a_subclassed_model_record_what_keras_records(keras, how):
    """A direct call and ``predict`` build on real batches (``(6, 4)``, ``(4, 4)``); ``fit``
    and ``evaluate`` build symbolically in Keras (batch ``None``), which numpykeras matches."""
    results = []
    for m in (nk, keras):
        model = _subclassed_model(m)
        y = A[:, :1]
        if how == "call":
            model(A)
        elif how == "predict":
            model.predict(A, batch_size=4, verbose=0)
        else:
            model.compile(optimizer="sgd", loss="mse")
            getattr(model, how)(A, y, batch_size=4, verbose=0)
        results.append(
            [model.get_build_config()]
            + [_json(layer.get_build_config()) for layer in (model.hidden, model.head)]
        )
    ours, theirs = results
    assert _json(ours) == _json(theirs)


@pytest.mark.parametrize("batch_shape", [(None, 4), (5, 4)], ids=["unknown", "fixed"])
def test_sublayers_built_symbolically_record_the_symbolic_batch(keras, batch_shape):
    """A custom layer with neither ``build`` nor ``compute_output_shape`` holding a ``Dense``:
    Keras traces its ``call`` symbolically, numpykeras runs it on zeros (batch 2 standing in for
    an unknown batch); the ``Dense`` records the symbolic batch size in both."""

    def holder_result(m):
        class Holder(m.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.inner = m.layers.Dense(3)

            def call(self, x):
                return self.inner(x)

        layer = Holder()
        out = layer(m.Input(batch_shape=batch_shape))
        return tuple(out.shape), layer.inner.get_build_config()

    assert holder_result(nk) == holder_result(keras)
