"""``callbacks.TensorBoard`` vs Keras 3's (TensorFlow backend): the same event files.

The same model (Keras's initial weights copied into ours) is fit in both libraries with
``shuffle=False``, validation data and a TensorBoard callback with the same arguments, each writing
its own log directory; both are read with TensorBoard's ``EventAccumulator`` (the plugin one, which
migrates legacy formats as the TensorBoard server does). Compared: the runs, the tags of every run,
each tag's plugin, steps and dtype/shape, and the values: scalars (but steps-per-second timings)
and histograms to the whole-training tolerances, images pixel by pixel, and the ``keras`` model
summary by architecture.

One difference is Keras's, and kept out: with an integer ``update_freq`` N, Keras's ``record_if``
for batch summaries stays active at the end of an epoch, so it drops the epoch's summaries (scalars
and histograms) unless the number of training batches since the start of ``fit`` is a multiple of
N, and the validation ``evaluation_*`` ones unless the number of validation batches is
(tensorflow/tensorflow#49109, open). numpykeras writes them every epoch, as documented; the test
checks that Keras's events are exactly those minus the ones that rule drops.
"""

import io
import json
import os

import numpy as np
import pytest

import numpykeras as nk

from tolerances import TRAINING_ATOL, TRAINING_RTOL, assert_close

pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")

EPOCHS = 2
TRAIN_BATCHES = 3  # 20 samples in batches of 8
VAL_BATCHES = 2  # 10 samples in batches of 8


# Explicit names: the tags hold the weights' paths, which must not depend on the name counters
# of what ran before in the session.
def build_mlp(module):
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((4,), name="x"),
            layers.Dense(5, activation="relu", name="hidden"),
            layers.Dense(3, name="logits"),
        ],
        name="mlp",
    )


def build_conv(module):
    """Conv kernels with one input channel are written as images, one per filter."""
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((6, 6, 1), name="x"),
            layers.Conv2D(4, 3, activation="relu", name="conv"),
            layers.Flatten(name="flatten"),
            layers.Dense(3, name="logits"),
        ],
        name="convnet",
    )


def _data(build, n, seed):
    rng = np.random.default_rng(seed)
    shape = (4,) if build is build_mlp else (6, 6, 1)
    return rng.normal(size=(n,) + shape).astype("float32"), rng.integers(0, 3, size=n)


def _read(path):
    """``{run: {tag: (plugin, [(step, array)])}}`` for the runs under ``path``."""
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util

    runs = {}
    for run in sorted(os.listdir(path)):
        accumulator = plugin_event_accumulator.EventAccumulator(
            os.path.join(path, run), size_guidance={"tensors": 0}
        )
        accumulator.Reload()
        runs[run] = {
            tag: (
                accumulator.SummaryMetadata(tag).plugin_data.plugin_name,
                [
                    (e.step, tensor_util.make_ndarray(e.tensor_proto))
                    for e in accumulator.Tensors(tag)
                ],
            )
            for tag in accumulator.Tags()["tensors"]
        }
    return runs


def _fit_both(keras, tmp_path, build, tensorboard_args):
    k_model, ours = build(keras), build(nk)
    ours.set_weights(k_model.get_weights())
    for module, model in ((keras, k_model), (nk, ours)):
        model.compile(
            optimizer=module.optimizers.Adam(learning_rate=0.01),
            loss=module.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    logs = {}
    for name, module, model in (("keras", keras, k_model), ("ours", nk, ours)):
        logs[name] = str(tmp_path / name)
        model.fit(
            *_data(build, 20, 0),
            batch_size=8,
            epochs=EPOCHS,
            validation_data=_data(build, 10, 1),
            shuffle=False,
            verbose=0,
            callbacks=[module.callbacks.TensorBoard(logs[name], **tensorboard_args)],
        )
    return _read(logs["keras"]), _read(logs["ours"])


def _png_pixels(blob):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)), dtype=np.int32)


def _compare_values(tag, plugin, value, k_value):
    if plugin == "scalars":
        if not tag.endswith("steps_per_second"):  # timings
            assert_close(value, k_value, TRAINING_ATOL, TRAINING_RTOL, tag)
    elif plugin == "histograms":
        # Edges from the weights' extremes; a count may move to a neighbouring bucket when a
        # weight sits on an edge to within the training tolerance.
        assert_close(value[:, :2], k_value[:, :2], TRAINING_ATOL, TRAINING_RTOL, tag)
        assert value[:, 2].sum() == k_value[:, 2].sum(), tag
        assert np.abs(value[:, 2] - k_value[:, 2]).max() <= 1, tag
    elif plugin == "images":
        assert value[:2].tolist() == k_value[:2].tolist(), tag  # width, height
        for blob, k_blob in zip(value[2:], k_value[2:]):
            # One grey level: value * 255.5 truncated, of weights equal to the training tolerance.
            assert np.abs(_png_pixels(blob) - _png_pixels(k_blob)).max() <= 1, tag
    elif plugin == "graph_keras_model":
        config, k_config = json.loads(value[0]), json.loads(k_value[0])
        assert config["class_name"] == k_config["class_name"], tag
        layers = [
            (layer["class_name"], layer["config"]["name"]) for layer in config["config"]["layers"]
        ]
        k_layers = [
            (layer["class_name"], layer["config"]["name"]) for layer in k_config["config"]["layers"]
        ]
        assert layers == k_layers, tag
    else:
        raise AssertionError(f"{tag}: unexpected plugin {plugin!r}")


def _keras_records(tag, step, update_freq):
    """Whether Keras 3 writes the event ``(tag, step)`` that numpykeras writes (see the module
    docstring): with an integer ``update_freq``, epoch-level events only when the batch count
    then is a multiple of it."""
    if update_freq == "epoch" or tag.startswith("batch_") or tag == "keras":
        return True
    if tag.startswith("evaluation_"):  # step: the optimizer's iterations after the epoch
        return (step // TRAIN_BATCHES) * VAL_BATCHES % update_freq == 0
    return (step + 1) * TRAIN_BATCHES % update_freq == 0  # step: the epoch


@pytest.mark.parametrize(
    ("build", "tensorboard_args"),
    [
        (build_mlp, {}),
        (build_mlp, {"update_freq": 2, "write_steps_per_second": True}),
        (build_mlp, {"update_freq": "batch", "histogram_freq": 1}),
        (build_conv, {"histogram_freq": 1, "write_images": True}),
    ],
    ids=["defaults", "update_freq_2", "batch_histograms", "conv_images"],
)
def test_event_files_match_keras(keras, tmp_path, build, tensorboard_args):
    k_runs, runs = _fit_both(keras, tmp_path, build, tensorboard_args)
    update_freq = tensorboard_args.get("update_freq", "epoch")
    update_freq = 1 if update_freq == "batch" else update_freq
    assert sorted(runs) == sorted(k_runs) == ["train", "validation"]
    for run, k_tags in k_runs.items():
        tags = runs[run]
        assert sorted(tags) == sorted(k_tags), run
        for tag, (k_plugin, k_events) in k_tags.items():
            plugin, events = tags[tag]
            assert plugin == k_plugin, tag
            if tag.startswith("epoch_") or tag.endswith("/histogram"):
                assert [step for step, _ in events] == list(range(EPOCHS)), tag
            events = [(s, v) for s, v in events if _keras_records(tag, s, update_freq)]
            assert [step for step, _ in events] == [step for step, _ in k_events], tag
            for (_, value), (_, k_value) in zip(events, k_events):
                assert (value.dtype, value.shape) == (k_value.dtype, k_value.shape), tag
                _compare_values(f"{run}/{tag}", plugin, value, k_value)
