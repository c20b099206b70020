"""``utils.model_to_dot`` / ``plot_model`` and ``clear_session`` vs Keras 3.

The same architecture is built in Keras and in numpykeras (after ``clear_session`` in both, so the
automatic names agree) and drawn with the same arguments. Node ids are ``str(id(layer))`` in both;
each id is replaced by its layer's name before the Graphviz sources are compared, so node labels
(the HTML-like tables), node attributes, clusters and edges must be the same text.

The boxes are added in ``model.layers`` order, so the exact comparison also checks that
``model.layers`` follows Keras's order (a shared layer, a nested model called with a dict).
"""

import re

import numpy as np
import pytest

import numpykeras

pydot = pytest.importorskip("pydot")

# --------------------------------------------------------------------------- architectures


def _sequential(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input((8,)),
            L.Dense(4, activation="relu"),
            L.Dropout(0.1),
            L.BatchNormalization(),
            L.Dense(2),
        ],
        name="stack",
    )


def _conv(K):
    L = K.layers
    return K.Sequential(
        [
            K.Input((8, 8, 3)),
            L.Conv2D(4, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Activation("softmax"),
        ]
    )


def _recurrent(K):
    L = K.layers
    return K.Sequential([K.Input((5, 3)), L.LSTM(4, return_sequences=True), L.GRU(2)])


def _branches(K):
    """Two inputs (one int32), two branches, merges, two outputs."""
    L = K.layers
    a = K.Input((8,), name="a")
    b = K.Input((8,), name="b", dtype="int32")
    x = L.Dense(4)(a)
    y = L.Dense(4, activation="tanh")(b)
    z = L.Concatenate()([x, y])
    out1 = L.Dense(1, activation="sigmoid")(z)
    out2 = L.Dense(2)(L.Add()([z, z]))
    return K.Model([a, b], [out1, out2], name="branches")


def _nested(K):
    """A Sequential and a frozen two-input, two-output functional model inside a functional one."""
    L = K.layers
    inner = K.Sequential([K.Input((8,)), L.Dense(4), L.Dense(3)], name="inner")
    fa, fb = K.Input((3,)), K.Input((3,))
    added = L.Add()([L.Dense(3)(fa), fb])
    pair = K.Model([fa, fb], [added, L.Dense(2)(added)], name="pair")
    pair.trainable = False
    a = K.Input((8,))
    y = inner(a)
    out1, out2 = pair([y, y])
    return K.Model(a, L.Concatenate()([out1, out2]))


def _sequential_in_sequential(K):
    L = K.layers
    inner = K.Sequential([K.Input((8,)), L.Dense(4), L.Dense(3)], name="inner")
    deeper = K.Sequential([K.Input((3,)), L.Dense(2)], name="deeper")
    return K.Sequential([K.Input((8,)), inner, deeper, L.Dense(1)])


def _functional_subclass(K):
    """A Model subclass built from inputs and outputs: drawn as a functional model."""
    L = K.layers

    class Tower(K.Model):
        def __init__(self):
            inputs = K.Input((6,))
            outputs = L.Dense(2, activation="softmax")(L.Dense(5, activation="relu")(inputs))
            super().__init__(inputs, outputs, name="tower")

    tower = Tower()
    x = K.Input((6,))
    return K.Model(x, L.Dense(1)(tower(x)))


def _subclassed(K):
    """A subclassed model, called on data: one box, shapes unknown."""
    L = K.layers

    class Net(K.Model):
        def __init__(self):
            super().__init__(name="net")
            self.hidden = L.Dense(2, activation="relu")

        def call(self, x):
            return self.hidden(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    return net


def _dict_nested(K):
    L = K.layers
    zb = K.Input((3,), name="zb")
    ya = K.Input((2,), name="ya", dtype="int32")
    joined = L.Concatenate()([zb, L.Dense(3)(ya)])
    inner = K.Model({"zb": zb, "ya": ya}, {"out": joined, "alt": L.Dense(1)(joined)}, name="fd")
    x1, x2 = K.Input((3,), name="x1"), K.Input((2,), name="x2")
    return K.Model([x1, x2], inner({"zb": x1, "ya": x2}))


def _shared(K):
    L = K.layers
    a, b = K.Input((4,), name="a"), K.Input((4,), name="b")
    dense = L.Dense(4, name="shared")
    return K.Model([a, b], L.Subtract()([dense(a), dense(dense(b))]))


ARCHITECTURES = {
    "sequential": _sequential,
    "conv": _conv,
    "recurrent": _recurrent,
    "branches": _branches,
    "nested": _nested,
    "sequential_in_sequential": _sequential_in_sequential,
    "functional_subclass": _functional_subclass,
    "subclassed": _subclassed,
    "dict_nested": _dict_nested,
    "shared": _shared,
}

ALL_FLAGS = {
    "show_shapes": True,
    "show_dtype": True,
    "show_layer_activations": True,
    "show_trainable": True,
}
OPTIONS = {
    "defaults": {},
    "shapes": {"show_shapes": True},
    "dtype": {"show_dtype": True},
    "activations": {"show_layer_activations": True},
    "trainable": {"show_trainable": True},
    "all_flags": ALL_FLAGS,
    "expand_nested": {"expand_nested": True},
    "expand_nested_all_flags": {"expand_nested": True, **ALL_FLAGS},
    "no_names_lr": {"show_layer_names": False, "rankdir": "LR", "dpi": 96, "splines": "curved"},
    "subgraph": {"subgraph": True, "show_shapes": True},
}

_built: dict = {}


def _pair(keras, arch):
    """The architecture built in Keras and in numpykeras, each after its own clear_session."""
    if arch not in _built:
        keras.backend.clear_session()
        theirs = ARCHITECTURES[arch](keras)
        numpykeras.backend.clear_session()
        ours = ARCHITECTURES[arch](numpykeras)
        _built[arch] = (theirs, ours)
    return _built[arch]


def _all_layers(model):
    found = [model]
    for layer in getattr(model, "_layers", None) or getattr(model, "layers", []):
        found.extend(_all_layers(layer))
    return found


def _source(model, module, options):
    """The Graphviz source of ``model`` with each node id replaced by ``#<layer name>``."""
    names = {str(id(layer)): layer.name for layer in _all_layers(model)}
    text = module.utils.model_to_dot(model, **options).to_string()
    return re.sub(r"\b\d{6,}\b", lambda m: "#" + names.get(m.group(0), "<unknown id>"), text)


# --------------------------------------------------------------------------- model_to_dot


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_model_to_dot_matches_keras(keras, arch, option):
    theirs, ours = _pair(keras, arch)
    expected = _source(theirs, keras, OPTIONS[option])
    got = _source(ours, numpykeras, OPTIONS[option])
    assert "<unknown id>" not in expected + got
    assert got == expected


def test_labels_and_edges_of_a_branching_model(keras):
    """A direct look at what the comparison covers: tables, activation rows, edge set."""
    _, ours = _pair(keras, "branches")
    text = _source(ours, numpykeras, ALL_FLAGS)
    assert "Input shape: <b>[(None, 4), (None, 4)]</b>" in text
    assert "Output dtype: <b>int32</b>" in text
    assert "Activation: <b>sigmoid</b>" in text
    edges = set(re.findall(r"#(\w+) -> #(\w+)", text))
    assert ("concatenate", "add") in edges and ("add", "dense_3") in edges
    assert len(edges) == len(re.findall(r" -> ", text))  # each edge drawn once


def _unbuilt_sequential(K):
    return K.Sequential([K.layers.Dense(2)])


def _uncalled_subclassed(K):
    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.hidden = K.layers.Dense(2)

        def call(self, x):
            return self.hidden(x)

    return Net()


@pytest.mark.parametrize("make", [_unbuilt_sequential, _uncalled_subclassed])
@pytest.mark.parametrize("function", ["model_to_dot", "plot_model"])
def test_unbuilt_model_error_matches_keras(keras, tmp_path, make, function):
    for module in (keras, numpykeras):
        with pytest.raises(ValueError) as info:
            getattr(module.utils, function)(make(module), to_file=str(tmp_path / "m.dot"))
        if module is keras:
            expected = str(info.value)
    assert str(info.value) == expected


@pytest.mark.parametrize(
    "kwargs", [{"layer_range": ["dense", "dense_1"]}, {"show_names": True}], ids=["range", "typo"]
)
def test_bad_keyword_error_matches_keras(keras, kwargs):
    messages = []
    for module in (keras, numpykeras):
        model = _pair(keras, "sequential")[module is numpykeras]
        with pytest.raises(ValueError) as info:
            module.utils.model_to_dot(model, **kwargs)
        messages.append(str(info.value))
    assert messages[1] == messages[0]


# --------------------------------------------------------------------------- clear_session


def _make_named_objects(K):
    L = K.layers
    model = K.Sequential([K.Input((3,)), L.Dense(2), L.Dense(1)])
    functional = K.Model(model.inputs, model.outputs)
    return [
        *(layer.name for layer in model.layers),
        model.name,
        functional.name,
        K.optimizers.Adam().name,
        K.losses.MeanSquaredError().name,
        K.metrics.MeanAbsoluteError().name,
        type("HingeLike", (K.losses.Loss,), {})().name,  # auto-named: "hinge_like", ...
        type("CountLike", (K.metrics.Metric,), {})().name,
        K.random.SeedGenerator(1).name,
    ]


def test_clear_session_resets_names_as_keras(keras):
    from keras.src.utils import rng_utils  # Keras keeps get_random_seed private

    for module in (keras, numpykeras):
        get_random_seed = (
            rng_utils.get_random_seed if module is keras else module.utils.get_random_seed
        )
        module.utils.set_random_seed(5)
        module.backend.clear_session()
        first = _make_named_objects(module)
        second = _make_named_objects(module)
        module.utils.clear_session(free_memory=False)
        again = _make_named_objects(module)
        seed = get_random_seed()
        if module is keras:
            expected = (first, second, again, seed)
    assert (first, second, again, seed) == expected
    assert first == again and first != second
    assert seed is None
