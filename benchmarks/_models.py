"""The benchmark's models, written once for both frameworks.

Each builder takes the framework's ``layers`` and ``models`` modules (numpykeras's or Keras's), so
the two sides run exactly the same architecture from exactly the same code.
"""

from __future__ import annotations


def reference_cnn(layers, models, size=32):
    """The reference CNN (TensorFlow's CNN tutorial) on ``size`` x ``size`` x 3 images."""
    return models.Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(size, size, 3)),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def vgg_cnn(layers, models, size=64):
    """A VGG-style stack: three blocks of two 3x3 ``padding="same"`` convolutions and a max pool."""
    stack = []
    for block, filters in enumerate((32, 64, 128)):
        for i in range(2):
            kwargs = {"input_shape": (size, size, 3)} if block == 0 and i == 0 else {}
            stack.append(
                layers.Conv2D(filters, (3, 3), padding="same", activation="relu", **kwargs)
            )
        stack.append(layers.MaxPooling2D((2, 2)))
    stack += [
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
    return models.Sequential(stack)


# ImageNet models from each framework's ``applications`` module, built with ``weights=None``:
# name -> (constructor, input size). Their weights are not drawn from ``shared_weights`` (batch
# normalization's moving variance must stay positive); bench.py copies the TensorFlow side's
# random weights to numpykeras through a ``.weights.h5`` file instead.
APPLICATIONS = {"resnet50": ("ResNet50", 224), "mobilenetv2": ("MobileNetV2", 224)}


# Recurrent classifiers: name -> recurrent layer. Sequences of RECURRENT_SHAPE (timesteps,
# features), RECURRENT_UNITS units, then a 10-way softmax.
RECURRENT = {"lstm": "LSTM", "gru": "GRU"}
RECURRENT_SHAPE = (100, 64)
RECURRENT_UNITS = 128


def recurrent_classifier(layers, models, kind):
    """``kind`` (``"LSTM"`` or ``"GRU"``) over the whole sequence, its last output to a softmax."""
    return models.Sequential(
        [
            getattr(layers, kind)(RECURRENT_UNITS, input_shape=RECURRENT_SHAPE),
            layers.Dense(10, activation="softmax"),
        ]
    )


# Newer layer families, one small classifier each: name -> (builder, shape of one input).
# The attention model reads token ids (integers below ATTENTION_VOCAB); the others floats.
ATTENTION_VOCAB = 1000
ATTENTION_SHAPE = (64,)  # tokens per sequence
ATTENTION_EMBED = 64
ATTENTION_HEADS = 4
ATTENTION_KEY_DIM = 16
VOLUME_SHAPE = (16, 16, 16, 1)  # depth, height, width, channels
CLIP_SHAPE = (10, 32, 32, 1)  # frames, height, width, channels


def attention_classifier(layers, models):
    """A transformer-encoder block: token embedding, multi-head self-attention with a residual
    connection and layer normalization, average over the sequence, a 10-way softmax."""
    tokens = layers.Input(shape=ATTENTION_SHAPE, dtype="int32")
    x = layers.Embedding(ATTENTION_VOCAB, ATTENTION_EMBED)(tokens)
    attended = layers.MultiHeadAttention(num_heads=ATTENTION_HEADS, key_dim=ATTENTION_KEY_DIM)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return models.Model(tokens, outputs)


def conv3d_classifier(layers, models):
    """Two 3x3x3 convolutions around a 2x2x2 max pool, global average, a 10-way softmax."""
    return models.Sequential(
        [
            layers.Input(shape=VOLUME_SHAPE),
            layers.Conv3D(16, 3, activation="relu"),
            layers.MaxPooling3D(),
            layers.Conv3D(32, 3, activation="relu"),
            layers.GlobalAveragePooling3D(),
            layers.Dense(10, activation="softmax"),
        ]
    )


def convlstm_classifier(layers, models):
    """ConvLSTM2D over the frames (its last output), global average, a 10-way softmax."""
    return models.Sequential(
        [
            layers.Input(shape=CLIP_SHAPE),
            layers.ConvLSTM2D(16, 3, padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )


FAMILIES = {
    "attention": (attention_classifier, ATTENTION_SHAPE),
    "conv3d": (conv3d_classifier, VOLUME_SHAPE),
    "convlstm": (convlstm_classifier, CLIP_SHAPE),
}


def build(name, layers, models, applications=None):
    """A model by benchmark name: ``"cnn32"``, ``"cnn128"`` (reference CNN), ``"vgg64"``,
    ``"resnet50"`` / ``"mobilenetv2"`` (from ``applications``, with ``weights=None``),
    ``"lstm"`` / ``"gru"`` (``recurrent_classifier``), or one of ``FAMILIES``
    (``"attention"``, ``"conv3d"``, ``"convlstm"``)."""
    if name in FAMILIES:
        return FAMILIES[name][0](layers, models)
    if name in RECURRENT:
        return recurrent_classifier(layers, models, RECURRENT[name])
    if name in APPLICATIONS:
        constructor, size = APPLICATIONS[name]
        return getattr(applications, constructor)(weights=None, input_shape=(size, size, 3))
    if name.startswith("cnn"):
        return reference_cnn(layers, models, int(name[3:]))
    if name.startswith("vgg"):
        return vgg_cnn(layers, models, int(name[3:]))
    raise ValueError(
        f"Unknown benchmark model name: {name!r}. Expected 'cnnN', 'vggN' or one of "
        f"{sorted(APPLICATIONS) + sorted(RECURRENT) + sorted(FAMILIES)}."
    )


def image_size(name):
    """The input height (= width) of the model called ``name`` (an image model)."""
    if name in APPLICATIONS:
        return APPLICATIONS[name][1]
    return int(name[3:])


def input_shape(name):
    """The shape of one input of the model called ``name``, without the batch axis."""
    if name in RECURRENT:
        return RECURRENT_SHAPE
    if name in FAMILIES:
        return FAMILIES[name][1]
    size = image_size(name)
    return (size, size, 3)
