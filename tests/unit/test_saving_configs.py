"""``load_model`` on hand-written legacy HDF5 files with the model/training configs of every Keras
era (KERAS_FORMATS.md §3.2, §3.3, §7 "Reading"): Keras 2 and Keras 3 spellings, bare-list
Sequential configs, old initializer spellings, ``Custom>Adam`` and tf_keras optimizer weights.

The expected predictions come from the same architecture built in code with the same weights.
"""

import json
import warnings

import h5py
import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers as L
from numpykeras.layers.layer import clear_session

import keras2_files as k2
from tolerances import FORWARD_ATOL, FORWARD_RTOL, assert_forward_close


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


def glorot(module=True):
    entry = {"class_name": "GlorotUniform", "config": {"seed": None}}
    if module:
        entry = {"module": "keras.initializers", **entry, "registered_name": None}
    return entry


def zeros(module=True):
    entry = {"class_name": "Zeros", "config": {}}
    if module:
        entry = {"module": "keras.initializers", **entry, "registered_name": None}
    return entry


def k2_conv(batch_input_shape=None):
    config = {
        "name": "conv2d",
        "trainable": True,
        "dtype": "float32",
        "filters": 3,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "valid",
        "data_format": "channels_last",
        "dilation_rate": [1, 1],
        "groups": 1,
        "activation": "relu",
        "use_bias": True,
        "kernel_initializer": glorot(),
        "bias_initializer": zeros(),
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    if batch_input_shape:
        config["batch_input_shape"] = batch_input_shape
    return {"class_name": "Conv2D", "config": config}


def k2_bn(axis):
    return {
        "class_name": "BatchNormalization",
        "config": {
            "name": "batch_normalization",
            "trainable": True,
            "dtype": "float32",
            "axis": axis,
            "momentum": 0.99,
            "epsilon": 0.001,
            "center": True,
            "scale": True,
            "beta_initializer": zeros(),
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "moving_mean_initializer": zeros(),
            "moving_variance_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        },
    }


def k2_rest(kernel_initializer=None):
    return [
        {
            "class_name": "MaxPooling2D",
            "config": {
                "name": "max_pooling2d",
                "trainable": True,
                "dtype": "float32",
                "pool_size": [2, 2],
                "padding": "valid",
                "strides": [2, 2],
                "data_format": "channels_last",
            },
        },
        {
            "class_name": "Flatten",
            "config": {
                "name": "flatten",
                "trainable": True,
                "dtype": "float32",
                "data_format": "channels_last",
            },
        },
        {
            "class_name": "Dropout",
            "config": {
                "name": "dropout",
                "trainable": True,
                "dtype": "float32",
                "rate": 0.5,
                "noise_shape": None,
                "seed": None,
            },
        },
        {
            "class_name": "Dense",
            "config": {
                "name": "dense",
                "trainable": True,
                "dtype": "float32",
                "units": 4,
                "activation": "softmax",
                "use_bias": True,
                "kernel_initializer": kernel_initializer or glorot(),
                "bias_initializer": zeros(),
                "kernel_regularizer": None,
                "bias_regularizer": None,
                "activity_regularizer": None,
                "kernel_constraint": None,
                "bias_constraint": None,
            },
        },
    ]


def reference_model():
    return nk.models.Sequential(
        [
            L.Input((6, 6, 2)),
            L.Conv2D(3, 3, activation="relu", name="conv2d"),
            L.BatchNormalization(name="batch_normalization"),
            L.MaxPooling2D(name="max_pooling2d"),
            L.Flatten(name="flatten"),
            L.Dropout(0.5, name="dropout"),
            L.Dense(4, activation="softmax", name="dense"),
        ]
    )


def random_values(model, seed=0):
    rng = np.random.default_rng(seed)
    values = {}
    for layer in model.layers:
        ws = layer.trainable_weights + layer.non_trainable_weights
        values[layer.name] = [rng.uniform(0.5, 1.5, size=w.shape).astype("f4") for w in ws]
    return values


def write_full_model(
    path,
    model_config,
    values,
    layer_names,
    keras_version="2.15.0",
    training_config=None,
    optimizer_weights=None,
):
    """A legacy full-model file as tf_keras writes it (Keras 2 weight names)."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode()
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode()
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode() for n in layer_names]
        g.attrs["keras_version"] = keras_version
        g.attrs["backend"] = "tensorflow"
        for name in layer_names:
            lg = g.create_group(name)
            arrays = values.get(name, [])
            suffixes = (
                ["kernel", "bias"]
                if len(arrays) == 2
                else ["gamma", "beta", "moving_mean", "moving_variance"]
            )
            names = [f"{name}/{s}:0" for s in suffixes[: len(arrays)]]
            lg.attrs["weight_names"] = names if names else np.zeros((0,), "float64")
            for n, a in zip(names, arrays):
                lg.create_dataset(n, data=a)
        if optimizer_weights is not None:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = [n for n, _ in optimizer_weights]
            for n, a in optimizer_weights:
                og.create_dataset(n, data=a)


def check_predictions(loaded, values):
    expected = reference_model()
    for layer in expected.layers:
        if values.get(layer.name):
            layer.set_weights(values[layer.name])
    x = np.random.default_rng(1).random((3, 6, 6, 2), dtype=np.float32)
    assert np.array_equal(loaded.predict(x, verbose=0), expected.predict(x, verbose=0))


LAYER_NAMES = ["conv2d", "batch_normalization", "max_pooling2d", "flatten", "dropout", "dense"]


def k2_training_config():
    return {
        "loss": "sparse_categorical_crossentropy",
        "metrics": [
            [
                {
                    "class_name": "MeanMetricWrapper",
                    "config": {
                        "name": "accuracy",
                        "dtype": "float32",
                        "fn": "sparse_categorical_accuracy",
                    },
                }
            ]
        ],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": {
            "class_name": "Custom>Adam",
            "config": {
                "name": "Adam",
                "weight_decay": None,
                "clipnorm": None,
                "global_clipnorm": None,
                "clipvalue": None,
                "use_ema": False,
                "ema_momentum": 0.99,
                "ema_overwrite_frequency": None,
                "jit_compile": False,
                "is_legacy_optimizer": False,
                "learning_rate": 0.0020000000949949026,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-07,
                "amsgrad": False,
            },
        },
    }


def k2_sequential_config(bn_axis=(3,)):
    return {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_input_shape": [None, 6, 6, 2],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "conv2d_input",
                    },
                },
                k2_conv([None, 6, 6, 2]),
                k2_bn(list(bn_axis)),
                *k2_rest(),
            ],
        },
    }


def test_keras2_full_model_with_tf_keras_optimizer_state(tmp_path):
    values = random_values(reference_model())
    rng = np.random.default_rng(5)
    # tf_keras: iteration:0, then (m, v) per trainable variable, no learning_rate.
    trainable = [
        ("conv2d", "kernel", (3, 3, 2, 3)),
        ("conv2d", "bias", (3,)),
        ("batch_normalization", "gamma", (3,)),
        ("batch_normalization", "beta", (3,)),
        ("dense", "kernel", (12, 4)),
        ("dense", "bias", (4,)),
    ]
    opt = [("iteration:0", np.array(7, dtype="int64"))]
    for layer, w, shape in trainable:
        for slot in ("m", "v"):
            opt.append((f"Adam/{slot}/{layer}/{w}:0", rng.random(shape).astype("f4")))
    path = tmp_path / "k2.h5"
    write_full_model(
        path,
        k2_sequential_config(),
        values,
        LAYER_NAMES,
        training_config=k2_training_config(),
        optimizer_weights=opt,
    )
    loaded = nk.models.load_model(path)
    check_predictions(loaded, values)
    assert loaded.compiled and isinstance(loaded.optimizer, nk.optimizers.Adam)
    assert loaded.optimizer.learning_rate == pytest.approx(0.002)
    assert loaded.loss == "sparse_categorical_crossentropy"
    variables = loaded.optimizer.variables
    assert int(variables[0].value) == 7
    slots = [v for v in variables if v.name not in ("iteration", "learning_rate")]
    assert len(slots) == len(opt) - 1
    for v, (name, value) in zip(slots, opt[1:]):
        assert np.array_equal(v.numpy(), value), name
    # It trains from there.
    x = np.random.default_rng(0).random((4, 6, 6, 2), dtype=np.float32)
    loaded.fit(x, np.array([0, 1, 2, 3]), verbose=0)
    assert int(loaded.optimizer.iterations.value) == 8


def test_keras2_optimizer_state_that_does_not_fit_warns(tmp_path):
    values = random_values(reference_model())
    opt = [("iteration:0", np.array(3, dtype="int64")), ("Adam/m/x:0", np.ones(5, "f4"))]
    path = tmp_path / "k2.h5"
    write_full_model(
        path,
        k2_sequential_config(),
        values,
        LAYER_NAMES,
        training_config=k2_training_config(),
        optimizer_weights=opt,
    )
    with pytest.warns(UserWarning, match="freshly initialized optimizer"):
        loaded = nk.models.load_model(path)
    check_predictions(loaded, values)
    assert int(loaded.optimizer.iterations.value) == 0


@pytest.mark.parametrize("bn_axis", [[3], -1, 3])
def test_keras2_batchnorm_axis_spellings(tmp_path, bn_axis):
    values = random_values(reference_model())
    config = k2_sequential_config()
    config["config"]["layers"][2]["config"]["axis"] = bn_axis
    path = tmp_path / "k2.h5"
    write_full_model(path, config, values, LAYER_NAMES)
    check_predictions(nk.models.load_model(path, compile=False), values)


def test_bare_list_sequential_config_without_input_layer(tmp_path):
    values = random_values(reference_model())
    config = {
        "class_name": "Sequential",
        "config": [k2_conv([None, 6, 6, 2]), k2_bn(-1), *k2_rest()],
    }
    path = tmp_path / "old.h5"
    write_full_model(path, config, values, LAYER_NAMES, keras_version="2.1.6")
    check_predictions(nk.models.load_model(path, compile=False), values)


def test_old_initializer_spellings(tmp_path):
    values = random_values(reference_model())
    old_init = {
        "class_name": "VarianceScaling",
        "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
    }
    layers = [k2_conv([None, 6, 6, 2]), k2_bn(-1), *k2_rest(kernel_initializer=old_init)]
    layers[0]["config"]["kernel_initializer"] = {"class_name": "glorot_uniform", "config": {}}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    path = tmp_path / "old.h5"
    write_full_model(path, config, values, LAYER_NAMES, keras_version="2.2.4")
    check_predictions(nk.models.load_model(path, compile=False), values)


def test_keras3_legacy_config_spellings(tmp_path):
    values = random_values(reference_model())
    policy = {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_shape": [None, 6, 6, 2],
                "dtype": "float32",
                "sparse": False,
                "name": "input_layer",
            },
        },
        k2_conv(),
        k2_bn(-1),
        *k2_rest(),
    ]
    for entry in layers[1:]:
        entry["config"]["dtype"] = policy
        entry["module"] = "keras.layers"
        entry["registered_name"] = None
    layers[2]["config"].update({"synchronized": False, "renorm": False})
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "trainable": True,
            "dtype": policy,
            "layers": layers,
            "build_input_shape": [None, 6, 6, 2],
        },
    }
    training = {
        "loss": {
            "module": "keras.losses",
            "class_name": "SparseCategoricalCrossentropy",
            "config": {
                "name": "sparse_categorical_crossentropy",
                "reduction": "sum_over_batch_size",
                "from_logits": False,
                "ignore_class": None,
            },
            "registered_name": None,
        },
        "loss_weights": None,
        "metrics": ["accuracy"],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
        "optimizer_config": {
            "class_name": "Adam",
            "config": {
                "name": "adam",
                "learning_rate": 0.001,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-07,
                "amsgrad": False,
                "loss_scale_factor": None,
                "gradient_accumulation_steps": None,
            },
        },
    }
    path = tmp_path / "k3.h5"
    write_full_model(
        path, config, values, LAYER_NAMES, keras_version="3.15.1", training_config=training
    )
    loaded = nk.models.load_model(path)
    check_predictions(loaded, values)
    assert loaded.compiled


def test_minimal_training_config_and_tf_keras_loss_dict(tmp_path):
    values = random_values(reference_model())
    training = {
        "loss": {
            "class_name": "SparseCategoricalCrossentropy",
            "config": {
                "reduction": "auto",
                "name": "sparse_categorical_crossentropy",
                "from_logits": False,
                "ignore_class": None,
            },
        },
        "metrics": ["acc"],
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
    }
    path = tmp_path / "k2.h5"
    write_full_model(path, k2_sequential_config(), values, LAYER_NAMES, training_config=training)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = nk.models.load_model(path)
    check_predictions(loaded, values)
    x = np.random.default_rng(0).random((4, 6, 6, 2), dtype=np.float32)
    history = loaded.fit(x, np.array([0, 1, 2, 3]), verbose=0)
    assert "acc" in history.history


def test_flatten_dense_port_from_channels_first_needs_the_row_permutation():
    """§6: porting a channels-first (C, H, W)-flattened Dense kernel needs its rows permuted."""
    rng = np.random.default_rng(0)
    n, h, w, c, units = 2, 3, 4, 5, 6
    x_nchw = rng.standard_normal((n, c, h, w)).astype("f4")
    w_torch = rng.standard_normal((units, c * h * w)).astype("f4")  # Linear(C*H*W, U).weight
    y_ref = x_nchw.reshape(n, -1) @ w_torch.T  # the channels-first model's output

    model = nk.models.Sequential([L.Input((h, w, c)), L.Flatten(), L.Dense(units, use_bias=False)])
    x_nhwc = x_nchw.transpose(0, 2, 3, 1)
    ported = w_torch.T.reshape(c, h, w, units).transpose(1, 2, 0, 3).reshape(h * w * c, units)
    model.layers[1].set_weights([ported])
    assert_forward_close(model.predict(x_nhwc, verbose=0), y_ref)
    model.layers[1].set_weights([w_torch.T])  # same shape, wrong rows: silently wrong
    wrong = model.predict(x_nhwc, verbose=0)
    assert not np.allclose(wrong, y_ref, atol=FORWARD_ATOL, rtol=FORWARD_RTOL)


# ------------------------------------------------------------------- Keras 2.0-2.2 full models


def tiny_dense_config(era):
    """Input(4) -> Dense(3, relu, l2) -> Dense(2, softmax) as the Keras 2.0-2.2 eras wrote it."""
    l2 = {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}
    if era == "functional 2.1.6":
        layers = [
            k2.input_layer("input_1", [None, 4]),
            k2.dense("dense_1", 3, "relu", ["input_1"], kernel_regularizer=l2),
            k2.dense("dense_2", 2, "softmax", ["dense_1"]),
        ]
        return k2.functional_config("model_1", layers, ["input_1"], ["dense_2"]), ["input_1"]
    layers = [
        k2.dense("dense_1", 3, "relu", kernel_regularizer=l2, batch_input_shape=[None, 4]),
        k2.dense("dense_2", 2, "softmax"),
    ]
    return k2.sequential_config("sequential_1", layers, bare_list=era == "sequential 2.0.8"), []


KERAS2_ERAS = ["functional 2.1.6", "sequential 2.0.8", "sequential 2.2.4"]
TINY_SHAPES = {"dense_1": [(4, 3), (3,)], "dense_2": [(3, 2), (2,)]}


def write_tiny_dense(path, era, training_config=None):
    config, weightless = tiny_dense_config(era)
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    weights = {name: [] for name in weightless}
    weights.update(k2.random_weights(layers, TINY_SHAPES))
    k2.write_keras2_model(path, config, weights, era.split()[-1], training_config)
    return weights


@pytest.mark.parametrize("era", KERAS2_ERAS)
def test_keras_2_0_to_2_2_full_model_predicts_the_numpy_computation(tmp_path, era):
    path = tmp_path / "old.h5"
    weights = write_tiny_dense(path, era)
    model = nk.models.load_model(path, compile=False)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype("f4")
    (w1, b1), (w2, b2) = weights["dense_1"], weights["dense_2"]
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert_forward_close(model.predict(x, verbose=0), expected)
    dense_1 = model.get_layer("dense_1")
    assert dense_1.kernel_regularizer.l2 == pytest.approx(0.01)
    assert model.get_layer("dense_2").kernel_regularizer is None


def keras22_training_config():
    """``training_config`` as Keras 2.2 wrote it: ``lr``, ``decay``, ``sample_weight_mode``."""
    return {
        "optimizer_config": {
            "class_name": "Adam",
            "config": {
                "lr": 0.0020000000949949026,
                "beta_1": 0.8999999761581421,
                "beta_2": 0.9990000128746033,
                "decay": 0.0,
                "epsilon": 1e-07,
                "amsgrad": False,
            },
        },
        "loss": "categorical_crossentropy",
        "metrics": ["accuracy"],
        "weighted_metrics": None,
        "sample_weight_mode": None,
        "loss_weights": None,
    }


def test_keras_2_2_training_config_compiles(tmp_path):
    path = tmp_path / "old.h5"
    write_tiny_dense(path, "functional 2.1.6", keras22_training_config())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = nk.models.load_model(path)
    assert model.compiled and isinstance(model.optimizer, nk.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(0.002)
    x = np.random.default_rng(0).random((4, 4), dtype=np.float32)
    history = model.fit(x, np.eye(2, dtype="f4")[[0, 1, 0, 1]], verbose=0)
    assert np.isfinite(history.history["loss"][0])


# ------------------------------------------------- optimizer state that holds less than ours

SGD_CONFIG = {"class_name": "Custom>SGD", "config": {"learning_rate": 0.1, "momentum": 0.0}}
ADAM_CONFIG = {"class_name": "Custom>Adam", "config": {"learning_rate": 0.001}}


def dense_slots(prefix):
    """tf_keras's slot entries for the tiny dense model (one per trainable variable)."""
    return [
        (f"{prefix}/{layer}/{w}:0", np.full(shape, 0.5, "f4"))
        for layer, shapes in TINY_SHAPES.items()
        for w, shape in zip(("kernel", "bias"), shapes)
    ]


@pytest.mark.parametrize(
    "optimizer_config, momentum, iteration, slots, lost",
    [
        (ADAM_CONFIG, None, 0, False, False),  # compiled, never trained: slots start at zero
        (ADAM_CONFIG, None, 5, False, True),  # trained, moments missing
        (SGD_CONFIG, 0.0, 4, True, False),  # SGD(momentum=0) never reads its "m" slots
        (SGD_CONFIG, 0.9, 4, False, True),  # momentum buffers missing
        (SGD_CONFIG, 0.9, 0, False, False),
    ],
)
def test_optimizer_state_restores_the_count_unless_something_is_lost(
    tmp_path, optimizer_config, momentum, iteration, slots, lost
):
    optimizer_config = json.loads(json.dumps(optimizer_config))
    if momentum is not None:
        optimizer_config["config"]["momentum"] = momentum
    training = {"loss": "mse", "metrics": [], "weighted_metrics": None, "loss_weights": None}
    training["optimizer_config"] = optimizer_config
    path = tmp_path / "m.h5"
    write_tiny_dense(path, "functional 2.1.6", training)
    entries = [("iteration:0", np.array(iteration, "int64"))]
    entries += dense_slots("SGD/m") if slots else []
    with h5py.File(path, "a") as f:
        group = f.create_group("optimizer_weights")
        group.attrs["weight_names"] = [name for name, _ in entries]
        for name, value in entries:
            group.create_dataset(name, data=value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = nk.models.load_model(path)
    messages = [str(w.message) for w in caught]
    if lost:
        assert len(messages) == 1 and "freshly initialized optimizer" in messages[0]
        assert int(model.optimizer.iterations.value) == 0
    else:
        assert messages == []
        assert int(model.optimizer.iterations.value) == iteration
