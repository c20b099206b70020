"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR
2018), layer for layer as ``keras.applications.MobileNetV2``."""

from __future__ import annotations

import warnings

from numpykeras import layers
from numpykeras.applications import imagenet_utils
from numpykeras.layers.node import KerasTensor
from numpykeras.models.functional import Functional

__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"

# Image sizes and width multipliers with published ImageNet weights.
PRETRAINED_SIZES = (96, 128, 160, 192, 224)
PRETRAINED_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)

_BN = {"axis": -1, "epsilon": 1e-3, "momentum": 0.999}  # channels last

# (filters, stride, expansion) of the 17 inverted residual blocks, block_id 0 ... 16.
_BLOCKS = (
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
)


def weights_file_name(alpha, rows, include_top) -> str:
    """The file Keras downloads for ``weights="imagenet"``, e.g.
    ``"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"``."""
    suffix = "" if include_top else "_no_top"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"


def _default_size(input_shape, input_tensor):
    """Keras's choice of the default image size, with its checks of ``input_tensor``."""
    if input_shape is not None and input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise ValueError(
                f"input_tensor is not a Keras tensor; Received `input_tensor={input_tensor}`"
            )
        if input_tensor.shape[2] != input_shape[1]:
            raise ValueError(
                "input_tensor.shape[2] must equal input_shape[1]; Received "
                f"`input_tensor.shape={input_tensor.shape}`, `input_shape={input_shape}`"
            )
    if input_shape is None and input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            return 224
        rows, cols = input_tensor.shape[1], input_tensor.shape[2]
    elif input_shape is None:
        return 224
    else:
        rows, cols = input_shape[0], input_shape[1]
    return rows if rows == cols and rows in PRETRAINED_SIZES else 224


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Instantiates the MobileNetV2 architecture.

    Inverted residual blocks: a 1x1 expansion, a 3x3 depthwise convolution and a linear 1x1
    projection, with ReLU6 activations. The default input is 224x224x3 RGB, preprocessed with
    :func:`numpykeras.applications.mobilenet_v2.preprocess_input` (scaled to ``[-1, 1]``).

    Args:
        input_shape: optional shape tuple, only to be specified if ``include_top`` is ``False``
            (otherwise it has to be ``(224, 224, 3)``); 3 channels, width and height no smaller
            than 32. Ignored when ``input_tensor`` is given.
        alpha: width multiplier: the filters of each layer are scaled by ``alpha`` (rounded to a
            multiple of 8).
        include_top: whether to include the classifier at the top of the network.
        weights: ``None`` (random initialization), ``"imagenet"`` (the file Keras downloads, read
            from Keras's cache ``~/.keras/models/``; numpykeras does not download it), or the path
            of a weights file to load.
        input_tensor: optional KerasTensor (output of ``layers.Input()``) to use as image input.
        pooling: feature-extraction pooling when ``include_top`` is ``False``: ``None`` (the 4D
            output of the last convolution), ``"avg"`` or ``"max"`` (a 2D output).
        classes: number of classes, only to be specified if ``include_top`` is ``True`` and no
            ``weights`` are loaded.
        classifier_activation: activation of the ``"predictions"`` layer (``None`` for logits);
            with pretrained weights only ``None`` or ``"softmax"``.
        name: the model name; ``None`` means ``"mobilenetv2_{alpha:.2f}_{rows}"``.

    Returns:
        A Functional ``Model``.

    Raises:
        ValueError: for invalid ``weights``, ``classes``, ``alpha``, ``input_shape``,
            ``input_tensor`` or ``classifier_activation`` arguments.
        FileNotFoundError: (``DataNotAvailableError``) for ``weights="imagenet"`` when the file is
            not in Keras's cache.
    """
    if not imagenet_utils.weights_argument_is_valid(weights):
        raise ValueError(
            "The `weights` argument should be either `None` (random initialization), `imagenet` "
            "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
            f"Received `weights={weights}`"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            'If using `weights="imagenet"` with `include_top` as true, `classes` should be '
            f"1000. Received `classes={classes}`"
        )

    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=_default_size(input_shape, input_tensor),
        min_size=32,
        data_format=imagenet_utils.image_data_format(),
        require_flatten=include_top,
        weights=weights,
    )
    rows, cols = input_shape[0], input_shape[1]

    if weights == "imagenet":
        if alpha not in PRETRAINED_ALPHAS:
            raise ValueError(
                "If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, "
                f"`0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`"
            )
        if rows != cols or rows not in PRETRAINED_SIZES:
            rows = 224
            warnings.warn(
                "`input_shape` is undefined or non-square, or `rows` is not in "
                "[96, 128, 160, 192, 224]. Weights for input shape (224, 224) will be loaded as "
                "the default.",
                stacklevel=2,
            )
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    weights_path = weights
    if weights == "imagenet":
        file_name = weights_file_name(alpha, rows, include_top)
        weights_path = imagenet_utils.pretrained_weights_path(
            f"MobileNetV2(weights='imagenet', alpha={alpha}, include_top={include_top})",
            file_name,
            BASE_WEIGHT_PATH + file_name,
        )

    img_input, inputs = imagenet_utils.resolve_input_tensor(input_tensor, input_shape)

    first_block_filters = _make_divisible(32 * alpha, 8)
    x = layers.Conv2D(
        first_block_filters,
        kernel_size=3,
        strides=(2, 2),
        padding="same",
        use_bias=False,
        name="Conv1",
    )(img_input)
    x = layers.BatchNormalization(**_BN, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)

    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(
            x, filters=filters, alpha=alpha, stride=stride, expansion=expansion, block_id=block_id
        )

    # No width multiplier below 1 on the last convolution (the paper's choice).
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(**_BN, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)

    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = Functional(inputs, x, name=name)
    if weights_path is not None:
        model.load_weights(weights_path)
    return model


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1, ``expansion`` times the input channels) -> depthwise 3x3 (stride ``stride``)
    -> project (1x1, linear), with a residual connection when the shapes allow."""
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"

    if block_id:
        x = layers.Conv2D(
            expansion * in_channels,
            kernel_size=1,
            padding="same",
            use_bias=False,
            activation=None,
            name=f"{prefix}expand",
        )(x)
        x = layers.BatchNormalization(**_BN, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"  # the first block has no expansion

    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size=3,
        strides=stride,
        activation=None,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = layers.BatchNormalization(**_BN, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)

    x = layers.Conv2D(
        pointwise_filters,
        kernel_size=1,
        padding="same",
        use_bias=False,
        activation=None,
        name=f"{prefix}project",
    )(x)
    x = layers.BatchNormalization(**_BN, name=f"{prefix}project_BN")(x)

    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more
    than 10% below ``v``."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def preprocess_input(x, data_format=None):
    """Preprocesses a batch of RGB images in ``[0, 255]`` for MobileNetV2 (``"tf"`` mode): the
    pixel values are scaled to ``[-1, 1]``. Float arrays are modified in place.

    Args:
        x: a NumPy array of images.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        The preprocessed float array.
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5, class_index_path=None):
    """Decodes MobileNetV2 predictions; see :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
