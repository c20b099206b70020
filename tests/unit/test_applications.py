"""Unit tests for numpykeras.applications (no TensorFlow): architectures, argument checks,
weight-file look-up, preprocess_input and decode_predictions.

Every test runs with an empty temporary ``KERAS_HOME``, so nothing is read from a real cache.
"""

import json
import os
import warnings

import numpy as np
import pytest

import numpykeras
from numpykeras import applications, layers
from numpykeras.applications import imagenet_utils, mobilenet_v2, resnet, resnet50, vgg16
from numpykeras.models.functional import Functional
from numpykeras.utils.file_utils import DataNotAvailableError


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


# --------------------------------------------------------------------------- architectures


# Published parameter counts (Keras Applications table / the papers) of the 1000-class models.
def test_vgg16_full_model():
    m = applications.VGG16(weights=None)
    assert isinstance(m, Functional) and m.name == "vgg16"
    assert m.count_params() == 138_357_544
    assert m.input_shape == (None, 224, 224, 3)
    assert m.output_shape == (None, 1000)
    # "16": 13 convolutions and 3 fully-connected layers carry weights.
    assert sum(isinstance(layer, (layers.Conv2D, layers.Dense)) for layer in m.layers) == 16
    assert [layer.name for layer in m.layers[-4:]] == ["flatten", "fc1", "fc2", "predictions"]


def test_resnet50_full_model():
    m = applications.ResNet50(weights=None)
    assert m.name == "resnet50"
    assert m.count_params() == 25_636_712
    assert m.output_shape == (None, 1000)
    convs = [layer for layer in m.layers if isinstance(layer, layers.Conv2D)]
    # 1 stem conv + 16 bottleneck blocks x 3 convs + 4 projection shortcuts.
    assert len(convs) == 1 + 16 * 3 + 4
    assert sum(isinstance(layer, layers.BatchNormalization) for layer in m.layers) == len(convs)
    assert sum(isinstance(layer, layers.Add) for layer in m.layers) == 16
    assert m.get_layer("predictions").activation is numpykeras.activations.softmax


def test_mobilenet_v2_full_model():
    m = applications.MobileNetV2(weights=None)
    assert m.name == "mobilenetv2_1.00_224"
    assert m.count_params() == 3_538_984
    assert m.output_shape == (None, 1000)
    depthwise = [layer for layer in m.layers if isinstance(layer, layers.DepthwiseConv2D)]
    assert len(depthwise) == 17  # one per inverted residual block
    relu6 = [layer for layer in m.layers if isinstance(layer, layers.ReLU)]
    assert relu6 and all(layer.max_value == 6.0 for layer in relu6)
    # Residual connections: blocks with stride 1 and as many input as output channels.
    assert sum(isinstance(layer, layers.Add) for layer in m.layers) == 10


@pytest.mark.parametrize(
    "fn, count",
    [(applications.ResNet101, 44_707_176), (applications.ResNet152, 60_419_944)],
)
def test_deeper_resnets_param_counts(fn, count):
    assert fn(weights=None, include_top=False).count_params() == count - (2048 * 1000 + 1000)


@pytest.mark.parametrize(
    "fn, kwargs, channels",
    [
        (applications.VGG16, {}, 512),
        (applications.ResNet50, {}, 2048),
        (applications.MobileNetV2, {}, 1280),
        (applications.MobileNetV2, {"alpha": 1.4}, 1792),  # 1280 * 1.4
    ],
)
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_include_top_false_output_shapes(fn, kwargs, channels, pooling):
    m = fn(weights=None, include_top=False, pooling=pooling, **kwargs)
    assert m.input_shape == (None, None, None, 3)
    if pooling is None:
        assert m.output_shape == (None, None, None, channels)
    else:
        assert m.output_shape == (None, channels)
        pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
        assert isinstance(m.layers[-1], pool)


@pytest.mark.parametrize(
    "fn, input_shape, spatial",
    [
        # Five 2x2 max pools: floor(size / 32).
        (applications.VGG16, (32, 32, 3), (1, 1)),
        (applications.VGG16, (70, 45, 3), (2, 1)),
        # conv 7x7/2 (pad 3), max pool 3x3/2 (pad 1), then three stride-2 1x1 convs.
        (applications.ResNet50, (32, 32, 3), (1, 1)),
        (applications.ResNet50, (45, 70, 3), (2, 3)),
        # Five stride-2 "same" stages: ceil(size / 32).
        (applications.MobileNetV2, (33, 47, 3), (2, 2)),
        (applications.MobileNetV2, (32, 64, 3), (1, 2)),
    ],
)
def test_feature_map_size(fn, input_shape, spatial):
    m = fn(weights=None, include_top=False, input_shape=input_shape)
    assert m.output_shape[1:3] == spatial
    y = m.predict(_images((2,) + input_shape) / 255.0, verbose=0)
    assert y.shape[:3] == (2,) + spatial
    assert y.dtype == np.float32 and np.all(np.isfinite(y))


def test_free_spatial_size_predicts_any_size():
    m = applications.ResNet50(weights=None, include_top=False, pooling="avg")
    for size in (32, 48):
        assert m.predict(_images((1, size, size, 3)), verbose=0).shape == (1, 2048)


def test_custom_classes_and_logits():
    m = applications.MobileNetV2(
        weights=None,
        alpha=0.35,
        input_shape=(32, 32, 3),
        classes=7,
        classifier_activation=None,
    )
    assert m.name == "mobilenetv2_0.35_32"
    assert m.output_shape == (None, 7)
    logits = m.predict(_images((2, 32, 32, 3)) / 127.5 - 1, verbose=0)
    assert logits.shape == (2, 7)
    soft = applications.MobileNetV2(
        weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=7, name="soft"
    )
    soft.set_weights(m.get_weights())
    x = _images((2, 32, 32, 3)) / 127.5 - 1
    z = m.predict(x, verbose=0)
    p = soft.predict(x, verbose=0)
    expected = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(p, expected / expected.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert soft.name == "soft"


def test_mobilenet_v2_width_multiplier():
    assert mobilenet_v2._make_divisible(32 * 0.35, 8) == 16  # 8 would be > 10% below 11.2
    assert mobilenet_v2._make_divisible(32 * 0.5, 8) == 16
    assert mobilenet_v2._make_divisible(1280 * 1.3, 8) == 1664
    m = applications.MobileNetV2(weights=None, alpha=0.5, include_top=False)
    assert m.get_layer("Conv1").filters == 16
    assert m.get_layer("block_16_project").filters == 160  # 320 * 0.5
    assert m.get_layer("Conv_1").filters == 1280  # no shrinking of the last conv


def test_correct_pad_matches_same_padding():
    # A stride-2 3x3 "valid" conv after correct_pad gives ceil(size / 2), as "same" does.
    for rows, cols in [(8, 8), (7, 9), (32, 33)]:
        t = numpykeras.Input((rows, cols, 4))
        (top, bottom), (left, right) = imagenet_utils.correct_pad(t, 3)
        assert (rows + top + bottom - 3) // 2 + 1 == -(-rows // 2)
        assert (cols + left + right - 3) // 2 + 1 == -(-cols // 2)
        assert bottom == right == 1  # TensorFlow pads the extra row/column at the end
    assert imagenet_utils.correct_pad(numpykeras.Input((None, None, 4)), 3) == ((0, 1), (0, 1))


def test_input_tensor_is_used_and_model_inputs_are_its_sources():
    inp = numpykeras.Input((40, 40, 3))
    x = layers.Rescaling(1 / 255.0)(inp)
    m = applications.VGG16(weights=None, include_top=False, input_tensor=x, pooling="avg")
    assert m.inputs[0] is inp
    assert isinstance(m.layers[1], layers.Rescaling)
    assert m.predict(_images((1, 40, 40, 3)), verbose=0).shape == (1, 512)


def test_input_tensor_must_be_a_keras_tensor():
    with pytest.raises(ValueError, match="must be a KerasTensor"):
        applications.ResNet50(
            weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3))
        )
    with pytest.raises(ValueError, match="input_tensor is not a Keras tensor"):
        applications.MobileNetV2(
            weights=None, input_shape=(32, 32, 3), input_tensor=np.zeros((1, 32, 32, 3))
        )
    with pytest.raises(ValueError, match=r"input_tensor.shape\[2\] must equal input_shape\[1\]"):
        applications.MobileNetV2(
            weights=None, input_shape=(32, 32, 3), input_tensor=numpykeras.Input((32, 40, 3))
        )


def test_config_round_trip_rebuilds_the_same_model():
    m = applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3)
    clone = Functional.from_config(m.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in m.layers]
    assert clone.get_config() == m.get_config()
    clone.set_weights(m.get_weights())
    x = _images((2, 32, 32, 3)) / 127.5 - 1
    np.testing.assert_array_equal(clone.predict(x, verbose=0), m.predict(x, verbose=0))


def test_submodules_and_lazy_import():
    assert numpykeras.applications is applications
    assert resnet50.ResNet50 is resnet.ResNet50 is applications.ResNet50
    assert vgg16.VGG16 is applications.VGG16
    assert resnet50.preprocess_input is resnet.preprocess_input


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize(
    "fn", [applications.VGG16, applications.ResNet50, applications.MobileNetV2]
)
def test_invalid_arguments(fn, tmp_path):
    with pytest.raises(ValueError, match="The `weights` argument should be either"):
        fn(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        fn(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="Input size must be at least 32x32"):
        fn(weights=None, include_top=False, input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match="must be a tuple of three integers"):
        fn(weights=None, include_top=False, input_shape=(64, 64))
    with pytest.raises(ValueError, match="you should specify a static `input_shape`"):
        fn(weights=None, include_top=True, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        fn(weights="imagenet", include_top=True, input_shape=(100, 100, 3))
    with pytest.raises(ValueError, match="The input must have 3 channels"):
        fn(weights="imagenet", include_top=False, input_shape=(64, 64, 1))
    existing = tmp_path / "w.h5"
    existing.write_bytes(b"")
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations are allowed"):
        fn(weights=str(existing), classifier_activation="relu")


def test_unusual_channel_count_warns():
    with pytest.warns(UserWarning, match="usually expects 1 or 3 input channels"):
        m = applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 4))
    assert m.input_shape == (None, 32, 32, 4)


def test_include_top_random_weights_any_static_size():
    m = applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=4)
    assert m.output_shape == (None, 4)


def test_mobilenet_v2_imagenet_alpha_and_size_checks():
    with pytest.raises(ValueError, match="alpha must be one of"):
        applications.MobileNetV2(weights="imagenet", alpha=0.6)
    # Non-square input: Keras warns and falls back to the 224 weights.
    with pytest.warns(UserWarning, match="Weights for input shape \\(224, 224\\)"):
        with pytest.raises(DataNotAvailableError) as info:
            applications.MobileNetV2(
                weights="imagenet", include_top=False, input_shape=(96, 128, 3)
            )
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in str(info.value)


# --------------------------------------------------------------------------- pretrained weights


@pytest.mark.parametrize(
    "fn, kwargs, fname",
    [
        (applications.VGG16, {}, "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
        (
            applications.VGG16,
            {"include_top": False},
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        (applications.ResNet50, {}, "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
        (
            applications.ResNet50,
            {"include_top": False},
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
        (
            applications.MobileNetV2,
            {},
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ),
        (
            applications.MobileNetV2,
            {"alpha": 0.35, "include_top": False, "input_shape": (96, 96, 3)},
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5",
        ),
    ],
)
def test_imagenet_weights_missing_from_cache(fn, kwargs, fname, keras_home):
    with pytest.raises(DataNotAvailableError) as info:
        fn(weights="imagenet", **kwargs)
    message = str(info.value)
    assert "does not download" in message
    assert f"'{fname}'" in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/" in message
    assert os.path.join(str(keras_home), "models", fname) in message
    assert isinstance(info.value, FileNotFoundError)


def test_imagenet_weights_loaded_from_cache(keras_home):
    kwargs = {"alpha": 0.35, "include_top": False, "input_shape": (96, 96, 3)}
    source = applications.MobileNetV2(weights=None, **kwargs)
    for v in source.weights:  # distinct from any initializer's values
        v.assign(np.random.default_rng(1).normal(size=v.shape).astype("float32"))
    models_dir = keras_home / "models"
    models_dir.mkdir(parents=True)
    source.save_weights(
        str(models_dir / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
    )
    loaded = applications.MobileNetV2(weights="imagenet", **kwargs)
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cached_file_with_wrong_hash_is_rejected(keras_home):
    models_dir = keras_home / "models"
    models_dir.mkdir(parents=True)
    (models_dir / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"truncated")
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        applications.VGG16(weights="imagenet", include_top=False)


def test_weights_path_loads_by_topology(tmp_path):
    kwargs = {"include_top": False, "input_shape": (32, 32, 3)}
    source = applications.ResNet50(weights=None, **kwargs)
    path = str(tmp_path / "resnet.h5")
    source.save_weights(path)
    loaded = applications.ResNet50(weights=path, **kwargs)
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="Layer count mismatch"):
        applications.VGG16(weights=path, **kwargs)


# --------------------------------------------------------------------------- preprocess_input


def test_preprocess_caffe_known_values():
    x = np.array([[[[10.0, 20.0, 30.0], [255.0, 0.0, 128.0]]]], dtype="float32")  # (1, 1, 2, 3)
    y = vgg16.preprocess_input(x.copy())
    expected = np.array(
        [[[[30 - 103.939, 20 - 116.779, 10 - 123.68], [128 - 103.939, 0 - 116.779, 255 - 123.68]]]]
    )
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(resnet.preprocess_input(x.copy()), expected, rtol=1e-6)
    np.testing.assert_allclose(resnet50.preprocess_input(x[0].copy()), expected[0], rtol=1e-6)


def test_preprocess_caffe_channels_first():
    x = _images((2, 3, 4, 5))
    y = imagenet_utils.preprocess_input(x.copy(), data_format="channels_first", mode="caffe")
    for c, (src, mean) in enumerate(zip((2, 1, 0), imagenet_utils.CAFFE_MEAN_BGR)):
        np.testing.assert_allclose(y[:, c], x[:, src] - np.float32(mean), rtol=1e-6)
    y3 = imagenet_utils.preprocess_input(x[0].copy(), data_format="channels_first", mode="caffe")
    np.testing.assert_allclose(y3, y[0], rtol=1e-6)


def test_preprocess_tf_and_torch_known_values():
    x = np.array([[0.0, 127.5, 255.0]], dtype="float32")
    np.testing.assert_allclose(mobilenet_v2.preprocess_input(x.copy()), [[-1.0, 0.0, 1.0]])
    y = imagenet_utils.preprocess_input(x.copy(), mode="torch")
    expected = [
        [(0.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1.0 - 0.406) / 0.225],
    ]
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_preprocess_dtypes_and_in_place():
    ints = np.full((1, 2, 2, 3), 255, dtype="uint8")
    y = mobilenet_v2.preprocess_input(ints)
    assert y.dtype == np.float32 and np.all(y == 1.0)
    assert np.all(ints == 255)  # integer input is not modified
    floats = np.full((1, 2, 2, 3), 255.0, dtype="float32")
    mobilenet_v2.preprocess_input(floats)
    assert np.all(floats == 1.0)  # as Keras: float input is written over
    doubles = np.zeros((2, 2, 3))
    assert vgg16.preprocess_input(doubles).dtype == np.float64
    lists = vgg16.preprocess_input([[[0, 0, 0]]])
    assert lists.dtype == np.float32 and lists.shape == (1, 1, 3)


def test_preprocess_errors():
    x = _images((1, 4, 4, 3))
    with pytest.raises(ValueError, match="Expected mode to be one of `caffe`, `tf` or `torch`"):
        imagenet_utils.preprocess_input(x, mode="keras")
    with pytest.raises(ValueError, match="Expected data_format to be one of"):
        vgg16.preprocess_input(x, data_format="NHWC")
    with pytest.raises(ValueError, match="3 color channels"):
        vgg16.preprocess_input(_images((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="3 color channels"):
        imagenet_utils.preprocess_input(x, mode="torch", data_format="channels_first")
    with pytest.raises(TypeError, match="symbolic"):
        vgg16.preprocess_input(numpykeras.Input((4, 4, 3)))


# --------------------------------------------------------------------------- decode_predictions


def _write_class_index(path, n=1000):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(n)}
    path.write_text(json.dumps(index))
    return path


def test_decode_predictions_with_class_index_path(tmp_path):
    path = _write_class_index(tmp_path / "index.json")
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [7, 500, 999]] = [0.2, 0.5, 0.3]
    preds[1, [0, 1]] = [0.9, 0.1]
    out = vgg16.decode_predictions(preds, top=3, class_index_path=str(path))
    assert [r[:2] for r in out[0]] == [
        ("n00000500", "class_500"),
        ("n00000999", "class_999"),
        ("n00000007", "class_7"),
    ]
    np.testing.assert_allclose([r[2] for r in out[0]], [0.5, 0.3, 0.2])
    assert [r[1] for r in out[1][:2]] == ["class_0", "class_1"]
    assert len(out[1]) == 3
    assert len(resnet50.decode_predictions(preds, class_index_path=path)[0]) == 5


def test_decode_predictions_reads_keras_cache(keras_home):
    (keras_home / "models").mkdir(parents=True)
    _write_class_index(keras_home / "models" / "imagenet_class_index.json")
    preds = np.eye(1000, dtype="float32")[[42]]
    out = mobilenet_v2.decode_predictions(preds, top=1)
    assert out == [[("n00000042", "class_42", np.float32(1.0))]]


def test_decode_predictions_errors(tmp_path, keras_home):
    with pytest.raises(ValueError, match=r"a 2D array of shape \(samples, 1000\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"Received array with shape: \(1000,\)"):
        imagenet_utils.decode_predictions(np.zeros(1000))
    with pytest.raises(DataNotAvailableError) as info:
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    message = str(info.value)
    assert "imagenet_class_index.json" in message and "does not download" in message
    assert os.path.join(str(keras_home), "models", "imagenet_class_index.json") in message
    with pytest.raises(FileNotFoundError, match="class_index_path"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)), class_index_path=tmp_path / "x")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="should hold a JSON object"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)), class_index_path=bad)
    short = _write_class_index(tmp_path / "short.json", n=10)
    preds = np.zeros((1, 1000))
    preds[0, 900] = 1.0
    with pytest.raises(ValueError, match="no entry for class 900"):
        imagenet_utils.decode_predictions(preds, top=1, class_index_path=short)


def test_no_warnings_for_standard_builds():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
