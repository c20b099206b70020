"""Layers vs Keras 3 on TensorFlow: forward outputs, input and weight gradients (random upstream
gradient), BatchNormalization moving statistics, over a sweep of options. See ``harness.py``."""

import numpy as np
import pytest

from numpykeras import layers as nk_layers

import tolerances as tol
from harness import LayerCase, build_pair, run_case

ACTIVATIONS = [
    "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "elu", "selu", "softplus",
    "softsign", "silu", "swish", "gelu", "tanh", "sigmoid", "exponential", "hard_sigmoid",
    "hard_silu", "hard_swish", "linear", "mish",
]  # fmt: skip


def _conv_cases():
    cases = []
    for k in (1, 2, 3, 4, 5):
        for s, d in ((1, 1), (2, 1), (3, 1), (1, 2)):
            for padding in ("valid", "same"):
                for hw in ((8, 8), (7, 7)):
                    if padding == "valid" and d * (k - 1) + 1 > hw[0]:
                        continue
                    cases.append(
                        LayerCase(
                            f"conv-k{k}-s{s}-d{d}-{padding}-{hw[0]}x{hw[1]}",
                            "Conv2D",
                            dict(
                                filters=3,
                                kernel_size=k,
                                strides=s,
                                dilation_rate=d,
                                padding=padding,
                            ),
                            (2, *hw, 2),
                        )
                    )
    cases += [
        LayerCase("conv-rect-input", "Conv2D", dict(filters=2, kernel_size=3), (1, 6, 9, 2)),
        LayerCase(
            "conv-rect-kernel-same",
            "Conv2D",
            dict(filters=2, kernel_size=(2, 4), strides=(2, 3), padding="same"),
            (3, 7, 10, 2),
        ),
        LayerCase(
            "conv-rect-dilation",
            "Conv2D",
            dict(filters=2, kernel_size=2, dilation_rate=(1, 2)),
            (1, 5, 7, 3),
        ),
        LayerCase(
            "conv-batch1", "Conv2D", dict(filters=4, kernel_size=3, padding="same"), (1, 5, 5, 3)
        ),
        LayerCase("conv-groups2", "Conv2D", dict(filters=4, kernel_size=3, groups=2), (2, 6, 6, 4)),
        LayerCase(
            "conv-groups3-same-s2",
            "Conv2D",
            dict(filters=6, kernel_size=3, groups=3, strides=2, padding="same"),
            (2, 7, 6, 3),
        ),
        LayerCase(
            "conv-nobias", "Conv2D", dict(filters=3, kernel_size=3, use_bias=False), (2, 6, 6, 2)
        ),
        LayerCase(
            "conv-weights-to-keras",
            "Conv2D",
            dict(filters=3, kernel_size=3, padding="same", activation="relu"),
            (2, 5, 6, 2),
            weights_from="numpykeras",
        ),
    ]
    for act in ACTIVATIONS:
        cases.append(
            LayerCase(
                f"conv-act-{act}",
                "Conv2D",
                dict(filters=3, kernel_size=2, activation=act),
                (2, 4, 4, 2),
                input_scale=0.5,
            )
        )
    # channels_first: TensorFlow's CPU conv has no NCHW kernel; compare with channels_last Keras.
    for kw in (
        dict(filters=3, kernel_size=3),
        dict(filters=4, kernel_size=2, strides=2, padding="same", activation="relu"),
        dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", groups=2),
    ):
        cases.append(
            LayerCase(
                "conv-cf-" + "-".join(f"{k}{v}" for k, v in kw.items() if k != "filters"),
                "Conv2D",
                {**kw, "data_format": "channels_first"},
                (2, 2, 7, 6),
                keras_kwargs={"data_format": "channels_last"},
                transpose=True,
            )
        )
    return cases


def _pool_cases():
    cases = []
    for cls in ("MaxPooling2D", "AveragePooling2D"):
        for p in (1, 2, 3):
            for s in (None, 1, 2):
                for padding in ("valid", "same"):
                    for hw in ((7, 7), (8, 6)):
                        cases.append(
                            LayerCase(
                                f"{cls}-p{p}-s{s}-{padding}-{hw[0]}x{hw[1]}",
                                cls,
                                dict(pool_size=p, strides=s, padding=padding),
                                (2, *hw, 3),
                            )
                        )
        cases += [
            LayerCase(f"{cls}-rect", cls, dict(pool_size=(2, 3), strides=(1, 2)), (1, 5, 7, 2)),
            LayerCase(
                f"{cls}-rect-same",
                cls,
                dict(pool_size=(3, 2), strides=(2, 3), padding="same"),
                (3, 7, 8, 2),
            ),
            # Keras's pooling supports channels_first on CPU (it transposes internally).
            LayerCase(
                f"{cls}-cf",
                cls,
                dict(pool_size=2, strides=2, padding="same", data_format="channels_first"),
                (2, 3, 5, 7),
            ),
            LayerCase(
                f"{cls}-cf-vs-last",
                cls,
                dict(pool_size=3, strides=2, data_format="channels_first"),
                (2, 3, 7, 7),
                keras_kwargs={"data_format": "channels_last"},
                transpose=True,
            ),
        ]
    return cases


def _dense_cases():
    cases = [
        LayerCase("dense-2d", "Dense", dict(units=4), (3, 5)),
        LayerCase("dense-2d-batch1", "Dense", dict(units=4), (1, 5)),
        LayerCase("dense-3d", "Dense", dict(units=3), (2, 4, 5)),
        LayerCase("dense-4d", "Dense", dict(units=3), (2, 2, 3, 4)),
        LayerCase("dense-nobias", "Dense", dict(units=3, use_bias=False), (4, 5)),
        LayerCase(
            "dense-to-keras",
            "Dense",
            dict(units=3, activation="tanh"),
            (4, 5),
            weights_from="numpykeras",
        ),
    ]
    for act in ACTIVATIONS:
        cases.append(
            LayerCase(
                f"dense-act-{act}", "Dense", dict(units=4, activation=act), (3, 5), input_scale=0.5
            )
        )
        cases.append(
            LayerCase(
                f"activation-{act}", "Activation", dict(activation=act), (3, 2, 5), input_scale=2.0
            )
        )
    return cases


def _bn_cases():
    cases = []
    for training in (True, False):
        tag = "train" if training else "infer"
        cases += [
            LayerCase(f"bn-{tag}-2d", "BatchNormalization", {}, (8, 4), training, input_scale=3.0),
            LayerCase(f"bn-{tag}-4d", "BatchNormalization", {}, (4, 3, 3, 2), training),
            LayerCase(
                f"bn-{tag}-axis1", "BatchNormalization", dict(axis=1), (4, 3, 2, 2), training
            ),
            LayerCase(
                f"bn-{tag}-axis1-3d", "BatchNormalization", dict(axis=1), (5, 3, 4), training
            ),
            LayerCase(
                f"bn-{tag}-nocenter", "BatchNormalization", dict(center=False), (6, 3), training
            ),
            LayerCase(
                f"bn-{tag}-noscale", "BatchNormalization", dict(scale=False), (6, 3), training
            ),
            LayerCase(
                f"bn-{tag}-plain",
                "BatchNormalization",
                dict(center=False, scale=False),
                (6, 3),
                training,
            ),
            LayerCase(
                f"bn-{tag}-eps-mom",
                "BatchNormalization",
                dict(epsilon=0.1, momentum=0.5),
                (6, 2, 3),
                training,
            ),
            LayerCase(
                f"bn-{tag}-to-keras",
                "BatchNormalization",
                dict(momentum=0.9),
                (5, 4),
                training,
                weights_from="numpykeras",
            ),
        ]
    return cases


def _other_cases():
    return [
        LayerCase("dropout0-train", "Dropout", dict(rate=0.0), (3, 4), True),
        LayerCase("dropout0.5-infer", "Dropout", dict(rate=0.5), (3, 4), False),
        LayerCase(
            "dropout0.5-train-inference-only",
            "Dropout",
            dict(rate=0.5),
            (3, 4),
            True,
            check_gradients=False,
        ),
        LayerCase("gap", "GlobalAveragePooling2D", {}, (2, 3, 4, 3)),
        LayerCase("gap-keep", "GlobalAveragePooling2D", dict(keepdims=True), (1, 3, 4, 3)),
        LayerCase(
            "gap-cf", "GlobalAveragePooling2D", dict(data_format="channels_first"), (2, 3, 4, 3)
        ),
        LayerCase(
            "gap-cf-keep",
            "GlobalAveragePooling2D",
            dict(data_format="channels_first", keepdims=True),
            (2, 3, 4, 3),
        ),
        LayerCase("gmp", "GlobalMaxPooling2D", {}, (2, 3, 4, 3)),
        LayerCase("gmp-keep", "GlobalMaxPooling2D", dict(keepdims=True), (1, 3, 4, 3)),
        LayerCase("gmp-cf", "GlobalMaxPooling2D", dict(data_format="channels_first"), (2, 3, 4, 3)),
        LayerCase(
            "gmp-cf-keep",
            "GlobalMaxPooling2D",
            dict(data_format="channels_first", keepdims=True),
            (2, 3, 4, 3),
        ),
        LayerCase("zeropad-int", "ZeroPadding2D", dict(padding=1), (2, 3, 4, 2)),
        LayerCase("zeropad-pair", "ZeroPadding2D", dict(padding=(2, 1)), (1, 3, 4, 2)),
        LayerCase("zeropad-asym", "ZeroPadding2D", dict(padding=((0, 2), (3, 1))), (2, 3, 4, 2)),
        LayerCase(
            "zeropad-cf",
            "ZeroPadding2D",
            dict(padding=((1, 0), (0, 2)), data_format="channels_first"),
            (2, 3, 4, 2),
        ),
        LayerCase("reshape", "Reshape", dict(target_shape=(6, 4)), (2, 3, 4, 2)),
        LayerCase("reshape-infer", "Reshape", dict(target_shape=(-1, 3)), (2, 3, 4, 2)),
        LayerCase("reshape-batch1", "Reshape", dict(target_shape=(24,)), (1, 3, 4, 2)),
        LayerCase("flatten", "Flatten", {}, (2, 3, 4, 2)),
        LayerCase("flatten-3d", "Flatten", {}, (3, 4, 2)),
        LayerCase("flatten-2d", "Flatten", {}, (3, 4)),
        LayerCase("flatten-cf", "Flatten", dict(data_format="channels_first"), (2, 3, 4, 2)),
    ]


CASES = _conv_cases() + _pool_cases() + _dense_cases() + _bn_cases() + _other_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_matches_keras(tf, keras, case):
    run_case(case, tf, keras)


CONFIG_CASES = [
    LayerCase(
        "conv",
        "Conv2D",
        dict(
            filters=3,
            kernel_size=(2, 3),
            strides=(2, 1),
            padding="same",
            activation="relu",
            use_bias=False,
        ),
        (2, 6, 5, 2),
    ),
    LayerCase(
        "conv-groups",
        "Conv2D",
        dict(filters=4, kernel_size=3, groups=2, dilation_rate=2),
        (1, 7, 7, 2),
    ),
    LayerCase("dense", "Dense", dict(units=3, activation="softmax"), (2, 5)),
    LayerCase(
        "bn",
        "BatchNormalization",
        dict(axis=1, momentum=0.9, epsilon=0.01, center=False),
        (4, 3, 2),
    ),
    LayerCase(
        "maxpool", "MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (1, 7, 7, 2)
    ),
    LayerCase("avgpool", "AveragePooling2D", dict(pool_size=(2, 1)), (1, 4, 4, 2)),
    LayerCase("gap", "GlobalAveragePooling2D", dict(keepdims=True), (1, 3, 3, 2)),
    LayerCase("gmp", "GlobalMaxPooling2D", dict(data_format="channels_first"), (1, 3, 3, 2)),
    LayerCase("zeropad", "ZeroPadding2D", dict(padding=((1, 2), (0, 1))), (1, 3, 3, 2)),
    LayerCase("reshape", "Reshape", dict(target_shape=(-1, 2)), (2, 3, 2)),
    LayerCase("flatten", "Flatten", {}, (2, 3, 2)),
    LayerCase("activation", "Activation", dict(activation="gelu"), (2, 3)),
    LayerCase("dropout", "Dropout", dict(rate=0.25, seed=3), (2, 3)),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_layer_from_keras_config(tf, keras, case):
    """A layer rebuilt from Keras's ``get_config()`` computes what the Keras layer computes, and
    the option values in our config equal Keras's."""
    _, theirs, x, _ = build_pair(case, keras)
    config = theirs.get_config()
    ours = getattr(nk_layers, case.cls).from_config(config)
    ours(x)
    ours.set_weights(theirs.get_weights())
    tol.assert_forward_close(ours(x), np.asarray(theirs(x, training=False)), case.id)
    our_config = ours.get_config()
    skip = {"dtype", "kernel_initializer", "bias_initializer"}  # dicts whose format others test
    for key, value in config.items():
        if key in skip or key not in our_config:
            continue
        assert _plain(our_config[key]) == _plain(value), f"{case.id}: config[{key!r}]"
    missing = set(config) - set(our_config) - {"lora_rank", "lora_alpha", "quantization_config"}
    assert not missing, f"{case.id}: keys missing from our config: {missing}"


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    return v
