"""Calling conventions against Keras 3: the same custom layers and models, the same results.

Custom layers are defined once per library (a factory taking the module), with the weights of
Keras's copy given to ours. Covered: a ``call(self, x)`` without ``training``, a ``**kwargs``
call (what reaches it), ``training`` inherited by layers called inside a ``call``, two
positional tensors and a keyword tensor (eagerly and in a Functional graph), a ``Model``
subclass built from ``inputs``/``outputs``, ``[x]`` for ``x``, the errors for Python numbers,
and ``evaluate`` of a saturated softmax/sigmoid (computed from the logits in both libraries).
"""

import numpy as np
import pytest

import numpykeras as nk

from tolerances import LOSS_ATOL, LOSS_RTOL, assert_close, assert_forward_close

_RNG = np.random.default_rng(21)
X = _RNG.normal(size=(10, 4)).astype("float32")
Z = _RNG.normal(size=(10, 4)).astype("float32")


def custom_layers(m):
    """The custom layers of this module, written against ``m`` (keras or numpykeras)."""

    class Scale(m.layers.Layer):
        """A weight, and a ``call`` without ``training``."""

        def build(self, input_shape):
            self.scale = self.add_weight(
                shape=(input_shape[-1],), initializer="random_normal", name="scale"
            )

        def call(self, x):
            return x * self.scale

        def compute_output_shape(self, input_shape):
            return input_shape

    class Blend(m.layers.Layer):
        """Two positional tensors."""

        def call(self, x, y):
            return x + 2 * y

        def compute_output_shape(self, input_shape):
            return input_shape

    class Shift(m.layers.Layer):
        """A keyword tensor and ``training``."""

        def call(self, x, offset=None, training=None):
            return x if offset is None else x - 3 * offset

        def compute_output_shape(self, input_shape):
            return input_shape

    class Recorder(m.layers.Layer):
        """Writes down the keyword arguments its ``**kwargs`` ``call`` received."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def call(self, x, **kwargs):
            self.seen.append(sorted(kwargs))
            return x

    class TrainingProbe(m.layers.Layer):
        """Writes down the ``training`` value it gets."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def call(self, x, training=None):
            self.seen.append(training)
            return x

    class Outer(m.layers.Layer):
        """Calls an inner layer without passing ``training``."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.probe = TrainingProbe()

        def call(self, x):
            return self.probe(x)

    return {
        "Scale": Scale,
        "Blend": Blend,
        "Shift": Shift,
        "Recorder": Recorder,
        "Outer": Outer,
    }


def _copy_weights(keras_model, nk_model):
    nk_model.set_weights(keras_model.get_weights())


# --------------------------------------------------------------------------- custom layers


def test_call_without_training_in_a_functional_model(keras):
    models = []
    for m in (keras, nk):
        m.utils.set_random_seed(0)
        scale = custom_layers(m)["Scale"]
        inp = m.Input((4,))
        h = scale(name="scale")(inp, training=True)
        out = m.layers.Dense(3, activation="softmax", name="head")(h)
        models.append(m.Model(inp, out))
    k_model, n_model = models
    _copy_weights(k_model, n_model)
    assert_forward_close(n_model.predict(X, verbose=0), k_model.predict(X, verbose=0))
    assert_forward_close(np.asarray(n_model(X, training=True)), k_model(X, training=True))
    layer_k, layer_n = k_model.get_layer("scale"), n_model.get_layer("scale")
    assert_forward_close(layer_n(X, training=True), layer_k(X, training=True))


def test_var_keyword_call_receives_what_keras_passes(keras):
    seen = []
    for m in (keras, nk):
        layer = custom_layers(m)["Recorder"]()
        layer(X, training=True)
        layer(X)
        layer(X, mask=np.ones(10, dtype=bool))
        seen.append(layer.seen)
    assert seen[1] == seen[0]


def test_training_is_inherited_by_inner_layers(keras):
    seen = []
    for m in (keras, nk):
        outer = custom_layers(m)["Outer"]()
        outer(X)  # Keras traces a layer with sub-layers once to build it
        outer.probe.seen.clear()
        outer(X, training=True)
        outer(X, training=False)
        outer(X)
        seen.append(outer.probe.seen)
    assert seen[1] == seen[0]


def test_two_positional_inputs_and_a_keyword_tensor(keras):
    outputs = []
    for m in (keras, nk):
        layers = custom_layers(m)
        a, b = m.Input((4,)), m.Input((4,))
        blended = layers["Blend"]()(a, b)
        shifted = layers["Shift"]()(blended, offset=a)
        model = m.Model([a, b], shifted)
        eager = layers["Shift"]()(layers["Blend"]()(X, Z), offset=X)
        outputs.append((model.predict([X, Z], verbose=0), np.asarray(eager)))
    (k_graph, k_eager), (n_graph, n_eager) = outputs
    assert_forward_close(n_graph, k_graph)
    assert_forward_close(n_eager, k_eager)


def test_python_numbers_as_positional_arguments_raise_as_in_keras(keras):
    messages = []
    for m in (keras, nk):
        with pytest.raises(ValueError) as info:
            custom_layers(m)["Blend"]()(X, 2.0)
        messages.append(str(info.value))
    assert messages[1] == messages[0]


# --------------------------------------------------------------------------- models


def classifier_class(m):
    """A ``Model`` subclass whose ``__init__`` builds a graph and passes ``inputs``/``outputs``."""

    class Classifier(m.Model):
        def __init__(self, units, **kwargs):
            inputs = m.Input((4,))
            hidden = m.layers.Dense(6, activation="relu", name="hidden")(inputs)
            outputs = m.layers.Dense(units, activation="softmax", name="head")(hidden)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    return Classifier


def test_model_subclass_built_from_inputs_and_outputs(keras):
    built = []
    for m in (keras, nk):
        Classifier = classifier_class(m)
        m.utils.set_random_seed(1)
        model = Classifier(3, name="classifier")
        built.append(model)
    k_model, n_model = built
    assert n_model.name == k_model.name
    assert n_model.count_params() == k_model.count_params()
    assert [layer.name for layer in n_model.layers] == [layer.name for layer in k_model.layers]
    _copy_weights(k_model, n_model)
    assert_forward_close(n_model.predict(X, verbose=0), k_model.predict(X, verbose=0))


@pytest.mark.parametrize("wrap", [list, tuple], ids=["list", "tuple"])
def test_one_element_list_for_a_single_input_model(keras, wrap):
    y = np.eye(3, dtype="float32")[np.arange(10) % 3]
    results = []
    for m in (keras, nk):
        m.utils.set_random_seed(2)
        model = m.Sequential([m.Input((4,)), m.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        results.append(model)
    k_model, n_model = results
    _copy_weights(k_model, n_model)
    assert_forward_close(
        n_model.predict(wrap([X]), verbose=0), k_model.predict(wrap([X]), verbose=0)
    )
    assert_close(
        n_model.evaluate(wrap([X]), wrap([y]), verbose=0),
        k_model.evaluate(wrap([X]), wrap([y]), verbose=0),
        LOSS_ATOL,
        LOSS_RTOL,
        "evaluate([x], [y])",
    )


def test_nested_python_lists_are_rejected_as_in_keras(keras):
    for m in (keras, nk):
        model = m.Sequential([m.Input((4,)), m.layers.Dense(3)])
        with pytest.raises(ValueError, match=r"^Unrecognized data type: x=\[\["):
            model.predict(X.tolist(), verbose=0)


# --------------------------------------------------------------------------- logits in evaluate


@pytest.mark.parametrize(
    "loss", ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"]
)
@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_evaluate_of_a_saturated_output_matches_keras(keras, loss, kind):
    units = 1 if loss == "binary_crossentropy" else 3
    activation = "sigmoid" if units == 1 else "softmax"
    labels = np.arange(10) % (2 if units == 1 else 3)
    if loss == "categorical_crossentropy":
        y = np.eye(3, dtype="float32")[labels]
    elif loss == "binary_crossentropy":
        y = labels.astype("float32")[:, None]
    else:
        y = labels
    kernel = _RNG.normal(size=(4, units)).astype("float32") * 1000  # probabilities are 0 or 1
    weights = [kernel, np.zeros(units, "float32")]
    losses = []
    for m in (keras, nk):
        if kind == "sequential":
            model = m.Sequential([m.Input((4,)), m.layers.Dense(units, activation=activation)])
        else:
            inp = m.Input((4,))
            model = m.Model(inp, m.layers.Dense(units, activation=activation)(inp))
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss=loss)
        losses.append((model.evaluate(X, y, verbose=0), model.test_on_batch(X, y)))
    (k_eval, k_batch), (n_eval, n_batch) = losses
    assert k_eval > 100  # from the logits: clipped probabilities give at most 16.1
    assert_close(n_eval, k_eval, LOSS_ATOL, LOSS_RTOL, "evaluate")
    assert_close(n_batch, k_batch, LOSS_ATOL, LOSS_RTOL, "test_on_batch")


def test_evaluate_of_saturated_outputs_of_a_two_output_model_matches_keras(keras):
    y_a = np.eye(3, dtype="float32")[np.arange(10) % 3]
    y_b = (np.arange(10) % 2).astype("float32")[:, None]
    results = []
    for m in (keras, nk):
        m.utils.set_random_seed(3)
        inp = m.Input((4,))
        hidden = m.layers.Dense(5, activation="relu", name="hidden")(inp)
        out_a = m.layers.Dense(3, activation="softmax", name="a")(hidden)
        out_b = m.layers.Dense(1, activation="sigmoid", name="b")(hidden)
        model = m.Model(inp, [out_a, out_b])
        model.compile(optimizer="sgd", loss=["categorical_crossentropy", "binary_crossentropy"])
        results.append(model)
    k_model, n_model = results
    k_model.set_weights([w * 300 for w in k_model.get_weights()])
    _copy_weights(k_model, n_model)
    k_logs = k_model.evaluate(X, [y_a, y_b], verbose=0, return_dict=True)
    n_logs = n_model.evaluate(X, [y_a, y_b], verbose=0, return_dict=True)
    assert sorted(n_logs) == sorted(k_logs)
    assert k_logs["a_loss"] > 100
    for key in k_logs:
        assert_close(n_logs[key], k_logs[key], LOSS_ATOL, LOSS_RTOL, key)


def test_class_weight_loss_matches_keras(keras):
    labels = np.arange(10) % 3
    results = []
    for m in (keras, nk):
        m.utils.set_random_seed(4)
        model = m.Sequential([m.Input((4,)), m.layers.Dense(3, activation="softmax")])
        model.compile(
            optimizer=m.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy"
        )
        results.append(model)
    k_model, n_model = results
    _copy_weights(k_model, n_model)
    class_weight = {0: 0.5, 2: 4.0}  # class 1 absent: weight 1
    assert_close(
        n_model.train_on_batch(X, labels, class_weight=class_weight),
        k_model.train_on_batch(X, labels, class_weight=class_weight),
        LOSS_ATOL,
        LOSS_RTOL,
        "train_on_batch with class_weight",
    )
