"""How layers and models are called, as in Keras 3 (no TensorFlow).

``Layer.__call__`` passes ``training`` and ``mask`` only to a ``call()`` that takes them, passes
further positional and keyword tensor arguments through (eagerly and in a Functional graph),
and rejects non-tensor positional values; ``Model`` subclasses built from ``inputs`` and
``outputs`` are Functional models; a single-input model takes ``[x]`` wherever it takes ``x``;
data that is not an array (nested lists, strings) gets Keras's "Unrecognized data type" error.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers, models
from numpykeras.layers import layer as layer_module
from numpykeras.models.functional import Functional

_X = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
_Y = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")


# --------------------------------------------------------------------------- custom layers


class Double(layers.Layer):
    """``call`` without ``training``."""

    def call(self, x):
        return x * 2


class CatchAll(layers.Layer):
    """``call`` with ``**kwargs``: records what it received."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.received = []

    def call(self, x, **kwargs):
        self.received.append(dict(kwargs))
        return x


class Masked(layers.Layer):
    """``call`` with a ``mask`` argument: zeroes masked-out samples."""

    def call(self, x, mask=None):
        return x if mask is None else x * mask[:, None]


class Blend(layers.Layer):
    """Two positional tensors: ``x + 2 y``."""

    def call(self, x, y):
        return x + 2 * y


class Scaled(layers.Layer):
    """A keyword tensor and ``training``: records ``training``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trainings = []

    def call(self, x, y=None, training=None):
        self.trainings.append(training)
        return x if y is None else x + 3 * y


class WithDropout(layers.Layer):
    """Calls a Dropout without passing ``training``: it inherits this call's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = layers.Dropout(0.5)

    def call(self, x):
        return self.dropout(x)


class Projection(layers.Layer):
    """``build`` and ``compute_output_shape`` taking one shape per ``call`` argument."""

    def build(self, x_shape, y_shape):
        self.kernel = self.add_weight(
            shape=(x_shape[-1], y_shape[-1]), initializer="glorot_uniform", name="kernel"
        )

    def call(self, x, y):
        return x @ self.kernel.value + y

    def compute_output_shape(self, x_shape, y_shape):
        return y_shape


class FirstColumns(layers.Layer):
    """Changes the shape but has no ``compute_output_shape`` (Keras traces such a layer)."""

    def call(self, x):
        return x[:, :2]


# --------------------------------------------------------------------------- training / mask


def test_call_without_training_argument_gets_no_training():
    layer = Double()
    np.testing.assert_array_equal(layer(_X, training=True), _X * 2)
    np.testing.assert_array_equal(layer(_X, training=False), _X * 2)
    np.testing.assert_array_equal(layer(_X), _X * 2)


def test_custom_layer_without_training_in_sequential_and_functional():
    seq = models.Sequential([layers.Input((4,)), Double(), layers.Dense(3)])
    np.testing.assert_array_equal(seq.predict(_X, verbose=0), seq.layers[1](_X * 2))
    inp = layers.Input((4,))
    model = models.Model(inp, Double()(inp, training=True))
    np.testing.assert_array_equal(model.predict(_X, verbose=0), _X * 2)
    np.testing.assert_array_equal(model(_X), _X * 2)
    model.compile(optimizer="sgd", loss="mse")
    expected = float(np.mean((_X * 2 - _Y) ** 2))
    assert model.evaluate(_X, _Y, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_var_keyword_call_gets_mask_but_not_training():
    # Keras passes `training` only to a call() naming it; `mask` binds to **kwargs.
    layer = CatchAll()
    mask = np.ones(6, dtype=bool)
    layer(_X, training=True)
    layer(_X, mask=mask)
    assert layer.received[0] == {}
    assert list(layer.received[1]) == ["mask"] and layer.received[1]["mask"] is mask


def test_mask_reaches_a_call_with_a_mask_argument():
    mask = np.array([1, 0, 1, 0, 1, 1], dtype="float32")
    np.testing.assert_array_equal(Masked()(_X, mask=mask), _X * mask[:, None])
    np.testing.assert_array_equal(Masked()(_X), _X)


def test_mask_to_a_call_without_mask_raises_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'mask'"):
        Double()(_X, mask=np.ones(6, dtype=bool))
    with pytest.raises(TypeError, match="unexpected keyword argument 'mask'"):
        layers.Dense(2)(_X, mask=np.ones(6, dtype=bool))
    # mask=None is nothing to pass.
    np.testing.assert_array_equal(Double()(_X, mask=None), _X * 2)


def test_symbolic_mask_is_recorded_and_replayed():
    inp, mask_in = layers.Input((4,)), layers.Input(())
    model = models.Model([inp, mask_in], Masked()(inp, mask=mask_in))
    mask = np.array([0, 1, 1, 0, 1, 0], dtype="float32")
    np.testing.assert_array_equal(model.predict([_X, mask], verbose=0), _X * mask[:, None])


def test_training_is_inherited_by_layers_called_inside_a_call():
    layer = WithDropout()
    ones = np.ones((4, 64), dtype="float32")
    nk.utils.set_random_seed(0)
    trained = layer(ones, training=True)
    assert set(np.unique(trained)) == {0.0, 2.0}
    np.testing.assert_array_equal(layer(ones), ones)
    np.testing.assert_array_equal(layer(ones, training=False), ones)


def test_call_signature_is_inspected_once_per_class(monkeypatch):
    made = []
    original = layer_module._CallSignature.__init__

    def counting(self, cls):
        made.append(cls)
        original(self, cls)

    monkeypatch.setattr(layer_module._CallSignature, "__init__", counting)

    class Fresh(layers.Layer):
        def call(self, x):
            return x

    a, b = Fresh(), Fresh()
    for _ in range(3):
        a(_X)
        b(_X, training=True)
    assert made == [Fresh]


# --------------------------------------------------------------------------- several arguments


def test_two_positional_inputs_eagerly():
    np.testing.assert_array_equal(Blend()(_X, _Y), _X + 2 * _Y)
    np.testing.assert_array_equal(Blend()(_X, y=_Y), _X + 2 * _Y)


def test_keyword_tensor_and_training_eagerly():
    layer = Scaled()
    np.testing.assert_array_equal(layer(_X, _Y, training=True), _X + 3 * _Y)
    np.testing.assert_array_equal(layer(_X, y=_Y), _X + 3 * _Y)
    np.testing.assert_array_equal(layer(_X), _X)
    assert layer.trainings == [True, None, None]


def test_inputs_by_keyword():
    layer = layers.Dense(2)
    out = layer(inputs=_X)
    np.testing.assert_array_equal(out, layer(_X))
    with pytest.raises(TypeError, match="missing a required argument: 'inputs'"):
        layers.Dense(2)()


@pytest.mark.parametrize(
    "call",
    [
        lambda: Scaled()(_X, 3.0),
        lambda: layers.Activation("relu")(3.0),
        lambda: layers.Dense(2)([[1.0, 2.0]]),
        lambda: layers.Add()([[1.0, 2.0], [3.0, 4.0]]),
    ],
    ids=["second_argument", "scalar_input", "nested_list_input", "list_of_lists"],
)
def test_positional_python_numbers_raise_keras_error(call):
    with pytest.raises(ValueError, match="Only input tensors may be passed as positional"):
        call()


def test_two_positional_symbolic_inputs_replay_in_the_graph():
    a, b = layers.Input((4,)), layers.Input((4,))
    blend = Blend()
    out = blend(a, b)
    node = blend._inbound_nodes[0]
    assert node.call_args is a and node.extra_args == (b,) and node.input_tensors == [a, b]
    model = models.Model([a, b], out)
    np.testing.assert_array_equal(model.predict([_X, _Y], verbose=0), _X + 2 * _Y)
    np.testing.assert_array_equal(model([_X, _Y]), _X + 2 * _Y)


def test_keyword_tensor_symbolic_input_replays_in_the_graph():
    a, b = layers.Input((4,)), layers.Input((4,))
    model = models.Model([a, b], Scaled()(a, y=b))
    np.testing.assert_array_equal(model.predict([_X, _Y], verbose=0), _X + 3 * _Y)


def test_several_arguments_survive_a_config_round_trip():
    a, b = layers.Input((4,)), layers.Input((4,))
    h = Blend(name="blend")(a, b)
    out = Scaled(name="scaled")(a, y=h)
    model = models.Model([a, b], out)
    config = model.get_config()
    blend_node = next(e for e in config["layers"] if e["name"] == "blend")["inbound_nodes"][0]
    assert len(blend_node["args"]) == 2  # Keras's layout: one entry per positional argument
    scaled_node = next(e for e in config["layers"] if e["name"] == "scaled")["inbound_nodes"][0]
    assert scaled_node["kwargs"]["y"]["class_name"] == "__keras_tensor__"
    clone = models.Model.from_config(config, custom_objects={"Blend": Blend, "Scaled": Scaled})
    np.testing.assert_array_equal(
        clone.predict([_X, _Y], verbose=0), model.predict([_X, _Y], verbose=0)
    )


def test_build_and_output_shape_with_one_shape_per_argument():
    layer = Projection()
    out = layer(_X, _Y[:, :3])
    assert out.shape == (6, 3) and layer.kernel.shape == (4, 3)
    # Keras's format: several shapes go under "shapes_dict"; built by an eager call, the
    # call's shapes, batch size included (as Keras records them).
    assert layer.get_build_config() == {"shapes_dict": {"x_shape": (6, 4), "y_shape": (6, 3)}}
    a, b = layers.Input((4,)), layers.Input((3,))
    symbolic = Projection()(a, b)
    assert symbolic.shape == (None, 3)
    model = models.Model([a, b], symbolic)
    assert model.compute_output_shape([(5, 4), (5, 3)]) == (5, 3)
    rebuilt = Projection()
    rebuilt.build_from_config(layer.get_build_config())
    assert rebuilt.kernel.shape == (4, 3)
    assert rebuilt.get_build_config() == layer.get_build_config()


@pytest.mark.parametrize(
    "config",
    [
        {"shapes_dict": {"x_shape": [None, 4], "y_shape": [None, 3]}},  # Keras's (from JSON)
        {"x_shape": [None, 4], "y_shape": [None, 3]},  # earlier numpykeras versions' flat form
    ],
    ids=["keras", "flat"],
)
def test_build_from_config_reads_keras_and_flat_several_shape_forms(config):
    rebuilt = Projection()
    rebuilt.build_from_config(config)
    assert rebuilt.built and rebuilt.kernel.shape == (4, 3)
    assert rebuilt.get_build_config() == {
        "shapes_dict": {"x_shape": (None, 4), "y_shape": (None, 3)}
    }


def test_single_given_shape_of_a_several_shape_build_is_saved_as_input_shape():
    class Optional(layers.Layer):
        def build(self, x_shape, y_shape=None):
            self.kernel = self.add_weight(shape=(x_shape[-1], 2))

        def call(self, x, y=None):
            return x @ self.kernel

    layer = Optional()
    layer(_X)
    assert layer.get_build_config() == {"input_shape": (6, 4)}  # the eager call's shape
    rebuilt = Optional()
    rebuilt.build_from_config({"input_shape": [None, 4]})
    assert rebuilt.kernel.shape == (4, 2)


def test_build_with_unmatched_shape_argument_raises():
    class Bad(layers.Layer):
        def build(self, x_shape, z_shape):
            pass

        def call(self, x, y):
            return x

    with pytest.raises(ValueError, match="`build\\(\\)` argument `z_shape`"):
        Bad()(_X, _Y)


def test_output_shape_of_a_layer_without_compute_output_shape_is_traced():
    inp = layers.Input((4,))
    cut = FirstColumns()(inp)
    assert cut.shape == (None, 2)
    model = models.Model(inp, layers.Dense(3)(cut))
    assert model.predict(_X, verbose=0).shape == (6, 3)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 2)" in "\n".join(lines)


# --------------------------------------------------------------------------- Model subclasses


class _FunctionalSubclass(models.Model):
    def __init__(self, units=3, **kwargs):
        inputs = layers.Input((4,))
        outputs = layers.Dense(units, activation="softmax", name="head")(inputs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.units = units


class _PlainSubclass(models.Model):
    pass


def test_model_subclass_with_inputs_and_outputs_is_functional():
    model = _FunctionalSubclass(name="sub")
    assert isinstance(model, Functional) and isinstance(model, _FunctionalSubclass)
    assert model.name == "sub" and model.units == 3
    reference = models.Model(model.inputs, model.outputs)
    np.testing.assert_array_equal(model.predict(_X, verbose=0), reference.predict(_X, verbose=0))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "sub"' in text and "head (Dense)" in text and "15" in text


@pytest.mark.parametrize("style", ["positional", "keyword", "mixed"])
def test_model_subclass_called_with_inputs_and_outputs(style):
    inp = layers.Input((4,))
    out = layers.Dense(2)(inp)
    if style == "positional":
        model = _PlainSubclass(inp, out)
    elif style == "keyword":
        model = _PlainSubclass(inputs=inp, outputs=out)
    else:
        model = _PlainSubclass(inp, outputs=out)
    assert isinstance(model, Functional) and isinstance(model, _PlainSubclass)
    np.testing.assert_array_equal(model.predict(_X, verbose=0), model.layers[1](_X))


def test_model_with_only_inputs_raises():
    with pytest.raises(TypeError, match="needs both `inputs` and `outputs`"):
        models.Model(layers.Input((4,)))


def test_functional_model_takes_one_inputs_argument():
    inp = layers.Input((4,))
    model = models.Model(inp, layers.Dense(2)(inp))
    with pytest.raises(TypeError, match="takes its inputs as one argument"):
        model(_X, _X)
    np.testing.assert_array_equal(model(inputs=_X), model(_X))


# --------------------------------------------------------------------------- [x] for x


def _single_input_models():
    nk.utils.set_random_seed(3)
    seq = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    inp = layers.Input((4,))
    func = models.Model(inp, layers.Dense(3, activation="softmax")(inp))
    return {"sequential": seq, "functional": func}


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("wrap", [list, tuple], ids=["list", "tuple"])
def test_single_input_model_accepts_a_one_element_list(kind, wrap):
    model = _single_input_models()[kind]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    y = np.eye(3, dtype="float32")[np.arange(6) % 3]
    expected = model.predict(_X, verbose=0)
    np.testing.assert_array_equal(model.predict(wrap([_X]), verbose=0), expected)
    np.testing.assert_array_equal(model(wrap([_X])), expected)
    np.testing.assert_array_equal(model.predict_on_batch(wrap([_X])), expected)
    loss = model.evaluate(_X, y, verbose=0)
    assert model.evaluate(wrap([_X]), y, verbose=0) == loss
    assert model.evaluate(_X, wrap([y]), verbose=0) == loss
    assert model.test_on_batch(wrap([_X]), wrap([y])) == loss


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_fit_with_wrapped_x_and_y_trains_as_with_arrays(kind):
    y = np.eye(3, dtype="float32")[np.arange(6) % 3]
    results = []
    for x_arg, y_arg in ((_X, y), ([_X], [y]), ((_X,), (y,))):
        model = _single_input_models()[kind]
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        history = model.fit(x_arg, y_arg, batch_size=3, shuffle=False, verbose=0)
        model.train_on_batch(x_arg, y_arg)
        results.append((history.history["loss"], model.get_weights()))
    for losses, weights in results[1:]:
        assert losses == results[0][0]
        for w, w0 in zip(weights, results[0][1]):
            np.testing.assert_array_equal(w, w0)


def test_single_input_model_rejects_a_list_of_several_arrays():
    model = _single_input_models()["sequential"]
    with pytest.raises(ValueError, match="has 1 input, but `x` is a list of 2 arrays"):
        model.predict([_X, _X], verbose=0)
    with pytest.raises(ValueError, match="expects 1 input\\(s\\), but it received 2"):
        model([_X, _X])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="single output, but `y` is a list of 2 arrays"):
        model.fit(_X, [_Y[:, :3], _Y[:, :3]], verbose=0)


# --------------------------------------------------------------------------- data types


class _ArrayLike:
    """An object NumPy converts through ``__array__`` (as a pandas DataFrame)."""

    def __init__(self, array):
        self._array = array
        self.shape = array.shape

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __len__(self):
        return len(self._array)


def test_array_likes_are_converted():
    model = _single_input_models()["functional"]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    y = np.eye(3, dtype="float32")[np.arange(6) % 3]
    expected = model.predict(_X, verbose=0)
    np.testing.assert_array_equal(model.predict(_ArrayLike(_X), verbose=0), expected)
    loss = model.evaluate(_X, y, verbose=0)
    assert model.evaluate(_ArrayLike(_X), _ArrayLike(y), verbose=0) == loss


@pytest.mark.parametrize(
    "method", ["predict", "fit", "evaluate", "train_on_batch", "test_on_batch", "predict_on_batch"]
)
def test_nested_python_lists_get_keras_unrecognized_data_type(method):
    model = _single_input_models()["sequential"]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    y = np.eye(3, dtype="float32")[np.arange(6) % 3]
    kwargs = {"verbose": 0} if method in ("predict", "fit", "evaluate") else {}
    args = (_X.tolist(),) if method.startswith("predict") else (_X.tolist(), y)
    with pytest.raises(ValueError, match=r"Unrecognized data type: x=\[\[.*of type <class 'list'>"):
        getattr(model, method)(*args, **kwargs)


def test_unrecognized_targets_name_y():
    model = _single_input_models()["sequential"]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"Unrecognized data type: y=\[0, 1, 2.*np.asarray\(y\)"):
        model.fit(_X, [0, 1, 2, 0, 1, 2], verbose=0)
    with pytest.raises(ValueError, match=r"Unrecognized data type: x=\(0\.5, 1\.5\)"):
        model.predict((0.5, 1.5), verbose=0)
    with pytest.raises(
        ValueError, match=r"Unrecognized data type: x=abc \(of type <class 'str'>\)"
    ):
        model.predict("abc", verbose=0)


def test_further_arguments_are_cast_like_keras_floating_only():
    seen = []

    class Probe(layers.Layer):
        def call(self, x, y, index=None):
            seen.append((y.dtype, index.dtype))
            return x

    Probe()(_X, _Y.astype("float64"), index=np.arange(6))
    assert seen == [(np.dtype("float32"), np.arange(6).dtype)]


def test_a_layer_that_cannot_be_traced_warns_and_keeps_its_input_shape():
    class Fragile(layers.Layer):
        def call(self, x):
            if not np.any(x):
                raise RuntimeError("needs data")
            return x

    inp = layers.Input((4,))
    with pytest.warns(UserWarning, match=r"has no `compute_output_shape\(\)`.*needs data"):
        out = Fragile()(inp)
    assert out.shape == (None, 4)
    model = models.Model(inp, out)
    np.testing.assert_array_equal(model.predict(_X + 10, verbose=0), _X + 10)
