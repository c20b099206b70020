"""``callbacks.TensorBoard``: the event files it writes, read back as TensorBoard reads them.

The files are read with TensorBoard's own TensorFlow-free path (its stub record reader, which checks
every record's CRC, then its ``data_compat`` / ``dataclass_compat`` migrations, as
``event_file_loader`` does when TensorFlow is absent), so these tests do not import TensorFlow.
The comparison with the files Keras itself writes is in
``tests/conformance/test_tensorboard_vs_keras.py``.
"""

import glob
import io
import json
import os
import sys

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import callbacks
from numpykeras.callbacks import tensorboard as tb_module

EPOCHS = 3
BATCHES_PER_EPOCH = 3  # 20 samples in batches of 8


@pytest.fixture(scope="module")
def reader():
    """``read_run(path) -> {tag: [(step, value, plugin_name)]}`` over every event file of a run."""
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
    from tensorboard.util import tensor_util

    def read_run(path):
        runs = {}
        paths = sorted(glob.glob(os.path.join(path, "*tfevents*")))
        assert paths, f"no event file in {path}"
        for file_path in paths:
            record_reader = pywrap_tensorflow.PyRecordReader_New(file_path)
            initial_metadata = {}
            while True:
                try:
                    record_reader.GetNext()
                except errors.OutOfRangeError:
                    break
                event = data_compat.migrate_event(
                    event_pb2.Event.FromString(record_reader.record())
                )
                for migrated in dataclass_compat.migrate_event(event, initial_metadata):
                    for value in migrated.summary.value:
                        plugin = initial_metadata[value.tag].plugin_data.plugin_name
                        array = tensor_util.make_ndarray(value.tensor)
                        runs.setdefault(value.tag, []).append((migrated.step, array, plugin))
        return runs

    return read_run


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, size=n)


def _mlp():
    nk.utils.set_random_seed(1)
    model = nk.Sequential(
        [
            nk.Input((4,)),
            nk.layers.Dense(5, activation="relu"),
            nk.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=nk.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _fit(model, log_dir, epochs=EPOCHS, **tensorboard_args):
    """Fit with validation data, the callback and a recorder of the batch logs."""
    x, y = _data()
    batch_logs = []
    recorder = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    tensorboard = callbacks.TensorBoard(log_dir=str(log_dir), **tensorboard_args)
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        validation_data=_data(10, seed=1),
        shuffle=False,
        verbose=0,
        callbacks=[tensorboard, recorder],
    )
    return history, batch_logs


def _series(run, tag):
    steps = [step for step, _, _ in run[tag]]
    values = [value for _, value, _ in run[tag]]
    return steps, values


def _f32(values):
    return np.asarray(values, dtype=np.float32)


# --------------------------------------------------------------------------- scalars


def test_epoch_scalars_equal_the_history(reader, tmp_path):
    model = _mlp()
    history, _ = _fit(model, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, validation = reader(tmp_path / "train"), reader(tmp_path / "validation")
    assert set(train) == {"keras", "epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert set(validation) == {
        "epoch_loss",
        "epoch_accuracy",
        "evaluation_loss_vs_iterations",
        "evaluation_accuracy_vs_iterations",
    }
    epochs = list(range(EPOCHS))
    iterations = [BATCHES_PER_EPOCH * (e + 1) for e in epochs]
    for name in ("loss", "accuracy"):
        steps, values = _series(train, f"epoch_{name}")
        assert steps == epochs
        assert all(v.dtype == np.float32 and v.shape == () for v in values)
        np.testing.assert_array_equal(values, _f32(history.history[name]))
        for tag, expected_steps in (
            (f"epoch_{name}", epochs),
            (f"evaluation_{name}_vs_iterations", iterations),
        ):
            steps, values = _series(validation, tag)
            assert steps == expected_steps, tag
            np.testing.assert_array_equal(values, _f32(history.history[f"val_{name}"]))
        assert {plugin for _, _, plugin in train[f"epoch_{name}"]} == {"scalars"}
    steps, values = _series(train, "epoch_learning_rate")
    assert steps == epochs
    np.testing.assert_array_equal(values, _f32([0.01] * EPOCHS))


def test_keras_model_config_summary(reader, tmp_path):
    """The model's config, which TensorBoard's Graphs tab turns into the layer graph."""
    from tensorboard.plugins.graph import keras_util

    model = _mlp()
    _fit(model, tmp_path, epochs=1)
    [(step, value, plugin)] = reader(tmp_path / "train")["keras"]
    assert (step, plugin, value.shape) == (0, "graph_keras_model", (1,))
    config = json.loads(value[0])
    assert config == json.loads(model.to_json())
    graph = keras_util.keras_model_to_graph_def(config)
    nodes = [(node.name, list(node.input)) for node in graph.node]
    names = [name for name, _ in nodes]
    assert names[1:] == [f"{model.name}/{layer.name}" for layer in model.layers]
    assert [inputs for _, inputs in nodes] == [[]] + [[name] for name in names[:-1]]


def test_functional_model_graph(reader, tmp_path):
    from tensorboard.plugins.graph import keras_util

    inputs = nk.Input((4,), name="x")
    a = nk.layers.Dense(3, name="a")(inputs)
    b = nk.layers.Dense(3, name="b")(inputs)
    model = nk.Model(inputs, nk.layers.Add(name="sum")([a, b]), name="net")
    model.compile(optimizer="sgd", loss="mse")
    tensorboard = callbacks.TensorBoard(tmp_path)
    model.fit(_data()[0], np.zeros((20, 3)), epochs=1, verbose=0, callbacks=[tensorboard])
    [(_, value, _)] = reader(tmp_path / "train")["keras"]
    graph = keras_util.keras_model_to_graph_def(json.loads(value[0]))
    inputs_of = {node.name: sorted(node.input) for node in graph.node}
    assert inputs_of["net/sum"] == ["net/a", "net/b"]
    assert inputs_of["net/a"] == inputs_of["net/b"] == ["net/x"]


def test_write_graph_false_writes_no_model_summary(reader, tmp_path):
    _fit(_mlp(), tmp_path, epochs=1, write_graph=False)
    assert "keras" not in reader(tmp_path / "train")


@pytest.mark.parametrize(
    ("update_freq", "steps"),
    [("batch", list(range(1, 10))), (1, list(range(1, 10))), (2, [2, 4, 6, 8])],
)
def test_batch_scalars_every_update_freq_batches(reader, tmp_path, update_freq, steps):
    model = _mlp()
    _, batch_logs = _fit(model, tmp_path, update_freq=update_freq, write_steps_per_second=True)
    train = reader(tmp_path / "train")
    assert {tag for tag in train if tag.startswith("batch_")} == {
        "batch_loss",
        "batch_accuracy",
        "batch_steps_per_second",
    }
    for name in ("loss", "accuracy"):
        written_steps, values = _series(train, f"batch_{name}")
        assert written_steps == steps
        # Step s is the s-th batch since the start of fit: its running logs.
        np.testing.assert_array_equal(values, _f32([batch_logs[s - 1][name] for s in steps]))
    written_steps, values = _series(train, "batch_steps_per_second")
    assert written_steps == steps and all(v > 0 for v in values)
    steps, values = _series(train, "epoch_steps_per_second")
    assert steps == list(range(EPOCHS)) and all(v > 0 for v in values)


def test_epoch_update_freq_writes_no_batch_scalars(reader, tmp_path):
    _fit(_mlp(), tmp_path, write_steps_per_second=True)
    assert not [tag for tag in reader(tmp_path / "train") if tag.startswith("batch_")]


def test_standalone_evaluate_writes_evaluation_scalars(reader, tmp_path):
    model = _mlp()
    _fit(model, tmp_path / "fit", epochs=2)
    x, y = _data(10, seed=2)
    logs = model.evaluate(
        x, y, verbose=0, return_dict=True, callbacks=[callbacks.TensorBoard(tmp_path / "eval")]
    )
    validation = reader(tmp_path / "eval" / "validation")
    assert set(validation) == {"evaluation_loss_vs_iterations", "evaluation_accuracy_vs_iterations"}
    for name in ("loss", "accuracy"):
        steps, values = _series(validation, f"evaluation_{name}_vs_iterations")
        assert steps == [2 * BATCHES_PER_EPOCH]
        np.testing.assert_array_equal(values, _f32([logs[name]]))


def test_validation_hooks_in_keras_order_write_evaluation_once(reader, tmp_path):
    """Keras's `fit` runs its validation through the callbacks' `on_test_*` hooks; numpykeras's
    `fit` does not, and the callback then takes the evaluation logs from the `val_` logs. Driven
    in Keras's order, the evaluation scalars come from `on_test_end`, once per epoch."""
    model = _mlp()
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)  # 3 optimizer steps
    hooks = callbacks.CallbackList([callbacks.TensorBoard(tmp_path)], model=model)
    hooks.on_train_begin()
    hooks.on_epoch_begin(0)
    hooks.on_test_begin()
    hooks.on_test_end({"loss": 0.5})
    hooks.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.25})
    hooks.on_train_end()
    validation = reader(tmp_path / "validation")
    steps, values = _series(validation, "evaluation_loss_vs_iterations")
    assert (steps, values) == ([BATCHES_PER_EPOCH], [0.5])
    assert _series(validation, "epoch_loss") == ([0], [0.25])


# --------------------------------------------------------------------------- weights


@pytest.mark.parametrize(("histogram_freq", "epochs"), [(1, [0, 1, 2]), (2, [0, 2])])
def test_weight_histograms(reader, tmp_path, histogram_freq, epochs):
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.util import tensor_util

    model = _mlp()
    _fit(model, tmp_path, histogram_freq=histogram_freq)
    train = reader(tmp_path / "train")
    histogram_tags = {tag for tag in train if tag.endswith("/histogram")}
    assert histogram_tags == {f"{w.path}/histogram" for w in model.weights}
    assert not [tag for tag in train if tag.endswith("/image")]
    for weight in model.weights:
        series = train[f"{weight.path}/histogram"]
        assert [step for step, _, _ in series] == epochs
        assert {plugin for _, _, plugin in series} == {"histograms"}
        _, last, _ = series[-1]  # the last epoch's weights are the final weights
        assert last.shape == (30, 3) and last.dtype == np.float64
        values = weight.numpy()
        expected = tensor_util.make_ndarray(histogram_pb("t", values).value[0].tensor)
        np.testing.assert_array_equal(last, expected)
        assert last[:, 2].sum() == values.size
        assert (last[0, 0], last[-1, 1]) == (values.min(), values.max())


def test_histogram_buckets_match_tensorboard():
    pytest.importorskip("tensorboard")
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.util import tensor_util

    rng = np.random.default_rng(3)
    for data in (rng.normal(size=(7, 9)).astype("float32"), np.full(5, 0.25), np.zeros(0)):
        expected = tensor_util.make_ndarray(histogram_pb("t", data).value[0].tensor)
        np.testing.assert_array_equal(tb_module.histogram_buckets(data), expected)


def _png_pixels(blob):
    Image = pytest.importorskip("PIL.Image")
    return np.asarray(Image.open(io.BytesIO(blob)))


def test_weight_images(reader, tmp_path):
    """Keras's image rules: a bias is an n x 1 image, a dense kernel one image (longer side as
    width), a conv kernel with one input channel one image per filter (the first 3 written), a
    conv kernel with 2 input channels and 8 filters none."""
    nk.utils.set_random_seed(2)
    model = nk.Sequential(
        [
            nk.Input((6, 6, 1)),
            nk.layers.Conv2D(4, 3, activation="relu"),
            nk.layers.Conv2D(8, 3, use_bias=False),
            nk.layers.Flatten(),
            nk.layers.Dense(3),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).random((8, 6, 6, 1), dtype=np.float32)
    y = np.zeros((8, 3), np.float32)
    tensorboard = callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[tensorboard])
    train = reader(tmp_path / "train")
    conv, conv_1, dense = (layer.weights for layer in model.layers if layer.weights)
    expected_shapes = {  # (width, height, images written)
        conv[0].path: (3, 3, 3),  # kernel (3, 3, 1, 4): 4 filters, 3 written
        conv[1].path: (1, 4, 1),  # bias (4,)
        dense[0].path: (32, 3, 1),  # kernel (32, 3): transposed to 3 x 32
        dense[1].path: (1, 3, 1),
    }
    assert {tag for tag in train if tag.endswith("/image")} == {
        f"{path}/image" for path in expected_shapes
    }
    assert conv_1[0].path + "/histogram" in train  # histogram but no image
    for weight in (*conv, *dense):
        [(step, value, plugin)] = train[f"{weight.path}/image"]
        width, height, count = expected_shapes[weight.path]
        assert (step, plugin) == (0, "images")
        assert value[:2].tolist() == [str(width).encode(), str(height).encode()]
        assert len(value) == 2 + count
        expected = tb_module.weight_image(weight.numpy())
        assert expected.shape[1:] == (height, width, 1)
        for image, blob in zip(expected, value[2:]):
            np.testing.assert_array_equal(_png_pixels(blob), image[..., 0])


def test_weight_image_pixels_follow_convert_image_dtype():
    weight = np.array([-1.0, 0.0, 0.5, 0.999, 1.0, 3.0], np.float32)
    pixels = tb_module.weight_image(weight)[0, :, 0, 0]
    # value * 255.5, clipped to [0, 255] and truncated (tf.image.convert_image_dtype(saturate)).
    assert pixels.tolist() == [0, 0, 127, 255, 255, 255]
    assert tb_module.weight_image(np.zeros((3, 3, 2, 8))) is None  # 8 channels: no image


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_encode_png(channels):
    image = np.random.default_rng(channels).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    pixels = _png_pixels(tb_module.encode_png(image))
    np.testing.assert_array_equal(pixels, image[..., 0] if channels == 1 else image)


# --------------------------------------------------------------------------- embeddings


def test_embeddings_projector_config_and_checkpoints(reader, tmp_path):
    text_format = pytest.importorskip("google.protobuf.text_format")
    from tensorboard.plugins.projector import projector_config_pb2

    nk.utils.set_random_seed(4)
    model = nk.Sequential(
        [
            nk.Input((3,), dtype="int32"),
            nk.layers.Embedding(10, 2, name="words"),
            nk.layers.Flatten(),
            nk.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).integers(0, 10, (8, 3))
    metadata = {"words": 'meta "ü".tsv'}
    tensorboard = callbacks.TensorBoard(tmp_path, embeddings_freq=2, embeddings_metadata=metadata)
    model.fit(x, np.zeros((8, 1)), epochs=3, verbose=0, callbacks=[tensorboard])
    assert metadata == {"words": 'meta "ü".tsv'}  # the argument is not consumed
    with open(tmp_path / "projector_config.pbtxt") as f:
        config = text_format.Parse(f.read(), projector_config_pb2.ProjectorConfig())
    [embedding] = config.embeddings
    assert embedding.tensor_name == "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    assert embedding.metadata_path == 'meta "ü".tsv'
    saved = sorted(name for name in os.listdir(tmp_path / "train") if name.endswith(".h5"))
    assert saved == ["keras_embedding.ckpt-0.weights.h5", "keras_embedding.ckpt-2.weights.h5"]
    restored = nk.models.clone_model(model)
    restored.load_weights(tmp_path / "train" / "keras_embedding.ckpt-2.weights.h5")
    np.testing.assert_array_equal(restored.get_weights()[0], model.get_weights()[0])


def test_unknown_embeddings_metadata_name_raises(tmp_path):
    pytest.importorskip("tensorboardX")
    model = nk.Sequential([nk.Input((3,), dtype="int32"), nk.layers.Embedding(10, 2)])
    tensorboard = callbacks.TensorBoard(
        tmp_path, embeddings_freq=1, embeddings_metadata={"nope": "m.tsv"}
    )
    with pytest.raises(ValueError, match="Unrecognized `Embedding` layer names.*nope"):
        tensorboard.set_model(model)


# --------------------------------------------------------------------------- arguments


def test_missing_tensorboardx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'tensorboardX.*pip install "numpykeras\[tensorboard\]"'):
        callbacks.TensorBoard()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"profile_batch": 5}, "Profiling is not available.*profile_batch=5"),
        ({"profile_batch": (2, 4)}, "Profiling is not available"),
        ({"profile_batch": None}, "profile_batch must be a non-negative integer"),
        ({"update_freq": "step"}, "`update_freq` must be"),
        ({"update_freq": 0}, "`update_freq` must be"),
        ({"histogram_freq": -1}, "`histogram_freq` must be a non-negative integer"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    pytest.importorskip("tensorboardX")
    with pytest.raises(ValueError, match=match):
        callbacks.TensorBoard(**kwargs)


def test_defaults_are_keras(tmp_path):
    pytest.importorskip("tensorboardX")
    tensorboard = callbacks.TensorBoard()
    assert (tensorboard.log_dir, tensorboard.histogram_freq, tensorboard.update_freq) == (
        "logs",
        0,
        "epoch",
    )
    assert (tensorboard.write_graph, tensorboard.write_images) == (True, False)
    assert callbacks.TensorBoard(update_freq="batch").update_freq == 1
    assert "TensorBoard" in callbacks.__all__
