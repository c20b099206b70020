"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image Recognition",
CVPR 2015), layer for layer as ``keras.applications.resnet``."""

from __future__ import annotations

from numpykeras import layers
from numpykeras.applications import imagenet_utils
from numpykeras.models.functional import Functional

__all__ = ["ResNet50", "ResNet101", "ResNet152", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras's md5 hashes of the weight files: (with top, without top).
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
_CONSTRUCTORS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}

_BN_EPSILON = 1.001e-5
_BN_AXIS = 3  # channels last


def weights_file_name(weights_name, include_top) -> str:
    """The file Keras downloads for ``weights="imagenet"``, e.g.
    ``"resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"``."""
    suffix = "" if include_top else "_notop"
    return f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"


def ResNet(
    stack_fn,
    preact,
    use_bias,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    weights_name=None,
):
    """Builds a ResNet (v1 when ``preact`` is ``False``) around the residual stacks of ``stack_fn``.

    Args:
        stack_fn: maps the output of the stem (conv, BN, ReLU, max pool) to the output of the last
            residual stack.
        preact: whether the stacks are pre-activation ones (ResNetV2): the stem then has no
            BatchNormalization / ReLU and the network ends with ``post_bn`` / ``post_relu``.
        use_bias: whether the stem convolution has a bias.
        weights_name: the key of the pretrained files (``"resnet50"``, ...).
        Other arguments: as :func:`ResNet50`.

    Returns:
        A Functional ``Model``.
    """
    input_shape = imagenet_utils.validate_arguments(
        weights, include_top, classes, input_shape, classifier_activation
    )
    weights_path = weights
    if weights == "imagenet":
        if weights_name in WEIGHTS_HASHES:
            file_name = weights_file_name(weights_name, include_top)
            weights_path = imagenet_utils.pretrained_weights_path(
                f"{_CONSTRUCTORS[weights_name]}(weights='imagenet', include_top={include_top})",
                file_name,
                f"{BASE_WEIGHTS_PATH}{file_name}",
                file_hash=WEIGHTS_HASHES[weights_name][0 if include_top else 1],
            )
        else:  # Keras loads nothing for an unknown name
            weights_path = None

    img_input, inputs = imagenet_utils.resolve_input_tensor(input_tensor, input_shape)

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(axis=_BN_AXIS, epsilon=_BN_EPSILON, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    x = stack_fn(x)

    if preact:
        x = layers.BatchNormalization(axis=_BN_AXIS, epsilon=_BN_EPSILON, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)

    model = Functional(inputs, x, name=name)
    if weights_path is not None:
        model.load_weights(weights_path)
    return model


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block: 1x1 (``filters``) -> ``kernel_size`` (``filters``) -> 1x1
    (``4 * filters``), plus a shortcut (a strided 1x1 conv + BN, or the identity).

    Args:
        x: input tensor.
        filters: filters of the bottleneck layers.
        kernel_size: kernel size of the middle convolution.
        stride: stride of the first convolution (and of the shortcut convolution).
        conv_shortcut: convolution shortcut if ``True``, identity otherwise.
        name: block label, the prefix of the layer names.

    Returns:
        The output tensor of the block.
    """
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(
            axis=_BN_AXIS, epsilon=_BN_EPSILON, name=f"{name}_0_bn"
        )(shortcut)
    else:
        shortcut = x

    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=_BN_AXIS, epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)

    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=_BN_AXIS, epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)

    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=_BN_AXIS, epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)

    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` bottleneck blocks; the first has a convolution shortcut and stride ``stride1``.

    Args:
        x: input tensor.
        filters: filters of the bottleneck layers.
        blocks: number of blocks.
        stride1: stride of the first block.
        name: stack label (``"conv2"``, ...).

    Returns:
        The output tensor of the stack.
    """
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _resnet_v1(blocks_per_stack, weights_name, name, **kwargs):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, blocks_per_stack[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, blocks_per_stack[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, blocks_per_stack[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, blocks_per_stack[3], name="conv5")

    return ResNet(
        stack_fn, preact=False, use_bias=True, weights_name=weights_name, name=name, **kwargs
    )


_ARGS_DOC = """

    The default input is 224x224x3 RGB, preprocessed with
    :func:`numpykeras.applications.resnet.preprocess_input` (RGB to BGR, then the ImageNet mean
    pixel subtracted, no scaling).

    Args:
        include_top: whether to include the fully-connected layer at the top of the network.
        weights: ``None`` (random initialization), ``"imagenet"`` (the file Keras downloads, read
            from Keras's cache ``~/.keras/models/``; numpykeras does not download it), or the path
            of a weights file to load.
        input_tensor: optional KerasTensor (output of ``layers.Input()``) to use as image input.
        input_shape: optional shape tuple, only to be specified if ``include_top`` is ``False``
            (otherwise it has to be ``(224, 224, 3)``). It should have 3 channels, and width and
            height no smaller than 32, e.g. ``(200, 200, 3)``.
        pooling: feature-extraction pooling when ``include_top`` is ``False``: ``None`` (the 4D
            output of the last block), ``"avg"`` or ``"max"`` (a 2D output).
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


def ResNet50(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
):
    return _resnet_v1(
        (3, 4, 6, 3),
        "resnet50",
        name,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def ResNet101(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
):
    return _resnet_v1(
        (3, 4, 23, 3),
        "resnet101",
        name,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def ResNet152(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
):
    return _resnet_v1(
        (3, 8, 36, 3),
        "resnet152",
        name,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
    )


ResNet50.__doc__ = "Instantiates the ResNet50 architecture (3, 4, 6, 3 blocks)." + _ARGS_DOC
ResNet101.__doc__ = "Instantiates the ResNet101 architecture (3, 4, 23, 3 blocks)." + _ARGS_DOC
ResNet152.__doc__ = "Instantiates the ResNet152 architecture (3, 8, 36, 3 blocks)." + _ARGS_DOC


def preprocess_input(x, data_format=None):
    """Preprocesses a batch of RGB images in ``[0, 255]`` for ResNet (``"caffe"`` mode).

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
    """Decodes ResNet predictions; see :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top, class_index_path=class_index_path)
