"""``TensorBoard``: Keras 3's callback that writes event files for TensorBoard, without TensorFlow.

The events are the ones Keras 3 writes through ``tf.summary``, in the same runs (``log_dir/train``,
``log_dir/validation``) under the same tags and steps: scalars as float32 tensors of the
``scalars`` plugin, weight histograms as ``[30, 3]`` float64 tensors of ``(left edge, right edge,
count)`` (TensorBoard's own bucketing), kernel images as PNGs of the ``images`` plugin and the
model's config as the ``"keras"`` summary of the ``graph_keras_model`` plugin, which TensorBoard's
Graphs tab draws. The event-file records are written by ``tensorboardX`` (an optional dependency:
``pip install "numpykeras[tensorboard]"``); the summaries are built here from its protocol buffers.
"""

from __future__ import annotations

import itertools
import os
import struct
import time
import warnings
import zlib

import numpy as np

from numpykeras.callbacks import Callback

__all__ = ["TensorBoard"]

# TensorBoard's default number of histogram buckets (``tf.summary.histogram(buckets=None)``).
_HISTOGRAM_BUCKETS = 30
# ``tf.summary.image``'s default ``max_outputs``: the first 3 images of a batch are kept.
_MAX_IMAGES = 3
# Event files of one process get distinct names even when opened in the same second.
_FILE_COUNTER = itertools.count()
# `SummaryMetadata.data_class` (field 4, TensorBoard's `DataClass` enum), which tensorboardX's copy
# of the proto lacks: written as an unknown field so the events carry it as `tf.summary`'s do.
_DATA_CLASS = {"scalars": 1, "histograms": 2, "images": 3, "graph_keras_model": 3}


def _import_tensorboardx():
    try:
        from tensorboardX import event_file_writer, record_writer
        from tensorboardX.proto import (
            event_pb2,
            summary_pb2,
            tensor_pb2,
            tensor_shape_pb2,
            types_pb2,
        )
    except ImportError as error:
        raise ImportError(
            "The `TensorBoard` callback writes its event files with the `tensorboardX` package, "
            "which is not installed (numpykeras does not use TensorFlow). Install it with "
            '`pip install "numpykeras[tensorboard]"` (or `pip install tensorboardX`).'
        ) from error
    return {
        "EventsWriter": event_file_writer.EventsWriter,
        "directory_check": record_writer.directory_check,
        "Event": event_pb2.Event,
        "Summary": summary_pb2.Summary,
        "SummaryMetadata": summary_pb2.SummaryMetadata,
        "TensorProto": tensor_pb2.TensorProto,
        "TensorShapeProto": tensor_shape_pb2.TensorShapeProto,
        "types": types_pb2,
    }


# --------------------------------------------------------------------------- summary values


def histogram_buckets(values, bucket_count=_HISTOGRAM_BUCKETS) -> np.ndarray:
    """The ``[bucket_count, 3]`` float64 histogram ``tf.summary.histogram`` writes.

    Each row is ``(left_edge, right_edge, count)``: ``bucket_count`` equal-width buckets from the
    minimum to the maximum (the last one closed); one distinct value puts every count in the last
    bucket with all edges at that value; no values give zeros.

    Args:
        values: array of any shape, castable to float64.
        bucket_count: number of buckets.

    Returns:
        float64 array of shape ``(bucket_count, 3)``.
    """
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.size == 0 or bucket_count <= 0:
        return np.zeros((max(bucket_count, 0), 3), dtype=np.float64)
    low, high = data.min(), data.max()
    if high == low:
        counts = np.zeros(bucket_count, dtype=np.float64)
        counts[-1] = data.size
        edges = np.full(bucket_count, high)
        return np.stack([edges, edges, counts], axis=1)
    width = (high - low) / bucket_count
    index = np.minimum(np.floor((data - low) / width).astype(np.int64), bucket_count - 1)
    counts = np.bincount(index, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(low, high, bucket_count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def weight_image(values):
    """A weight as Keras's TensorBoard shows it: ``(images, height, width, channels)`` uint8, or
    ``None`` when Keras writes no image for that shape.

    The weight is squeezed; a vector becomes one ``n x 1`` image, a matrix one image with the
    longer side as width, a 3-D array one image per last-axis slice (a conv kernel's filters).
    Pixels are ``tf.image.convert_image_dtype``'s: ``value * 255.5`` clipped to ``[0, 255]``, so
    weights at or below 0 are black and at or above 1 white. 4-D images need 1, 3 or 4 channels.

    Args:
        values: the weight's value (floating point).

    Returns:
        uint8 array of shape ``(images, height, width, channels)``, or ``None``.
    """
    image = np.squeeze(np.asarray(values, dtype=np.float32))
    if image.ndim == 1:  # a bias
        image = image.reshape(1, image.shape[0], 1, 1)
    elif image.ndim == 2:  # a dense kernel, wider than tall
        if image.shape[0] > image.shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif image.ndim == 3:  # a conv kernel (channels last): one image per filter
        image = np.transpose(image, (2, 0, 1))[..., None]
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        return None
    return np.clip(image * np.float32(255.5), 0, 255).astype(np.uint8)


def encode_png(image) -> bytes:
    """PNG bytes of a ``(height, width, channels)`` uint8 image (1, 3 or 4 channels)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width, channels = image.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]  # grayscale, RGB, RGBA

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    # Each scanline starts with filter type 0 (none).
    rows = np.concatenate(
        [np.zeros((height, 1), np.uint8), image.reshape(height, width * channels)], axis=1
    )
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes()))
        + chunk(b"IEND", b"")
    )


def _scalar(value):
    """``value`` as a Python float when it is a single number, else ``None``."""
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return float(array) if array.size == 1 else None


def _text_format_string(text) -> str:
    """``text`` as a quoted string of the protocol-buffer text format (C escapes, UTF-8 bytes
    outside printable ASCII in octal), as ``google.protobuf.text_format`` writes it."""
    escapes = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
    escapes.update({ord(c): "\\" + c for c in "\"'\\"})
    parts = []
    for byte in str(text).encode("utf-8"):
        if byte in escapes:
            parts.append(escapes[byte])
        elif 32 <= byte < 127:
            parts.append(chr(byte))
        else:
            parts.append(f"\\{byte:03o}")
    return '"' + "".join(parts) + '"'


# --------------------------------------------------------------------------- event files


class _EventFile:
    """One run's event file: summaries in the form ``tf.summary`` writes them (tensor values
    tagged with their TensorBoard plugin), one event per value."""

    def __init__(self, logdir, tbx):
        self._tbx = tbx
        tbx["directory_check"](logdir)
        suffix = f".{os.getpid()}.{next(_FILE_COUNTER)}.v2"
        self._writer = tbx["EventsWriter"](os.path.join(logdir, "events"), suffix)

    def _write(self, tag, plugin_name, tensor, step, content=b""):
        tbx = self._tbx
        metadata = tbx["SummaryMetadata"](
            plugin_data=tbx["SummaryMetadata"].PluginData(plugin_name=plugin_name, content=content)
        )
        metadata.MergeFromString(bytes([4 << 3, _DATA_CLASS[plugin_name]]))  # field 4, varint
        value = tbx["Summary"].Value(tag=tag, tensor=tensor, metadata=metadata)
        event = tbx["Event"](wall_time=time.time(), step=int(step))
        event.summary.value.append(value)
        self._writer.write_event(event)

    def _tensor(self, dtype, shape, **fields):
        tbx = self._tbx
        dims = [tbx["TensorShapeProto"].Dim(size=size) for size in shape]
        return tbx["TensorProto"](
            dtype=dtype, tensor_shape=tbx["TensorShapeProto"](dim=dims), **fields
        )

    def scalar(self, tag, value, step):
        data = np.asarray(value, dtype="<f4").tobytes()
        tensor = self._tensor(self._tbx["types"].DT_FLOAT, (), tensor_content=data)
        self._write(tag, "scalars", tensor, step)

    def histogram(self, tag, values, step):
        buckets = histogram_buckets(values).astype("<f8")
        tensor = self._tensor(
            self._tbx["types"].DT_DOUBLE, buckets.shape, tensor_content=buckets.tobytes()
        )
        self._write(tag, "histograms", tensor, step)

    def images(self, tag, images, step):
        """``images``: uint8 ``(n, height, width, channels)``; the first 3 are written."""
        _, height, width, _ = images.shape
        blobs = [str(width).encode(), str(height).encode()]
        blobs += [encode_png(image) for image in images[:_MAX_IMAGES]]
        tensor = self._tensor(self._tbx["types"].DT_STRING, (len(blobs),), string_val=blobs)
        self._write(tag, "images", tensor, step)

    def keras_model(self, tag, json_text, step):
        tensor = self._tensor(
            self._tbx["types"].DT_STRING, (1,), string_val=[json_text.encode("utf-8")]
        )
        self._write(tag, "graph_keras_model", tensor, step, content=b"1")

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


# --------------------------------------------------------------------------- the callback


def _non_negative_int(value, name):
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer. Received: {name}={value!r} "
            f"(of type {type(value).__name__})."
        )
    return int(value)


def _steps(value) -> int:
    """A step count (a Variable, an array or an int) as an int."""
    return int(np.asarray(value))


class TensorBoard(Callback):
    """Write the training logs, weight histograms and the model's config for TensorBoard.

    Event files go to ``log_dir/train`` and ``log_dir/validation`` with Keras 3's tags and
    steps, so ``tensorboard --logdir log_dir`` shows the same plots as for a Keras model:

    * ``epoch_<name>`` after each epoch (step: the epoch index) for every log of ``fit``, the
      training ones and ``epoch_learning_rate`` under ``train``, the ``val_`` ones (prefix
      removed) under ``validation``;
    * ``evaluation_<name>_vs_iterations`` under ``validation`` after each validation pass of
      ``fit`` and each ``evaluate`` given this callback (step: ``model.optimizer.iterations``);
    * ``batch_<name>`` every ``update_freq`` training batches (step: the batch count since the
      start of ``fit``, from 1);
    * ``<weight.path>/histogram`` (and ``<weight.path>/image`` with ``write_images``) for every
      weight of ``model.layers`` every ``histogram_freq`` epochs;
    * ``keras`` (step 0, ``train``): the model's JSON config, which the Graphs tab draws as the
      model's conceptual graph (Sequential and functional models, as in Keras).

    The files are written with ``tensorboardX`` (``pip install "numpykeras[tensorboard]"``);
    TensorFlow is not needed. Reading the logs back:
    ``tensorboard.backend.event_processing.event_accumulator.EventAccumulator(path).Tensors(tag)``.

    Args:
        log_dir: the directory of the event files (``train/`` and ``validation/`` are made under
            it). It should not be shared with other callbacks.
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph: write the model's config as the ``keras`` summary. There is no TensorFlow
            op graph to write (Keras 3 writes none either).
        write_images: with ``histogram_freq``, also write each weight as an image, by Keras's
            rules: biases, dense kernels, and conv kernels with one input channel (one image per
            filter, the first 3 kept) or with 1, 3 or 4 filters. Pixels are the weight values
            times 255 clipped to ``[0, 255]``, as ``tf.summary.image`` makes them.
        write_steps_per_second: also write ``epoch_steps_per_second`` (optimizer steps per
            second of the epoch) and, with batch-level logging, ``batch_steps_per_second``.
        update_freq: ``"epoch"`` (epoch logs only), ``"batch"`` (also the running logs after
            every batch) or an integer ``N`` (after every ``N``-th batch). The epoch-level
            summaries are written every epoch in all cases (Keras 3 skips those of an epoch
            whose last batch count is not a multiple of an integer ``update_freq``).
        profile_batch: must be 0: numpykeras has no profiler (Keras's NumPy and PyTorch backends
            have none either and raise the same ``ValueError``).
        embeddings_freq: every this many epochs, save the weights to
            ``log_dir/train/keras_embedding.ckpt-<epoch>.weights.h5`` (as Keras 3 does), after
            writing ``log_dir/projector_config.pbtxt`` naming the model's ``Embedding`` layers.
            As with Keras 3, TensorBoard's projector cannot read these ``.weights.h5`` files.
        embeddings_metadata: a metadata file name for every ``Embedding`` layer, or a dict from
            ``Embedding`` layer names to file names (written into ``projector_config.pbtxt``).

    Example:

    ```python
    tensorboard = keras.callbacks.TensorBoard(log_dir="./logs", histogram_freq=1)
    model.fit(x_train, y_train, epochs=2, validation_split=0.2, callbacks=[tensorboard])
    # then: tensorboard --logdir ./logs
    ```

    Raises:
        ImportError: ``tensorboardX`` is not installed.
        ValueError: ``profile_batch`` is not 0, or an argument has the wrong type or range.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self._tbx = _import_tensorboardx()
        self.log_dir = str(log_dir)
        self.histogram_freq = _non_negative_int(histogram_freq, "histogram_freq")
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            not isinstance(update_freq, (int, np.integer))
            or isinstance(update_freq, bool)
            or update_freq < 1
        ):
            raise ValueError(
                '`update_freq` must be "epoch", "batch" or a positive integer. '
                f"Received: update_freq={update_freq!r}"
            )
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        if profile_batch:
            raise ValueError(
                "Profiling is not available in numpykeras (it has no profiler, as Keras's numpy "
                f"backend has none). Received: profile_batch={profile_batch} (must be 0)"
            )
        if not isinstance(profile_batch, (int, np.integer)):
            raise ValueError(
                "profile_batch must be a non-negative integer or 2-tuple of positive integers. "
                f"A pair of positive integers signifies a range of batches to profile. Found: "
                f"{profile_batch}"
            )
        self.embeddings_freq = _non_negative_int(embeddings_freq, "embeddings_freq")
        self.embeddings_metadata = embeddings_metadata
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0
        self._in_fit = False
        self._evaluated_this_epoch = False
        # Created on first use, so a run with nothing to write makes no file.
        self._writers = {}

    # -- writers --------------------------------------------------------------------------

    def set_model(self, model):
        """Sets the model; writes its config (``write_graph``) and the projector config."""
        self._close_writers()
        self._model = model
        self._log_write_dir = self.log_dir
        self._train_dir = os.path.join(self._log_write_dir, "train")
        self._val_dir = os.path.join(self._log_write_dir, "validation")
        if self.write_graph:
            self._write_keras_model_summary()
        if self.embeddings_freq:
            self._configure_embeddings()

    def _writer(self, run):
        if run not in self._writers:
            logdir = self._train_dir if run == "train" else self._val_dir
            self._writers[run] = _EventFile(logdir, self._tbx)
        return self._writers[run]

    @property
    def _train_writer(self):
        return self._writer("train")

    @property
    def _val_writer(self):
        return self._writer("val")

    def _flush_writers(self):
        for writer in self._writers.values():
            writer.flush()

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write_keras_model_summary(self):
        writer = self._train_writer
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        try:
            json_text = self.model.to_json()
        except Exception as error:  # a model that cannot be serialized still trains
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {error}", stacklevel=2)
            return
        writer.keras_model("keras", json_text, step=0)
        writer.flush()

    def _configure_embeddings(self):
        from numpykeras.layers import Embedding

        metadata = self.embeddings_metadata
        if metadata is not None and not isinstance(metadata, str):
            metadata = dict(metadata)
        lines = []
        for layer in self.model.layers:
            if not isinstance(layer, Embedding):
                continue
            # Keras names the first weighted layer's table, whichever layer this is.
            lines += [
                "embeddings {",
                "  tensor_name: "
                + _text_format_string("layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"),
            ]
            path = metadata if isinstance(metadata, str) else None
            if isinstance(metadata, dict) and layer.name in metadata:
                path = metadata.pop(layer.name)
            if path is not None:
                lines.append("  metadata_path: " + _text_format_string(path))
            lines.append("}")
        if metadata and not isinstance(metadata, str):
            raise ValueError(
                "Unrecognized `Embedding` layer names passed to `keras.callbacks.TensorBoard` "
                f"`embeddings_metadata` argument: {metadata.keys()}"
            )
        os.makedirs(self._log_write_dir, exist_ok=True)
        with open(os.path.join(self._log_write_dir, "projector_config.pbtxt"), "w") as f:
            f.write("".join(line + "\n" for line in lines))

    # -- hooks ----------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_test_end(self, logs=None):
        self._log_evaluation(logs or {})
        self._evaluated_this_epoch = True
        if not self._in_fit:  # a standalone `evaluate`: nothing else will close the files
            self._close_writers()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        writer = self._train_writer
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            writer.scalar("batch_steps_per_second", 1.0 / max(elapsed, 1e-9), step)
        for name, value in (logs or {}).items():
            value = _scalar(value)
            if value is not None:
                writer.scalar(f"batch_{name}", value, step)

    def on_epoch_begin(self, epoch, logs=None):
        self._evaluated_this_epoch = False
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations() or 0
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        """Writes the epoch's logs and, every ``histogram_freq`` epochs, the weights."""
        logs = logs or {}
        if not self._evaluated_this_epoch:
            # `fit` ran its validation without this callback's `on_test_end`: the validation
            # logs are the epoch's `val_` logs.
            val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
            if val_logs:
                self._log_evaluation(val_logs)
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        self._flush_writers()

    # -- what is written ------------------------------------------------------------------

    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "iterations"):
            return None
        return _steps(optimizer.iterations)

    def _log_evaluation(self, logs):
        iterations = self._iterations()
        if iterations is None:
            return
        for name, value in logs.items():
            value = _scalar(value)
            if value is not None:
                self._val_writer.scalar(f"evaluation_{name}_vs_iterations", value, iterations)

    def _collect_learning_rate(self, logs):
        from numpykeras.optimizers import Optimizer

        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if hasattr(optimizer, "optimizers"):
            for inner in optimizer.optimizers:
                logs[f"learning_rate_{inner.name}"] = float(inner.learning_rate)
        elif isinstance(optimizer, Optimizer):
            logs["learning_rate"] = float(optimizer.learning_rate)
        return logs

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train_logs = self._collect_learning_rate(train_logs)
        if self.write_steps_per_second:
            elapsed = time.time() - self._epoch_start_time
            steps = (self._iterations() or 0) - self._previous_epoch_iterations
            train_logs["steps_per_second"] = steps / max(elapsed, 1e-9)
        for run, run_logs in (("train", train_logs), ("val", val_logs)):
            for name, value in run_logs.items():
                value = _scalar(value)
                if value is not None:
                    self._writer(run).scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch):
        writer = self._train_writer
        for layer in self.model.layers:
            for weight in layer.weights:
                tag = weight.path.replace(":", "_")
                values = np.asarray(weight)
                writer.histogram(f"{tag}/histogram", values, epoch)
                if self.write_images and np.issubdtype(values.dtype, np.floating):
                    images = weight_image(values)
                    if images is not None:
                        writer.images(f"{tag}/image", images, epoch)

    def _log_embeddings(self, epoch):
        os.makedirs(self._train_dir, exist_ok=True)
        path = os.path.join(self._train_dir, f"keras_embedding.ckpt-{epoch}.weights.h5")
        self.model.save_weights(path)
