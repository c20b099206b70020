"""Functional models built in Keras 3 and in numpykeras: same graph, same weights, same results.

Each case builds one graph in both libraries (same layer and model names), copies Keras's initial
weights into ours with ``get_weights``/``set_weights``, and compares the predictions before
training, then ONE epoch of ``fit`` (``shuffle=False``, a short last batch): ``history.history``
(same keys, same values), the final weights, ``evaluate`` (Keras's list order and the dict) and
``predict``. Graphs: branches and merges, a shared layer, nested models (a Sequential and a
Functional used as layers), two outputs (losses as a list or a dict, loss weights, per-output
metrics and sample weights, a dict of outputs) and two inputs. Also feature extraction through
``model.get_layer(name).output`` and the ``summary()`` text of a branching model.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

from error_bounds import output_sigmas
from tolerances import TRAINING_ATOL, TRAINING_RTOL, assert_close, assert_sigma_close

N_TRAIN = 40  # batch 16: batches of 16, 16 and 8
N_VAL = 12
NUM_CLASSES = 3


# --------------------------------------------------------------------------- graphs


def branches_and_merges(m):
    """Two branches added, concatenated with the input (a skip), then a softmax head."""
    layers = m.layers
    inp = m.Input((8,), name="features")
    a = layers.Dense(6, activation="relu", name="branch_a")(inp)
    b = layers.Dense(6, activation="tanh", name="branch_b")(inp)
    added = layers.Add(name="add")([a, b])
    merged = layers.Concatenate(name="concat")([added, inp])
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="head")(merged)
    return m.Model(inp, out, name="branching")


def shared_layer(m):
    """One Dense layer applied to two different tensors; its gradients from both uses add up."""
    layers = m.layers
    inp = m.Input((8,), name="features")
    left = layers.Dense(5, activation="relu", name="left")(inp)
    right = layers.Dense(5, activation="sigmoid", name="right")(inp)
    shared = layers.Dense(4, activation="tanh", name="shared")
    merged = layers.Concatenate(name="concat")([shared(left), shared(right)])
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="head")(merged)
    return m.Model(inp, out, name="shared_model")


def nested_models(m):
    """A Sequential and a Functional model used as layers inside a Functional model."""
    layers = m.layers
    inner_seq = m.Sequential(
        [
            m.Input((6,), name="seq_in"),
            layers.Dense(5, activation="relu", name="seq_dense_1"),
            layers.Dense(4, activation="tanh", name="seq_dense_2"),
        ],
        name="inner_sequential",
    )
    inner_in = m.Input((8,), name="fn_in")
    inner_hidden = layers.Dense(4, activation="relu", name="fn_dense")(inner_in)
    inner_fn = m.Model(
        inner_in,
        layers.Concatenate(name="fn_concat")([inner_hidden, inner_in]),
        name="inner_functional",
    )
    inp = m.Input((8,), name="features")
    first = layers.Dense(6, activation="relu", name="first")(inp)
    merged = layers.Concatenate(name="concat")([inner_seq(first), inner_fn(inp)])
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="head")(merged)
    return m.Model(inp, out, name="nested")


def two_inputs(m):
    layers = m.layers
    a = m.Input((5,), name="input_a")
    b = m.Input((3,), name="input_b")
    ha = layers.Dense(4, activation="relu", name="dense_a")(a)
    hb = layers.Dense(4, activation="relu", name="dense_b")(b)
    merged = layers.Concatenate(name="concat")([ha, hb])
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="head")(merged)
    return m.Model([a, b], out, name="two_inputs")


def two_outputs(m, as_dict=False):
    """A softmax classification head and a linear regression head on a shared trunk."""
    layers = m.layers
    inp = m.Input((8,), name="features")
    trunk = layers.Dense(8, activation="relu", name="trunk")(inp)
    label = layers.Dense(NUM_CLASSES, activation="softmax", name="label")(trunk)
    value = layers.Dense(2, name="value")(layers.Dense(4, activation="tanh", name="pre")(trunk))
    # Dict keys different from the layer names, not in sorted order.
    outputs = {"z_class": label, "a_reg": value} if as_dict else [label, value]
    return m.Model(inp, outputs, name="two_outputs")


# --------------------------------------------------------------------------- data


def fine_tuning(m):
    """The transfer-learning idiom: a base model called with ``training=False``, so during
    ``fit`` its BatchNormalization normalizes with (and keeps) its moving statistics while its
    other weights still train."""
    layers = m.layers
    base_in = m.Input((8,), name="base_in")
    h = layers.Dense(6, name="base_dense")(base_in)
    h = layers.BatchNormalization(name="base_bn")(h)
    base = m.Model(base_in, layers.Activation("relu", name="base_relu")(h), name="base")
    inp = m.Input((8,), name="features")
    z = base(inp, training=False)
    out = layers.Dense(NUM_CLASSES, activation="softmax", name="head")(z)
    return m.Model(inp, out, name="fine_tuning")


def _features(seed, n, dim=8):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype("float32")


def _labels(seed, n):
    return np.random.default_rng(seed + 100).integers(0, NUM_CLASSES, size=n)


def _regression_targets(seed, n):
    return np.random.default_rng(seed + 200).normal(size=(n, 2)).astype("float32")


# --------------------------------------------------------------------------- comparisons


def _close(actual, expected, what):
    assert_close(actual, expected, TRAINING_ATOL, TRAINING_RTOL, what)


def _flat_predictions(pred):
    """Predictions as ``[(key, array)]`` (a dict by key, a list by position)."""
    if isinstance(pred, dict):
        return sorted(pred.items())
    if isinstance(pred, (list, tuple)):
        return list(enumerate(pred))
    return [(None, pred)]


def _compare_predictions(ours, theirs, keras_model, x, check=None):
    """Same structure, and values within their float32 error bounds propagated through
    ``keras_model`` on ``x`` (error_bounds.py), or by ``check(actual, expected, what)``."""
    if check is None:
        sigmas = _flat_predictions(output_sigmas(keras_model, x))
    assert type(ours) is type(theirs) or (
        isinstance(ours, (list, tuple)) and isinstance(theirs, (list, tuple))
    )
    ours_flat, theirs_flat = _flat_predictions(ours), _flat_predictions(theirs)
    assert [k for k, _ in ours_flat] == [k for k, _ in theirs_flat]
    for i, ((key, a), (_, b)) in enumerate(zip(ours_flat, theirs_flat)):
        b = np.asarray(b)
        assert a.dtype == np.float32 and a.shape == b.shape, key
        if check is None:
            assert_sigma_close(a, b, sigmas[i][1], f"prediction {key}")
        else:
            check(a, b, f"prediction {key}")


def _pair(keras, build):
    """(numpykeras model, Keras model) from fresh name counters, Keras's weights copied."""
    keras.backend.clear_session()
    clear_session()
    theirs = build(keras)
    ours = build(nk)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [v.shape for v in ours.weights] == [tuple(v.shape) for v in theirs.weights]
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _train_and_compare(keras, build, compile_args, x, y, val, fit_kwargs=None, eval_kwargs=None):
    """Forward before training, then one epoch: history, weights, evaluate and predict."""
    ours, theirs = _pair(keras, build)
    _compare_predictions(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), theirs, x)
    theirs.compile(**compile_args(keras))
    ours.compile(**compile_args(nk))
    fit_kwargs = {
        "epochs": 1,
        "batch_size": 16,
        "shuffle": False,
        "verbose": 0,
        "validation_data": val,
        **(fit_kwargs or {}),
    }
    k_history = theirs.fit(x, y, **fit_kwargs)
    history = ours.fit(x, y, **fit_kwargs)
    assert list(history.history) == sorted(k_history.history)
    for key, values in k_history.history.items():
        assert all(isinstance(v, float) for v in history.history[key]), key
        _close(history.history[key], values, f"history[{key!r}]")
    assert len(ours.weights) == len(theirs.weights)
    for variable, k_var in zip(ours.weights, theirs.weights):
        _close(variable.numpy(), k_var.numpy(), f"weight {variable.path}")

    vx, vy = val[0], val[1]
    eval_kwargs = eval_kwargs or {}
    k_list = theirs.evaluate(vx, vy, verbose=0, **eval_kwargs)
    ours_list = ours.evaluate(vx, vy, verbose=0, **eval_kwargs)
    assert type(ours_list) is type(k_list)
    _close(ours_list, k_list, "evaluate() list")
    k_dict = theirs.evaluate(vx, vy, verbose=0, return_dict=True, **eval_kwargs)
    ours_dict = ours.evaluate(vx, vy, verbose=0, return_dict=True, **eval_kwargs)
    assert sorted(ours_dict) == sorted(k_dict)
    for key in k_dict:
        _close(ours_dict[key], k_dict[key], f"evaluate()[{key!r}]")
    _compare_predictions(
        ours.predict(vx, verbose=0), theirs.predict(vx, verbose=0), None, None, _close
    )
    return ours, theirs, history


def _classifier_compile(m):
    return {
        "optimizer": m.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    }


# --------------------------------------------------------------------------- single-output graphs


@pytest.mark.parametrize(
    "build",
    [branches_and_merges, shared_layer, nested_models, fine_tuning],
    ids=lambda f: f.__name__,
)
def test_single_input_graph_trains_as_keras(keras, build):
    x, y = _features(0, N_TRAIN), _labels(0, N_TRAIN)
    val = (_features(1, N_VAL), _labels(1, N_VAL))
    _, _, history = _train_and_compare(keras, build, _classifier_compile, x, y, val)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


@pytest.mark.parametrize("data_as", ["list", "dict"])
def test_two_inputs_train_as_keras(keras, data_as):
    def inputs(seed, n):
        a, b = _features(seed, n, 5), _features(seed + 1, n, 3)
        return [a, b] if data_as == "list" else {"input_b": b, "input_a": a}

    x, y = inputs(0, N_TRAIN), _labels(0, N_TRAIN)
    val = (inputs(1, N_VAL), _labels(1, N_VAL))
    _train_and_compare(keras, two_inputs, _classifier_compile, x, y, val)


# --------------------------------------------------------------------------- two outputs


def _two_output_compile_list(m):
    return {
        "optimizer": m.optimizers.Adam(learning_rate=0.01),
        "loss": ["sparse_categorical_crossentropy", "mse"],
        "loss_weights": [1.0, 0.5],
        "metrics": [["accuracy"], ["mae", "mse"]],
    }


def _two_output_compile_dict(m):
    return {
        "optimizer": m.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        "loss": {"value": "mse", "label": "sparse_categorical_crossentropy"},
        "loss_weights": {"label": 2.0, "value": 0.25},
        "metrics": {"label": ["accuracy", "sparse_categorical_crossentropy"], "value": "mae"},
        "weighted_metrics": {"value": ["mse"]},
    }


def _two_output_data(seed, n, as_dict=False):
    x = _features(seed, n)
    labels, values = _labels(seed, n), _regression_targets(seed, n)
    return x, ({"z_class": labels, "a_reg": values} if as_dict else [labels, values])


@pytest.mark.parametrize(
    "compile_args", [_two_output_compile_list, _two_output_compile_dict], ids=["list", "dict"]
)
def test_two_outputs_train_as_keras(keras, compile_args):
    x, y = _two_output_data(0, N_TRAIN)
    val = _two_output_data(1, N_VAL)
    if compile_args is _two_output_compile_dict:
        # Targets as a dict keyed by output (layer) name, in no particular order.
        y = {"value": y[1], "label": y[0]}
        val = (val[0], {"value": val[1][1], "label": val[1][0]})
    _, _, history = _train_and_compare(keras, two_outputs, compile_args, x, y, val)
    assert "label_loss" in history.history and "val_value_loss" in history.history


def test_two_outputs_sample_weights_as_keras(keras):
    """Per-output sample weights (a list, as the targets) and weighted metrics; in validation,
    one sample-weight array for both outputs."""
    rng = np.random.default_rng(7)
    x, y = _two_output_data(0, N_TRAIN)
    weights = [rng.uniform(0.2, 2.0, N_TRAIN).astype("float32") for _ in range(2)]
    vx, vy = _two_output_data(1, N_VAL)
    vweights = rng.uniform(0.2, 2.0, N_VAL).astype("float32")  # one array for both outputs
    val = (vx, vy, vweights)

    def compile_args(m):
        return {
            "optimizer": m.optimizers.SGD(learning_rate=0.05),
            "loss": ["sparse_categorical_crossentropy", "mse"],
            "weighted_metrics": [["accuracy"], ["mae"]],
        }

    _train_and_compare(
        keras,
        two_outputs,
        compile_args,
        x,
        y,
        val,
        fit_kwargs={"sample_weight": weights},
        eval_kwargs={"sample_weight": vweights},
    )


# The second model trains one output only: both libraries warn about the other's weights.
@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")
def test_dict_of_outputs_trains_as_keras(keras):
    """``outputs={...}``: losses and metrics keyed by the dict keys, log keys from them, a loss
    list in Keras's flat (sorted-key) order, and evaluate's order of the per-output losses."""

    def build(m):
        return two_outputs(m, as_dict=True)

    def compile_args(m):
        return {
            "optimizer": m.optimizers.Adam(learning_rate=0.01),
            # Sorted keys: a_reg, z_class.
            "loss": ["mse", "sparse_categorical_crossentropy"],
            "loss_weights": [0.5, 1.5],
            "metrics": {"z_class": ["accuracy"], "a_reg": ["mae"]},
        }

    x, y = _two_output_data(0, N_TRAIN, as_dict=True)
    val = _two_output_data(1, N_VAL, as_dict=True)
    ours, theirs, history = _train_and_compare(keras, build, compile_args, x, y, val)
    assert "z_class_accuracy" in history.history and "a_reg_loss" in history.history
    assert ours.output_names == theirs.output_names == ["value", "label"]

    def dict_loss(m):
        return {
            **compile_args(m),
            "loss": {"z_class": "sparse_categorical_crossentropy"},
            "loss_weights": None,
        }

    # Only one output trained: no per-output loss logs; a metric on the other output still runs.
    _, _, history = _train_and_compare(keras, build, dict_loss, x, y, val)
    assert list(history.history) == [
        "a_reg_mae",
        "loss",
        "val_a_reg_mae",
        "val_loss",
        "val_z_class_accuracy",
        "z_class_accuracy",
    ]


def test_two_output_errors_match_keras_and_leave_weights(keras):
    """Structures Keras rejects are rejected before any weight changes, with its wording."""
    x, y = _two_output_data(0, 8)
    cases = [
        ({"loss": {"label": "mse", "nope": "mse"}}, y, "Expected keys ['label', 'value']"),
        ({"loss": ["mse", "mse"], "metrics": ["mae"]}, y, "Invalid `metrics`"),
        ({"loss": ["mse", "mse"], "metrics": {"nope": "mae"}}, y, "Invalid `metrics`"),
        ({"loss": ["mse", "mse"]}, y + [y[1]], "y_true and y_pred have different structures"),
        ({"loss": ["mse", "mse"], "loss_weights": [1.0]}, y, "`loss_weights` must match"),
    ]
    for compile_kwargs, targets, message in cases:
        for m in (keras, nk):
            model = two_outputs(m)
            before = [w.copy() for w in model.get_weights()]
            model.compile(optimizer="sgd", **compile_kwargs)
            with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
                model.fit(x, targets, epochs=1, verbose=0)
            for a, b in zip(model.get_weights(), before):
                np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- feature extraction


def test_feature_extraction_model_matches_keras(keras):
    ours, theirs = _pair(keras, nested_models)
    x = _features(3, 5)
    for name in ("first", "concat", "head"):
        ours_fx = nk.Model(inputs=ours.input, outputs=ours.get_layer(name).output)
        theirs_fx = keras.Model(inputs=theirs.input, outputs=theirs.get_layer(name).output)
        assert [layer.name for layer in ours_fx.layers] == [
            layer.name for layer in theirs_fx.layers
        ]
        _compare_predictions(
            ours_fx.predict(x, verbose=0), theirs_fx.predict(x, verbose=0), theirs_fx, x
        )
    # A nested Functional model's `.output` is its own graph's output: not connected to the
    # outer model's inputs, in both libraries.
    for m, model in ((nk, ours), (keras, theirs)):
        with pytest.raises(ValueError):
            m.Model(model.input, model.get_layer("inner_functional").output)
    # Several feature maps at once, as a list.
    names = ["branch_a", "add", "concat"]
    ours, theirs = _pair(keras, branches_and_merges)
    ours_fx = nk.Model(ours.input, [ours.get_layer(n).output for n in names])
    theirs_fx = keras.Model(theirs.input, [theirs.get_layer(n).output for n in names])
    _compare_predictions(
        ours_fx.predict(x, verbose=0), theirs_fx.predict(x, verbose=0), theirs_fx, x
    )


# --------------------------------------------------------------------------- summary


@pytest.mark.parametrize(
    "build",
    [branches_and_merges, shared_layer, two_inputs, two_outputs],
    ids=lambda f: f.__name__,
)
def test_summary_text_equals_keras(keras, build):
    ours, theirs = _pair(keras, build)
    ours_text, theirs_text = [], []
    ours.summary(print_fn=ours_text.append)
    theirs.summary(print_fn=lambda text, **kwargs: theirs_text.append(text))
    assert "".join(ours_text) == "".join(theirs_text)
    assert "Connected to" in "".join(ours_text)


def test_recorded_training_argument_as_keras(keras, tmp_path):
    # `layer(x, training=...)` given when the graph is built: Keras 3 replays it only when the
    # model is called without `training` (`model(x)`); fit / predict pass their own flag, which
    # wins (keras-team/keras#20285). A Dropout(0.5) recorded with training=True is therefore
    # active in model(x) and off in predict; the call argument survives .keras files both ways.
    def mc_dropout(m):
        inp = m.Input((8,), name="features")
        h = m.layers.Dense(16, activation="relu", name="hidden")(inp)
        h = m.layers.Dropout(0.5, name="mc_dropout")(h, training=True)
        return m.Model(inp, m.layers.Dense(NUM_CLASSES, name="head")(h), name="mc")

    x = _features(0, N_VAL)
    ours, theirs = _pair(keras, mc_dropout)
    theirs.save(tmp_path / "keras_made.keras")
    ours.save(tmp_path / "ours.keras")
    models = [
        (ours, theirs),
        (nk.models.load_model(tmp_path / "keras_made.keras"), theirs),
        (ours, keras.models.load_model(tmp_path / "ours.keras")),
    ]
    for model, k_model in models:
        _compare_predictions(model.predict(x, verbose=0), k_model.predict(x, verbose=0), theirs, x)
        for call in (model, k_model):
            a, b = np.asarray(call(x)), np.asarray(call(x))
            assert not np.allclose(a, b)  # dropout active in a plain call, in both
        _compare_predictions(
            np.asarray(model(x, training=False)), np.asarray(k_model(x, training=False)), theirs, x
        )
