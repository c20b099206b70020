"""numpykeras.applications vs keras.applications: the same graphs (layer configs, connections,
weight names and shapes), Keras-written weight files loading into our constructors with the same
predictions, and the same preprocess_input / decode_predictions / argument errors.

Models are built at small input sizes (Keras allows any static size >= 32 with random weights) to
keep the file fast; one ResNet50 forward pass runs at the full 224x224 with the classifier.
"""

import json

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import applications
from numpykeras.layers.layer import clear_session

from error_bounds import output_sigma
from tolerances import FILE_ROUND_TRIP_ATOL, assert_close, assert_sigma_close

# name -> (constructor, kwargs, preprocess mode). Logits (no softmax) are the sharper comparison.
CASES = {
    "vgg16_top": (
        "VGG16",
        {"input_shape": (32, 32, 3), "classes": 7, "classifier_activation": None},
        "caffe",
    ),
    "vgg16_notop_max": ("VGG16", {"include_top": False, "pooling": "max"}, "caffe"),
    "resnet50_notop_avg": (
        "ResNet50",
        {"include_top": False, "input_shape": (32, 32, 3), "pooling": "avg"},
        "caffe",
    ),
    "mobilenet_v2_top": (
        "MobileNetV2",
        {"input_shape": (32, 32, 3), "alpha": 0.5, "classes": 5, "classifier_activation": None},
        "tf",
    ),
    # Odd and even sizes exercise correct_pad's asymmetric padding.
    "mobilenet_v2_notop": (
        "MobileNetV2",
        {"include_top": False, "input_shape": (35, 40, 3), "alpha": 0.35},
        "tf",
    ),
}

BATCH = 2  # images compared
CALIBRATION = 6  # images whose statistics set the BatchNormalization moving averages


def _input_size(kwargs):
    shape = kwargs.get("input_shape") or (32, 32, 3)
    return shape[:2]


def _randomize_batch_norm(lib, model, x, rng):
    """Random BatchNormalization parameters, with moving statistics near the real statistics of
    each layer's input, so that inference keeps activations of order one and the output depends
    on the input (with Keras's default statistics the signal of these randomly initialised
    networks fades to ~1e-10 and the output would be a function of the BN offsets alone)."""
    bns = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    if not bns:
        return
    for layer in bns:
        gamma, beta, mean, var = layer.get_weights()
        layer.set_weights(
            [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0.0, 0.2, beta.shape), mean, var]
        )
    # In training mode each BN normalises with its batch statistics: record them.
    probe = lib.Model(model.inputs[0], [layer.input for layer in bns])
    features = probe(x, training=True)
    for layer, feature in zip(bns, features):
        feature = np.asarray(feature)
        mean = feature.mean(axis=(0, 1, 2))
        var = feature.var(axis=(0, 1, 2))
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights(
            [
                gamma,
                beta,
                mean + 0.1 * np.sqrt(var) * rng.normal(size=mean.shape),
                # Floored: a channel that barely varies over the few calibration images must not
                # amplify float32 rounding by orders of magnitude.
                var * rng.uniform(0.8, 1.25, var.shape) + 0.1 * var.mean() + 1e-3,
            ]
        )


def _input_dependent(outputs, what):
    """Guard against a vacuous comparison: the samples' outputs must differ markedly."""
    scale = float(np.max(np.abs(outputs)))
    assert scale > 1e-3, f"{what}: outputs vanish (max |y| = {scale})"
    assert np.max(np.abs(outputs[0] - outputs[-1])) > 0.05 * scale, f"{what}: input-independent"


def _assert_predictions_close(actual, expected, sigma, what):
    # After 20-50 float32 layers single entries near zero carry the accumulated rounding of the
    # whole network: ``sigma`` is propagated through the Keras model (error_bounds.py).
    assert_sigma_close(actual, expected, sigma, what)


@pytest.fixture(scope="module", params=list(CASES))
def saved_case(request, keras, tmp_path_factory):
    """A Keras model with random weights, its predictions, and its files in three formats."""
    fn_name, kwargs, mode = CASES[request.param]
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    model = getattr(keras.applications, fn_name)(weights=None, **kwargs)
    rows, cols = _input_size(kwargs)
    x = rng.uniform(0.0, 255.0, (BATCH + CALIBRATION, rows, cols, 3)).astype("float32")
    x = applications.imagenet_utils.preprocess_input(x, mode=mode)
    _randomize_batch_norm(keras, model, x[BATCH:], rng)
    x = x[:BATCH]
    expected = np.asarray(model(x, training=False))
    _input_dependent(expected, request.param)
    folder = tmp_path_factory.mktemp(request.param)
    paths = {
        "legacy_h5": str(folder / "model.h5"),
        "weights_h5": str(folder / "model.weights.h5"),
        "keras": str(folder / "model.keras"),
    }
    model.save(paths["legacy_h5"])
    model.save_weights(paths["weights_h5"])
    model.save(paths["keras"])
    return {
        "name": request.param,
        "model_name": model.name,
        "fn": fn_name,
        "kwargs": kwargs,
        "x": x,
        "expected": expected,
        "sigma": output_sigma(model, x)[1],
        "paths": paths,
        "weights": [w.numpy() for w in model.weights],
        "weight_paths": [w.path for w in model.weights],
    }


@pytest.mark.parametrize("kind", ["legacy_h5", "weights_h5", "keras"])
def test_keras_files_load_into_constructor(saved_case, kind):
    model = getattr(applications, saved_case["fn"])(
        weights=saved_case["paths"][kind], **saved_case["kwargs"]
    )
    assert [w.path for w in model.weights] == saved_case["weight_paths"]
    for ours, theirs in zip(model.weights, saved_case["weights"]):
        assert_close(ours.numpy(), theirs, FILE_ROUND_TRIP_ATOL, 0.0, ours.path)
    _assert_predictions_close(
        model.predict(saved_case["x"], verbose=0),
        saved_case["expected"],
        saved_case["sigma"],
        f"{saved_case['name']} loaded from {kind}",
    )


@pytest.mark.parametrize("kind", ["legacy_h5", "keras"])
def test_keras_files_load_with_load_model(saved_case, kind):
    model = nk.models.load_model(saved_case["paths"][kind], compile=False)
    assert model.name == saved_case["model_name"]
    _assert_predictions_close(
        model.predict(saved_case["x"], verbose=0),
        saved_case["expected"],
        saved_case["sigma"],
        f"{saved_case['name']} via load_model({kind})",
    )


# --------------------------------------------------------------------------- structure


def _normalized_layers(config):
    """Layer entries of a Functional config: class, layer config and connections.

    numpykeras stores a ``build_config`` for weightless layers and omits ``mask=None`` call
    arguments; neither affects the graph, so both are dropped here.
    """
    out = []
    for entry in json.loads(json.dumps(config))["layers"]:
        nodes = [
            {"args": node["args"], "kwargs": {k: v for k, v in node["kwargs"].items() if v}}
            for node in entry["inbound_nodes"]
        ]
        out.append((entry["class_name"], entry["config"], nodes))
    return out


@pytest.mark.parametrize(
    "fn_name, kwargs",
    [
        ("ResNet50", {}),
        ("MobileNetV2", {}),
        ("MobileNetV2", {"alpha": 1.4, "input_shape": (96, 96, 3)}),
        ("MobileNetV2", {"alpha": 0.75, "include_top": False, "pooling": "avg"}),
        ("VGG16", {"input_shape": (32, 32, 3), "classes": 10}),
        ("VGG16", {"include_top": False, "pooling": "avg"}),
        ("ResNet50", {"include_top": False, "pooling": "max", "input_shape": (64, 48, 3)}),
    ],
)
def test_same_graph_as_keras(keras, fn_name, kwargs):
    keras.backend.clear_session()
    clear_session()
    theirs = getattr(keras.applications, fn_name)(weights=None, **kwargs)
    ours = getattr(applications, fn_name)(weights=None, **kwargs)
    assert ours.name == theirs.name
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert _normalized_layers(ours.get_config()) == _normalized_layers(theirs.get_config())
    assert [(w.path, tuple(w.shape)) for w in ours.weights] == [
        (w.path, tuple(w.shape)) for w in theirs.weights
    ]
    assert ours.count_params() == theirs.count_params()
    assert tuple(ours.output_shape) == tuple(theirs.output_shape)


# --------------------------------------------------------------------------- Keras 2 files


@pytest.mark.parametrize(
    "fn_name, kwargs, mode",
    [
        ("VGG16", {"include_top": False, "input_shape": (32, 32, 3)}, "caffe"),
        ("ResNet50", {"include_top": False, "input_shape": (32, 32, 3)}, "caffe"),
        ("MobileNetV2", {"input_shape": (32, 32, 3), "alpha": 0.35, "classes": 6}, "tf"),
    ],
)
def test_tf_keras_weight_files_load(keras, tf_keras, fn_name, kwargs, mode, tmp_path):
    """``tf_keras``'s ``save_weights(".h5")`` writes the layout of the files Keras downloads."""
    tf_keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    theirs = getattr(tf_keras.applications, fn_name)(weights=None, **kwargs)
    x = rng.uniform(0.0, 255.0, (BATCH + CALIBRATION, 32, 32, 3)).astype("float32")
    x = applications.imagenet_utils.preprocess_input(x, mode=mode)
    _randomize_batch_norm(tf_keras, theirs, x[BATCH:], rng)
    x = x[:BATCH]
    path = str(tmp_path / "weights_tf_dim_ordering_tf_kernels.h5")
    theirs.save_weights(path)
    ours = getattr(applications, fn_name)(weights=path, **kwargs)
    expected = theirs(x, training=False).numpy()
    _input_dependent(expected, fn_name)
    reference = getattr(keras.applications, fn_name)(weights=None, **kwargs)  # for the bound
    reference.set_weights(theirs.get_weights())
    sigma = output_sigma(reference, x)[1]
    _assert_predictions_close(
        ours.predict(x, verbose=0), expected, sigma, f"{fn_name} from tf_keras"
    )


def test_resnet50_full_size_forward(keras, tmp_path):
    """One 224x224 ResNet50 with its classifier, as used with ImageNet weights."""
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    theirs = keras.applications.ResNet50(weights=None, classifier_activation=None)
    x = rng.uniform(0.0, 255.0, (2, 224, 224, 3)).astype("float32")
    x = applications.resnet50.preprocess_input(x)
    _randomize_batch_norm(keras, theirs, x, rng)  # statistics from 2 images, 1 compared
    x = x[:1]
    path = str(tmp_path / "resnet50.h5")
    theirs.save(path)
    ours = applications.ResNet50(weights=path, classifier_activation=None)
    expected = np.asarray(theirs(x, training=False))
    assert np.ptp(expected) > 1e-3 * np.max(np.abs(expected)), "ResNet50 logits all equal"
    sigma = output_sigma(theirs, x)[1]
    _assert_predictions_close(
        ours.predict(x, verbose=0), expected, sigma, "ResNet50 224x224 logits"
    )


# --------------------------------------------------------------------------- utilities


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("batched", [True, False])
def test_preprocess_input_matches_keras(keras, mode, data_format, dtype, batched):
    rng = np.random.default_rng(11)
    shape = (3, 5, 4) if data_format == "channels_first" else (5, 4, 3)
    if batched:
        shape = (2,) + shape
    x = rng.integers(0, 256, shape).astype(dtype)
    ours_in, theirs_in = x.copy(), x.copy()
    ours = applications.imagenet_utils.preprocess_input(ours_in, data_format, mode)
    theirs = keras.applications.imagenet_utils.preprocess_input(theirs_in, data_format, mode)
    assert ours.dtype == theirs.dtype
    assert_close(ours, theirs, 0.0, 0.0, f"preprocess_input mode={mode}")
    # Both write over float inputs in the same way (and leave integer inputs alone).
    assert_close(ours_in, theirs_in, 0.0, 0.0, "input after preprocess_input")


@pytest.mark.parametrize("module", ["vgg16", "resnet", "resnet50", "mobilenet_v2"], ids=lambda m: m)
def test_model_preprocess_input_matches_keras(keras, module):
    x = np.random.default_rng(12).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    ours = getattr(applications, module).preprocess_input(x.copy())
    theirs = getattr(keras.applications, module).preprocess_input(x.copy())
    assert_close(ours, theirs, 0.0, 0.0, f"{module}.preprocess_input")


def test_decode_predictions_matches_keras(keras, monkeypatch, tmp_path):
    from keras.src.applications import imagenet_utils as keras_imagenet_utils

    index = {str(i): [f"n{i:08d}", f"label {i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(keras_imagenet_utils, "CLASS_INDEX", index)
    preds = np.random.default_rng(13).random((3, 1000)).astype("float32")
    preds[1, 10:20] = 2.0  # ties
    for top in (1, 5, 12):
        ours = applications.imagenet_utils.decode_predictions(preds, top=top, class_index_path=path)
        theirs = keras.applications.imagenet_utils.decode_predictions(preds, top=top)
        assert ours == theirs


_BAD_ARGUMENTS = [
    ("VGG16", {"weights": "no/such/file.h5"}),
    ("ResNet50", {"weights": "no/such/file.h5"}),
    ("MobileNetV2", {"weights": "no/such/file.h5"}),
    ("VGG16", {"weights": "imagenet", "classes": 10}),
    ("ResNet50", {"weights": "imagenet", "classes": 10}),
    ("MobileNetV2", {"weights": "imagenet", "classes": 10}),
    ("VGG16", {"weights": None, "include_top": False, "input_shape": (31, 64, 3)}),
    ("ResNet50", {"weights": None, "include_top": False, "input_shape": (64, 64)}),
    ("MobileNetV2", {"weights": None, "include_top": True, "input_shape": (None, None, 3)}),
    ("ResNet50", {"weights": "imagenet", "input_shape": (100, 100, 3)}),
    ("MobileNetV2", {"weights": "imagenet", "input_shape": (100, 100, 3)}),
    ("VGG16", {"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 1)}),
    ("MobileNetV2", {"weights": "imagenet", "alpha": 0.6}),
]


@pytest.mark.parametrize("fn_name, kwargs", _BAD_ARGUMENTS)
def test_argument_errors_match_keras(keras, fn_name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(keras.applications, fn_name)(**kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(applications, fn_name)(**kwargs)
    assert str(ours.value) == str(theirs.value)
