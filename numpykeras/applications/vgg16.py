"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), layer for layer as ``keras.applications.VGG16``."""

from __future__ import annotations

from numpykeras import layers
from numpykeras.applications import imagenet_utils
from numpykeras.models.functional import Functional

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_PATH_NO_TOP = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_FILE_NO_TOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_MD5 = "64373286793e3c8b2b4e3219cbf3544b"
WEIGHTS_MD5_NO_TOP = "6d6bbae143d832006294945121d1f1fc"

# Filters of the 3x3 convolutions in each of the five blocks; each block ends in a 2x2 max pool.
_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
):
    """Instantiates the VGG16 model.

    The default input is 224x224x3 RGB, preprocessed with
    :func:`numpykeras.applications.vgg16.preprocess_input` (RGB to BGR, then the ImageNet mean
    pixel subtracted, no scaling).

    Args:
        include_top: whether to include the 3 fully-connected layers at the top of the network.
        weights: ``None`` (random initialization), ``"imagenet"`` (the file Keras downloads, read
            from Keras's cache ``~/.keras/models/``; numpykeras does not download it), or the path
            of a weights file to load.
        input_tensor: optional KerasTensor (output of ``layers.Input()``) to use as image input.
        input_shape: optional shape tuple, only to be specified if ``include_top`` is ``False``
            (otherwise it has to be ``(224, 224, 3)``). It should have 3 channels, and width and
            height no smaller than 32, e.g. ``(200, 200, 3)``.
        pooling: feature-extraction pooling when ``include_top`` is ``False``: ``None`` (the 4D
            output of the last convolutional block), ``"avg"`` or ``"max"`` (global average or
            max pooling, a 2D output).
        classes: number of classes, only to be specified if ``include_top`` is ``True`` and no
            ``weights`` are loaded.
        classifier_activation: activation of the ``"predictions"`` layer (``None`` for logits);
            with pretrained weights only ``None`` or ``"softmax"``.
        name: the model name.

    Returns:
        A Functional ``Model``.

    Raises:
        ValueError: for invalid ``weights``, ``classes``, ``input_shape`` or
            ``classifier_activation`` arguments.
        FileNotFoundError: (``DataNotAvailableError``) for ``weights="imagenet"`` when the file is
            not in Keras's cache.
    """
    input_shape = imagenet_utils.validate_arguments(
        weights, include_top, classes, input_shape, classifier_activation
    )
    weights_path = weights
    if weights == "imagenet":  # find the file before spending time on building the model
        weights_path = imagenet_utils.pretrained_weights_path(
            f"VGG16(weights='imagenet', include_top={include_top})",
            WEIGHTS_FILE if include_top else WEIGHTS_FILE_NO_TOP,
            WEIGHTS_PATH if include_top else WEIGHTS_PATH_NO_TOP,
            file_hash=WEIGHTS_MD5 if include_top else WEIGHTS_MD5_NO_TOP,
        )

    img_input, inputs = imagenet_utils.resolve_input_tensor(input_tensor, input_shape)
    x = img_input
    for b, block_filters in enumerate(_BLOCKS, start=1):
        for c, filters in enumerate(block_filters, start=1):
            x = layers.Conv2D(
                filters, (3, 3), activation="relu", padding="same", name=f"block{b}_conv{c}"
            )(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)

    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)

    model = Functional(inputs, x, name=name)
    if weights_path is not None:
        model.load_weights(weights_path)
    return model


def preprocess_input(x, data_format=None):
    """Preprocesses a batch of RGB images in ``[0, 255]`` for VGG16 (``"caffe"`` mode).

    The images are converted from RGB to BGR, then each color channel is zero-centered with
    respect to the ImageNet dataset, without scaling. Float arrays are modified in place.

    Args:
        x: a 3D or 4D NumPy array with 3 color channels.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        The preprocessed float array.
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5, class_index_path=None):
    """Decodes VGG16 predictions; see :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
