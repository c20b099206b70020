"""Utilities shared by the ImageNet models: input preprocessing, prediction decoding, input-shape
checks and the look-up of pretrained weight files in Keras's cache.

numpykeras never downloads model weights or the class index: it reads the files Keras stores in
its cache (``~/.keras/models/``, or ``$KERAS_HOME/models/``), or a path the user passes.
"""

from __future__ import annotations

import json
import os
import threading
import warnings

import numpy as np

from numpykeras import activations, backend
from numpykeras.layers.input_layer import InputLayer
from numpykeras.layers.node import KerasTensor
from numpykeras.utils import file_utils
from numpykeras.utils.file_utils import DataNotAvailableError

__all__ = ["decode_predictions", "preprocess_input"]

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_PATH = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
NUM_IMAGENET_CLASSES = 1000

# Per-channel statistics of the ImageNet training set.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # 0-255 scale, BGR order
TORCH_MEAN_RGB = (0.485, 0.456, 0.406)  # 0-1 scale, RGB order
TORCH_STD_RGB = (0.229, 0.224, 0.225)

_MODES = ("caffe", "tf", "torch")
_DATA_FORMATS = ("channels_first", "channels_last")

# Parsed class-index files, by absolute path (Keras keeps the one it downloads in a global).
_CLASS_INDEX_CACHE: dict = {}
_CLASS_INDEX_LOCK = threading.Lock()


def image_data_format() -> str:
    """numpykeras models are NHWC: always ``"channels_last"``."""
    return "channels_last"


# --------------------------------------------------------------------------- preprocessing


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocesses a NumPy array encoding a batch of images (values in ``[0, 255]``).

    Like Keras, a floating-point array is modified in place (pass ``np.copy(x)`` to keep it);
    integer arrays are first converted to float32.

    Args:
        x: a 3D ``(H, W, 3)`` or 4D ``(N, H, W, 3)`` array (channels first with
            ``data_format="channels_first"``), RGB, values in ``[0, 255]``.
        data_format: ``"channels_last"``, ``"channels_first"``, or ``None`` (channels last).
        mode: ``"caffe"`` (RGB to BGR, then subtract the ImageNet mean pixel, no scaling),
            ``"tf"`` (scale to ``[-1, 1]``) or ``"torch"`` (scale to ``[0, 1]``, then normalise
            each channel with the ImageNet mean and standard deviation).

    Returns:
        The preprocessed array (the input itself for float arrays in ``"tf"`` mode, a
        channel-reversed view of it in ``"caffe"`` mode).

    Raises:
        ValueError: for an unknown ``mode`` or ``data_format``.
    """
    if mode not in _MODES:
        raise ValueError(
            f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}"
        )
    if data_format is None:
        data_format = image_data_format()
    elif data_format not in _DATA_FORMATS:
        raise ValueError(
            "Expected data_format to be one of `channels_first` or `channels_last`. "
            f"Received: data_format={data_format}"
        )
    if isinstance(x, KerasTensor):
        raise TypeError(
            "numpykeras's `preprocess_input` works on NumPy arrays; it cannot be applied to a "
            f"symbolic KerasTensor. Received: {x!r}"
        )
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(backend.floatx())
    channel_axis = -1 if data_format == "channels_last" else x.ndim - 3
    if mode != "tf":  # per-channel statistics: the channel axis must hold R, G, B
        if (data_format == "channels_first" and x.ndim not in (3, 4)) or (
            x.ndim == 0 or x.shape[channel_axis] != 3
        ):
            raise ValueError(
                f"`preprocess_input` with mode={mode!r} expects images with 3 color channels "
                f"({'(3, H, W) or (N, 3, H, W)' if data_format == 'channels_first' else '(..., 3)'}"
                f" for data_format={data_format}). Received an array of shape {x.shape}"
            )

    if mode == "tf":
        x /= 127.5  # [0, 255] -> [0, 2]
        x -= 1.0  # -> [-1, 1]
        return x
    if mode == "torch":
        x /= 255.0  # [0, 255] -> [0, 1]
        mean, std = TORCH_MEAN_RGB, TORCH_STD_RGB
    else:
        x = np.flip(x, axis=channel_axis)  # RGB -> BGR (a view: still writes into the input)
        mean, std = CAFFE_MEAN_BGR, None

    stat_shape = [1] * x.ndim
    stat_shape[channel_axis] = 3
    x -= np.asarray(mean, dtype=x.dtype).reshape(stat_shape)  # zero-centre each channel
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(stat_shape)
    return x


# --------------------------------------------------------------------------- decoding


def _class_index_path(class_index_path):
    """The class-index file to read: ``class_index_path``, or the copy in Keras's cache."""
    if class_index_path is not None:
        path = os.fspath(class_index_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"The ImageNet class index file was not found at class_index_path={path}"
            )
        return path
    roots = file_utils.cache_roots()
    for root in roots:
        path = os.path.join(root, "models", CLASS_INDEX_FILE)
        if os.path.isfile(path):
            return path
    target = os.path.join(roots[0], "models", CLASS_INDEX_FILE)
    raise DataNotAvailableError(
        f"`decode_predictions` needs the ImageNet class index '{CLASS_INDEX_FILE}', which is not "
        f"in the Keras cache, and numpykeras does not download it. Download {CLASS_INDEX_PATH} "
        "(or run `keras.applications.imagenet_utils.decode_predictions` once on a machine with "
        f"internet access) and save it as {target}, or pass its location as `class_index_path`."
    )


def _load_class_index(path) -> dict:
    key = os.path.abspath(path)
    with _CLASS_INDEX_LOCK:
        if key in _CLASS_INDEX_CACHE:
            return _CLASS_INDEX_CACHE[key]
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"The class index file {path} is not valid JSON: {e}") from None
    if not isinstance(index, dict):
        raise ValueError(
            f"The class index file {path} should hold a JSON object mapping class numbers "
            '("0" ... "999") to [wordnet_id, description] pairs. '
            f"Received a JSON {type(index).__name__}."
        )
    for k, v in index.items():
        if not (isinstance(v, (list, tuple)) and len(v) == 2):
            raise ValueError(
                f"The class index file {path} maps class {k!r} to {v!r}; expected a "
                "[wordnet_id, description] pair."
            )
    with _CLASS_INDEX_LOCK:
        _CLASS_INDEX_CACHE[key] = index
    return index


def decode_predictions(preds, top=5, class_index_path=None):
    """Decodes the predictions of an ImageNet model.

    Args:
        preds: array of shape ``(samples, 1000)``: one score per ImageNet class.
        top: how many top guesses to return per sample.
        class_index_path: path of ``imagenet_class_index.json``; ``None`` reads the copy in Keras's
            cache (``~/.keras/models/imagenet_class_index.json``).

    Returns:
        One list per sample of ``(class_name, class_description, score)`` tuples, best first.

    Raises:
        ValueError: if ``preds`` is not 2D with 1000 columns, or the class index file is malformed.
        FileNotFoundError: if the class index file is neither at ``class_index_path`` nor in the
            cache (a ``DataNotAvailableError`` in the latter case, saying where to put it).
    """
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, 1000)). Received array with shape: {preds.shape}"
        )
    index = _load_class_index(_class_index_path(class_index_path))
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = []
        for i in top_indices:
            if str(i) not in index:
                raise ValueError(
                    f"The class index has no entry for class {i}: it should map every class "
                    f'number "0" ... "{NUM_IMAGENET_CLASSES - 1}" to a [wordnet_id, description] '
                    "pair."
                )
            result.append(tuple(index[str(i)]) + (pred[i],))
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


# --------------------------------------------------------------------------- model building


def obtain_input_shape(
    input_shape, default_size, min_size, data_format, require_flatten, weights=None
):
    """Validate a model's ``input_shape`` argument, or give its default, as Keras does.

    Args:
        input_shape: ``None`` (the default shape) or a user-provided shape to validate.
        default_size: the model's default image height and width.
        min_size: the smallest height and width the model accepts.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        require_flatten: whether the model ends in a classifier that needs a static shape
            (``include_top=True``).
        weights: ``None``, ``"imagenet"`` (requires 3 channels) or a file path.

    Returns:
        The input shape, a tuple of 3 entries (``None`` for a free spatial size).

    Raises:
        ValueError: for a shape that the model cannot take.
    """
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if data_format == "channels_first" else input_shape[-1]
        if channels not in {1, 3}:
            warnings.warn(
                "This model usually expects 1 or 3 input channels. However, it was passed an "
                f"input_shape with {channels} input channels.",
                stacklevel=3,
            )
        if data_format == "channels_first":
            default_shape = (input_shape[0], default_size, default_size)
        else:
            default_shape = (default_size, default_size, input_shape[-1])
    elif data_format == "channels_first":
        default_shape = (3, default_size, default_size)
    else:
        default_shape = (default_size, default_size, 3)

    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                "When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                f"should be {default_shape}.  Received: input_shape={input_shape}"
            )
        return default_shape

    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if data_format == "channels_first":
            channels, rows, cols = input_shape
        else:
            rows, cols, channels = input_shape
        if channels != 3 and weights == "imagenet":
            raise ValueError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`"
            )
        if (rows is not None and rows < min_size) or (cols is not None and cols < min_size):
            raise ValueError(
                f"Input size must be at least {min_size}x{min_size}; Received: "
                f"input_shape={input_shape}"
            )
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if data_format == "channels_first" else (None, None, 3)

    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ``ZeroPadding2D`` padding that makes a stride-2 ``"valid"`` convolution match
    TensorFlow's ``"same"`` one: ``((top, bottom), (left, right))``.

    Args:
        inputs: a channels-last KerasTensor (or anything with a 4D ``shape``).
        kernel_size: an int or a pair of ints.
    """
    rows, cols = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    # An even size drops one row / column on the top / left compared with an odd one.
    adjust = (1, 1) if rows is None else (1 - rows % 2, 1 - cols % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained weights allow only a ``"softmax"`` or linear (``None``) classifier.

    Raises:
        ValueError: for another activation when ``weights`` is not ``None``.
    """
    if weights is None:
        return
    activation = activations.get(classifier_activation)
    if activation not in (activations.get("softmax"), activations.get(None)):
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the `classifier_activation` "
            "argument when using pretrained weights, with `include_top=True`; Received: "
            f"classifier_activation={classifier_activation}"
        )


def weights_argument_is_valid(weights) -> bool:
    """``None``, ``"imagenet"``, or the path of an existing file."""
    if weights is None or (isinstance(weights, str) and weights == "imagenet"):
        return True
    return isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)


def resolve_input_tensor(input_tensor, input_shape):
    """The image input of a model: a new ``Input`` or the user's ``input_tensor``.

    Returns:
        ``(img_input, model_inputs)``: the tensor the first layer is called on, and the inputs
        of the model (the ``Input`` tensors ``input_tensor`` was computed from).
    """
    from numpykeras.layers.input_layer import Input

    if input_tensor is None:
        img_input = Input(shape=input_shape)
        return img_input, img_input
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError(
            "Argument `input_tensor` must be a KerasTensor (from `keras.Input` or a layer "
            f"call). Received invalid type: input_tensor={input_tensor!r} (of type "
            f"{type(input_tensor)})"
        )
    sources = get_source_inputs(input_tensor)
    return input_tensor, sources[0] if len(sources) == 1 else sources


def get_source_inputs(tensor) -> list:
    """The ``Input`` tensors that ``tensor`` was computed from, in first-seen order."""
    history = tensor._keras_history
    if history is None:
        return [tensor]
    layer, node_index, _ = history
    if not layer._inbound_nodes:
        return [tensor]
    node = layer._inbound_nodes[node_index]
    if isinstance(layer, InputLayer):
        return list(node.output_tensors)
    sources = []
    for parent in node.input_tensors:
        for t in get_source_inputs(parent):
            if all(t is not s for s in sources):
                sources.append(t)
    return sources


def pretrained_weights_path(model_label, fname, origin, file_hash=None):
    """The path of a pretrained weights file in Keras's cache (``<cache>/models/<fname>``).

    numpykeras does not download weights: when the file is missing, the error names the file,
    its URL and where to put it.

    Args:
        model_label: the constructor call for messages, e.g. ``"VGG16(weights='imagenet')"``.
        fname: the file name Keras uses.
        origin: the URL Keras downloads it from.
        file_hash: Keras's md5 (or sha256) of the file, checked when given.

    Raises:
        DataNotAvailableError: if the file is not in the cache.
        ValueError: if the cached file does not match ``file_hash``.
    """
    roots = file_utils.cache_roots()
    for root in roots:
        path = os.path.join(root, "models", fname)
        if os.path.isfile(path):
            if file_hash is not None and not file_utils.validate_file(path, file_hash):
                raise ValueError(
                    f"The cached weights file {path} is incomplete or corrupted: its hash does "
                    f"not match Keras's value {file_hash}. Delete it and download {origin} again."
                )
            return path
    target = os.path.join(roots[0], "models", fname)
    raise DataNotAvailableError(
        f"{model_label} needs the pretrained weights file '{fname}', which is not in the Keras "
        f"cache, and numpykeras does not download weights. Download {origin} (or run the same "
        "constructor from `keras.applications` once on a machine with internet access, which "
        f"saves it to ~/.keras/models/{fname}) and copy it to {target}, or pass the file's path "
        "as `weights=`."
    )


def validate_arguments(weights, include_top, classes, input_shape, classifier_activation):
    """The argument checks VGG16 and ResNet share (Keras's wording); returns the input shape.

    Raises:
        ValueError: for invalid ``weights``, ``classes``, ``input_shape`` or
            ``classifier_activation`` arguments.
    """
    if not weights_argument_is_valid(weights):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
            f"Received: weights={weights}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
            f"Received classes={classes}"
        )
    input_shape = obtain_input_shape(
        input_shape,
        default_size=224,
        min_size=32,
        data_format=image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    if include_top:
        validate_activation(classifier_activation, weights)
    return input_shape
