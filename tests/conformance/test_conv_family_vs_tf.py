"""Conv1D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose against Keras 3 on TensorFlow.

Forward outputs, ``dx`` and every weight gradient (random upstream gradient) through the shared
layer harness.
"""

import pytest

from harness import LayerCase, run_case

CASES = [
    LayerCase("conv1d-k3", "Conv1D", dict(filters=4, kernel_size=3), (2, 9, 3)),
    LayerCase("conv1d-same-s2", "Conv1D", dict(filters=4, kernel_size=4, strides=2, padding="same"),
              (2, 9, 3)),
    LayerCase("conv1d-causal-d2", "Conv1D",
              dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2, activation="relu"),
              (2, 10, 2)),
    LayerCase("conv1d-groups", "Conv1D", dict(filters=4, kernel_size=2, groups=2), (1, 7, 4)),
    LayerCase("depthwise-k3", "DepthwiseConv2D", dict(kernel_size=3), (2, 7, 6, 3)),
    LayerCase("depthwise-dm2-same-s2", "DepthwiseConv2D",
              dict(kernel_size=3, depth_multiplier=2, strides=2, padding="same"), (2, 7, 8, 3)),
    LayerCase("depthwise-d2-relu6", "DepthwiseConv2D",
              dict(kernel_size=2, dilation_rate=2, activation="relu6", use_bias=False),
              (1, 8, 8, 2)),
    LayerCase("separable-k3", "SeparableConv2D", dict(filters=5, kernel_size=3), (2, 7, 6, 3)),
    LayerCase("separable-dm2-same-s2", "SeparableConv2D",
              dict(filters=4, kernel_size=3, depth_multiplier=2, strides=2, padding="same",
                   activation="relu"), (2, 9, 8, 3)),
    LayerCase("transpose-k3", "Conv2DTranspose", dict(filters=4, kernel_size=3), (2, 5, 4, 3)),
    LayerCase("transpose-same-s2", "Conv2DTranspose",
              dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 2)),
    LayerCase("transpose-valid-s3-k2", "Conv2DTranspose",
              dict(filters=2, kernel_size=2, strides=3), (1, 3, 4, 3)),
    LayerCase("transpose-outpad", "Conv2DTranspose",
              dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1),
              (2, 4, 4, 2)),
    LayerCase("transpose-valid-outpad-sigmoid", "Conv2DTranspose",
              dict(filters=2, kernel_size=4, strides=2, output_padding=1, activation="sigmoid"),
              (1, 3, 3, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conv_family_matches_keras(case, tf, keras):
    run_case(case, tf, keras)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conv_family_config_matches_keras(case, keras):
    from numpykeras import layers

    keras_layer = getattr(keras.layers, case.cls)(**case.kwargs)
    ours = getattr(layers, case.cls)(**case.kwargs)
    keras_config, our_config = keras_layer.get_config(), ours.get_config()
    assert set(our_config) == set(keras_config)
    for key in ("kernel_size", "strides", "padding", "dilation_rate", "data_format"):
        assert (
            tuple(our_config[key]) == tuple(keras_config[key])
            if isinstance(keras_config[key], (list, tuple))
            else our_config[key] == keras_config[key]
        )
    # Keras's config builds our layer.
    config = dict(keras_config)
    config.pop("name")
    assert getattr(layers, case.cls).from_config(config).get_config().keys() == our_config.keys()
