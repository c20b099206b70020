"""The 3-D layers (Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D, the global 3-D
poolings, UpSampling3D, ZeroPadding3D, Cropping3D) vs Keras 3 on TensorFlow.

Each case goes through the shared layer harness (``harness.py``): Keras's weights copied, then
the inference output, the training forward output, ``dx`` and every weight gradient for a random
upstream gradient, within the float32 error bounds of ``error_bounds.py``. Then configs (equal to
Keras's, and Keras's config builds the same layer), output shapes, aliases, argument errors, a
small ``fit`` of Conv3D + MaxPooling3D + GlobalAveragePooling3D + Dense (and of a Conv3D /
Conv3DTranspose autoencoder) compared with Keras epoch by epoch, and Keras files.
"""

from __future__ import annotations

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers as nk_layers

import error_bounds
import tolerances as tol
from harness import LayerCase, run_case

CL = {"data_format": "channels_last"}

CASES = [
    # Conv3D
    LayerCase("conv3d-k3", "Conv3D", dict(filters=3, kernel_size=3), (2, 5, 6, 4, 2)),
    LayerCase("conv3d-same-s2-relu", "Conv3D",
              dict(filters=3, kernel_size=(2, 3, 2), strides=2, padding="same", activation="relu"),
              (2, 5, 6, 7, 3)),
    LayerCase("conv3d-rect-strides-sigmoid", "Conv3D",
              dict(filters=2, kernel_size=(3, 1, 2), strides=(1, 2, 3), activation="sigmoid"),
              (1, 5, 6, 7, 2)),
    LayerCase("conv3d-d2-nobias", "Conv3D",
              dict(filters=2, kernel_size=2, dilation_rate=(2, 1, 2), use_bias=False),
              (2, 6, 5, 6, 2)),
    LayerCase("conv3d-same-d2", "Conv3D",
              dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", activation="tanh"),
              (1, 5, 4, 6, 2)),
    LayerCase("conv3d-groups2", "Conv3D", dict(filters=4, kernel_size=2, groups=2),
              (2, 4, 4, 5, 4)),
    # channels_first convolutions are compared with Keras's channels_last layer on transposed
    # data (the harness's error bounds add a bias along the last axis). Keras 3.15 on TensorFlow
    # itself adds a channels_first Conv3D's bias along the last axis when that axis has as many
    # cells as there are filters (its ops.add takes the pair for an NHWC bias_add), as here.
    LayerCase("conv3d-channels-first", "Conv3D",
              dict(filters=3, kernel_size=2, padding="same", data_format="channels_first"),
              (2, 2, 4, 5, 3), keras_kwargs=CL, transpose=True),
    # Conv3DTranspose
    LayerCase("conv3dt-k3", "Conv3DTranspose", dict(filters=2, kernel_size=3), (2, 3, 4, 3, 2)),
    LayerCase("conv3dt-same-s2", "Conv3DTranspose",
              dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 3, 3, 2, 2)),
    LayerCase("conv3dt-valid-rect-strides", "Conv3DTranspose",
              dict(filters=2, kernel_size=2, strides=(3, 2, 1)), (1, 2, 3, 3, 3)),
    LayerCase("conv3dt-same-outpad", "Conv3DTranspose",
              dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1),
              (1, 3, 2, 3, 2)),
    LayerCase("conv3dt-valid-outpad-relu", "Conv3DTranspose",
              dict(filters=2, kernel_size=(3, 2, 4), strides=2, output_padding=(1, 0, 1),
                   activation="relu"), (2, 2, 3, 2, 2)),
    LayerCase("conv3dt-channels-first", "Conv3DTranspose",
              dict(filters=2, kernel_size=2, strides=2, data_format="channels_first"),
              (1, 3, 2, 3, 2), keras_kwargs=CL, transpose=True),
    # MaxPooling3D / AveragePooling3D
    LayerCase("maxpool3d-default", "MaxPooling3D", {}, (2, 4, 5, 6, 3)),
    LayerCase("maxpool3d-p3-s2-same", "MaxPooling3D",
              dict(pool_size=3, strides=2, padding="same"), (1, 5, 6, 7, 2)),
    LayerCase("maxpool3d-rect-valid", "MaxPooling3D",
              dict(pool_size=(2, 1, 3), strides=(1, 2, 1)), (2, 4, 5, 5, 2)),
    LayerCase("maxpool3d-channels-first", "MaxPooling3D",
              dict(pool_size=2, padding="same", data_format="channels_first"), (1, 2, 3, 5, 4),
              keras_kwargs=CL, transpose=True),
    LayerCase("avgpool3d-p2", "AveragePooling3D", dict(pool_size=2), (2, 4, 5, 6, 3)),
    LayerCase("avgpool3d-p3-s2-same", "AveragePooling3D",
              dict(pool_size=3, strides=2, padding="same"), (1, 5, 6, 7, 2)),
    LayerCase("avgpool3d-rect-overlap", "AveragePooling3D",
              dict(pool_size=(1, 2, 3), strides=1), (2, 3, 4, 5, 2)),
    LayerCase("avgpool3d-channels-first", "AveragePooling3D",
              dict(pool_size=(2, 2, 1), padding="same", data_format="channels_first"),
              (1, 2, 3, 5, 4), keras_kwargs=CL, transpose=True),
    # Global poolings
    LayerCase("gap3d", "GlobalAveragePooling3D", {}, (2, 3, 4, 5, 3)),
    LayerCase("gap3d-keepdims-cf", "GlobalAveragePooling3D",
              dict(keepdims=True, data_format="channels_first"), (2, 3, 4, 2, 3)),
    LayerCase("gmp3d", "GlobalMaxPooling3D", {}, (2, 3, 4, 5, 3)),
    LayerCase("gmp3d-keepdims-cf", "GlobalMaxPooling3D",
              dict(keepdims=True, data_format="channels_first"), (2, 3, 4, 2, 3)),
    # Reshaping
    LayerCase("upsampling3d", "UpSampling3D", {}, (2, 2, 3, 2, 3)),
    LayerCase("upsampling3d-rect-cf", "UpSampling3D",
              dict(size=(1, 2, 3), data_format="channels_first"), (1, 2, 3, 2, 2)),
    LayerCase("zeropad3d-default", "ZeroPadding3D", {}, (2, 2, 3, 2, 2)),
    LayerCase("zeropad3d-int", "ZeroPadding3D", dict(padding=2), (1, 2, 1, 2, 2)),
    LayerCase("zeropad3d-symmetric", "ZeroPadding3D", dict(padding=(1, 0, 2)), (1, 2, 3, 2, 2)),
    LayerCase("zeropad3d-pairs-cf", "ZeroPadding3D",
              dict(padding=((1, 2), (0, 1), (2, 0)), data_format="channels_first"),
              (2, 3, 2, 3, 2)),
    LayerCase("cropping3d-default", "Cropping3D", {}, (2, 4, 5, 3, 2)),
    LayerCase("cropping3d-int", "Cropping3D", dict(cropping=1), (1, 3, 4, 5, 2)),
    LayerCase("cropping3d-symmetric", "Cropping3D", dict(cropping=(0, 1, 2)), (1, 3, 4, 5, 2)),
    LayerCase("cropping3d-pairs-cf", "Cropping3D",
              dict(cropping=((1, 0), (0, 2), (1, 1)), data_format="channels_first"),
              (2, 2, 3, 4, 5)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_3d_layer_matches_keras(case, tf, keras):
    run_case(case, tf, keras)


def test_dilated_conv3d_transpose_is_the_conv3d_input_gradient(tf, keras):
    """TensorFlow's CPU kernel refuses dilated transposed 3-D convolutions, so a dilated
    ``Conv3DTranspose`` is compared with what it is by definition: the input gradient of Keras's
    ``Conv3D`` with the same kernel (``(k, filters, in)`` read as ``(k, in, out)`` of that
    convolution), given the transposed layer's input as the upstream gradient."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4, 3)).astype(np.float32)
    for padding in ("same", "valid"):
        ours = nk_layers.Conv3DTranspose(2, (2, 3, 2), dilation_rate=(2, 1, 3), padding=padding,
                                         use_bias=False)  # fmt: skip
        ours.build(x.shape)
        ours.kernel.assign(rng.normal(size=ours.kernel.shape).astype(np.float32))
        y = ours(x)
        conv = keras.layers.Conv3D(3, (2, 3, 2), dilation_rate=(2, 1, 3), padding=padding,
                                   use_bias=False)  # fmt: skip
        conv.build(y.shape)
        conv.set_weights([ours.kernel.numpy()])
        assert conv.compute_output_shape(y.shape) == x.shape
        volume = tf.zeros(y.shape)
        with tf.GradientTape() as tape:
            tape.watch(volume)
            out = conv(volume)
        expected = tape.gradient(out, volume, output_gradients=tf.constant(x)).numpy()
        sigma = error_bounds.linear_layer_step_sigmas(conv, np.zeros(y.shape), x)["dx"]
        tol.assert_sigma_close(y, expected, sigma, f"dilated Conv3DTranspose, {padding}")


# --------------------------------------------------------------------------- configs, shapes


def _plain(v):
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    return v


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_3d_layer_config_and_shape_match_keras(case, keras):
    """``get_config()`` equals Keras's (keys in Keras's order); Keras's config builds a layer with
    the same config; the symbolic output shape is Keras's."""
    theirs = getattr(keras.layers, case.cls)(**case.kwargs)
    ours = getattr(nk_layers, case.cls)(**case.kwargs)
    keras_config, our_config = theirs.get_config(), ours.get_config()
    assert list(our_config) == list(keras_config)
    for key in keras_config:
        if key != "name":
            assert _plain(our_config[key]) == _plain(keras_config[key]), f"{case.id}: {key}"
    rebuilt = getattr(nk_layers, case.cls).from_config(keras_config)
    assert rebuilt.get_config() == {**our_config, "name": keras_config["name"]}
    shape = (None, *case.input_shape[1:])
    assert ours.compute_output_shape(shape) == tuple(theirs.compute_output_shape(shape))
    # and the symbolic graph (Input -> layer) has that shape
    assert ours(nk.Input(shape[1:])).shape == tuple(theirs(keras.Input(shape[1:])).shape)


ALIASES = {
    "Convolution3D": "Conv3D",
    "Convolution3DTranspose": "Conv3DTranspose",
    "MaxPool3D": "MaxPooling3D",
    "AvgPool3D": "AveragePooling3D",
    "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D",
}


def test_aliases_names_and_positional_arguments_match_keras(keras):
    import re

    for alias, name in ALIASES.items():
        assert getattr(keras.layers, alias) is getattr(keras.layers, name)
        assert getattr(nk_layers, alias) is getattr(nk_layers, name)
        assert alias in nk_layers.__all__ and name in nk_layers.__all__
    base = lambda layer: re.sub(r"_\d+$", "", layer.name)  # noqa: E731  the auto-name's stem
    # Every argument positionally, in Keras's order (Conv3DTranspose takes data_format before
    # output_padding, unlike Conv2DTranspose).
    positional = {
        "Conv3D": (2, 3, 2, "same", "channels_first", 1, 2, "relu", False),
        "Conv3DTranspose": (2, 3, 2, "same", "channels_first", 1, 1, "relu", False),
        "MaxPooling3D": ((1, 2, 3), 1, "same", "channels_first", "pool_a"),
        "AveragePooling3D": ((1, 2, 3), 1, "same", "channels_first", "pool_b"),
        "GlobalMaxPooling3D": ("channels_first", True),
        "GlobalAveragePooling3D": ("channels_first", True),
        "UpSampling3D": ((1, 2, 3), "channels_first"),
        "ZeroPadding3D": ((1, 2, 3), "channels_first"),
        "Cropping3D": ((1, 2, 3), "channels_first"),
    }
    for name, args in positional.items():
        ours, theirs = getattr(nk_layers, name)(*args), getattr(keras.layers, name)(*args)
        assert base(ours) == base(theirs), name
        our_config, keras_config = ours.get_config(), theirs.get_config()
        for key in keras_config:
            if key != "name":
                assert _plain(our_config[key]) == _plain(keras_config[key]), f"{name}: {key}"


# --------------------------------------------------------------------------- errors

ERRORS = [
    ("Conv3D", (0, 3), {}),
    ("Conv3D", (2, (3, 3)), {}),
    ("Conv3D", (2, 0), {}),
    ("Conv3D", (2, 3), dict(strides=2, dilation_rate=2)),
    ("Conv3D", (2, 3), dict(padding="causal")),
    ("Conv3D", (3, 3), dict(groups=2)),
    ("Conv3D", (2, 3), dict(data_format="channels_middle")),
    ("Conv3DTranspose", (2, 3), dict(strides=2, output_padding=2)),
    ("Conv3DTranspose", (2, 3), dict(strides=(1, 3, 1), output_padding=(0, 2, 1))),
    ("Conv3DTranspose", (2, 3), dict(groups=2)),
    ("Conv3DTranspose", (2, 3), dict(output_padding=(1, 1))),
    ("MaxPooling3D", (), dict(pool_size=(2, 2))),
    ("MaxPooling3D", (), dict(strides=-1)),
    ("AveragePooling3D", (), {}),
    ("AveragePooling3D", (0,), {}),
    ("GlobalMaxPooling3D", (), dict(data_format="nhwc")),
    ("UpSampling3D", (0,), {}),
    ("UpSampling3D", ((2, 2),), {}),
    ("ZeroPadding3D", ((1, 2),), {}),
    ("ZeroPadding3D", (((1, 2, 3), 1, 1),), {}),
    ("ZeroPadding3D", (1.5,), {}),
    ("Cropping3D", (-1,), {}),
    ("Cropping3D", ((1, 2),), {}),
    ("Cropping3D", ((1, (1, -1), 1),), {}),
]


def _raised(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  the test compares what was raised
        return e
    raise AssertionError("no error raised")


@pytest.mark.parametrize("cls, args, kwargs", ERRORS, ids=[f"{c}-{a}-{k}" for c, a, k in ERRORS])
def test_argument_errors_match_keras(keras, cls, args, kwargs):
    """The same error type as Keras, and the same words up to what was received."""
    theirs = _raised(lambda: getattr(keras.layers, cls)(*args, **kwargs))
    ours = _raised(lambda: getattr(nk_layers, cls)(*args, **kwargs))
    assert isinstance(ours, type(theirs)), (ours, theirs)
    head = lambda e: str(e).split("Received")[0].split(". ")[0][:100]  # noqa: E731
    assert head(ours) == head(theirs), (str(ours), str(theirs))


@pytest.mark.parametrize(
    "cls, args, shape, message",
    [
        ("Cropping3D", ((1, 1, 1),), (2, 3, 4, 2), "Values in `cropping` argument should be"),
        ("MaxPooling3D", (3,), (2, 3, 4, 2), "Computed output size would be zero or negative"),
        ("AveragePooling3D", (3,), (2, 3, 4, 2), "Computed output size would be zero"),
        ("Conv3D", (2, 3), (4, 4, 2), "expected"),
        ("GlobalAveragePooling3D", (), (4, 4, 2), "expected ndim=5"),
    ],
)
def test_shape_errors_match_keras(keras, cls, args, shape, message):
    """Inputs the layer cannot take: a ``ValueError`` from both, on symbolic inputs and (for
    numpykeras) on arrays."""
    _raised(lambda: getattr(keras.layers, cls)(*args)(keras.Input(shape)))
    for inputs in (nk.Input(shape), np.zeros((1, *shape), np.float32)):
        error = _raised(lambda inputs=inputs: getattr(nk_layers, cls)(*args)(inputs))
        assert isinstance(error, ValueError) and message in str(error), error


# --------------------------------------------------------------------------- training


def _classifier(module, data_format="channels_last"):
    """Keras's usual small volumetric classifier."""
    layers = module.layers
    shape = (6, 7, 5, 2) if data_format == "channels_last" else (2, 6, 7, 5)
    return module.Sequential(
        [
            module.Input(shape),
            layers.Conv3D(4, 3, activation="relu", data_format=data_format),
            layers.MaxPooling3D(2, data_format=data_format),
            layers.GlobalAveragePooling3D(data_format=data_format),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _autoencoder(module):
    """The other 3-D layers in one model trained by ``fit``."""
    layers = module.layers
    return module.Sequential(
        [
            module.Input((6, 6, 4, 1)),
            layers.ZeroPadding3D(((2, 0), (1, 1), (0, 0))),
            layers.Conv3D(3, 3, strides=2, padding="same", activation="relu"),
            layers.AveragePooling3D((1, 1, 2), padding="same"),
            layers.UpSampling3D((1, 1, 2)),
            layers.Conv3DTranspose(2, 3, strides=2, padding="same", activation="tanh"),
            layers.Cropping3D(((0, 2), (1, 1), (0, 0))),
            layers.Conv3D(1, 1, activation="sigmoid"),
        ]
    )


def _fit_both(keras, build, compile_args, x, y, seed=0, **fit_args):
    """Fits the same model from the same weights (drawn from ``seed``) in Keras and here, and
    compares every epoch's logs and the final weights."""
    k_model, ours = build(keras), build(nk)
    rng = np.random.default_rng(seed)
    k_model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3 for w in ours.weights])
    ours.set_weights(k_model.get_weights())
    k_model.compile(**compile_args(keras))
    ours.compile(**compile_args(nk))
    fit_args = {"shuffle": False, "verbose": 0, **fit_args}
    k_history = k_model.fit(x, y, **fit_args).history
    history = ours.fit(x, y, **fit_args).history
    close = lambda a, e, what: tol.assert_close(a, e, tol.TRAINING_ATOL, tol.TRAINING_RTOL, what)  # noqa: E731
    assert sorted(history) == sorted(k_history)
    for key, values in k_history.items():
        close(history[key], values, f"history[{key!r}]")  # every epoch
    assert [w.name for w in ours.weights] == [w.name for w in k_model.weights]
    for w, k_w in zip(ours.weights, k_model.weights):
        close(w.numpy(), k_w.numpy(), w.path)
    return k_model, ours


@pytest.mark.parametrize(
    "optimizer, data_format", [("SGD", "channels_last"), ("Adam", "channels_first")]
)
def test_volume_classifier_fit_matches_keras(keras, optimizer, data_format):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6, 7, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=40)
    val = (rng.normal(size=(12, 6, 7, 5, 2)).astype(np.float32), rng.integers(0, 3, size=12))
    if data_format == "channels_first":
        x, val = np.moveaxis(x, -1, 1).copy(), (np.moveaxis(val[0], -1, 1).copy(), val[1])

    def compile_args(module):
        opt = (
            module.optimizers.SGD(0.02, momentum=0.9)
            if optimizer == "SGD"
            else module.optimizers.Adam(0.01)
        )
        return dict(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    build = lambda module: _classifier(module, data_format)  # noqa: E731
    k_model, ours = _fit_both(keras, build, compile_args, x, y, epochs=4, batch_size=8,
                              validation_data=val)  # fmt: skip
    assert ours._trains_by_kernel()  # every layer has its backward kernel: the fused fit path
    for a, e, what in (
        (ours.evaluate(*val, verbose=0), k_model.evaluate(*val, verbose=0), "evaluate"),
        (ours.predict(val[0], verbose=0), k_model.predict(val[0], verbose=0), "predict"),
    ):
        tol.assert_close(a, e, tol.TRAINING_ATOL, tol.TRAINING_RTOL, what)


def test_max_pooling3d_near_ties_differ_from_tensorflow_cpu(tf, keras):
    """A known difference. TensorFlow's CPU MaxPool3DGrad gives the whole upstream gradient to
    every cell within 1e-5 of its window's maximum (``pooling_ops_3d.cc``: ``|in - out| <
    1e-5``), so near-ties get it twice; numpykeras gives it to the first maximum only, as its
    2-D pooling, ``keras.ops.max_pool`` here, and Keras on JAX and PyTorch do. Runs agree while
    no window holds such a near-tie (none does in the training runs above)."""
    x = np.zeros((1, 2, 2, 2, 1), np.float32)
    x[0, 0, 0, 1, 0] = 0.64740205
    x[0, 1, 0, 0, 0] = 0.64740527  # the maximum, 3.2e-6 above the other
    ours = nk_layers.MaxPooling3D()
    y, cache = ours.forward(x)
    dx, _ = ours.backward(np.ones_like(y), cache)
    assert dx.ravel().tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = keras.layers.MaxPooling3D()(xt)
    assert tape.gradient(yt, xt).numpy().ravel().tolist() == [0, 1, 0, 0, 1, 0, 0, 0]


def test_autoencoder_fit_matches_keras(keras):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(24, 6, 6, 4, 1)).astype(np.float32)

    def compile_args(module):
        return dict(optimizer=module.optimizers.Adam(0.01), loss="binary_crossentropy")

    _fit_both(keras, _autoencoder, compile_args, x, x, epochs=3, batch_size=8)


def test_keras_files_round_trip(keras, tmp_path):
    """A model with 3-D layers saved by Keras loads here and predicts the same; its weights
    saved here load in Keras."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 6, 6, 4, 1)).astype(np.float32)
    k_model = _autoencoder(keras)
    for w in k_model.weights:
        w.assign(rng.normal(size=w.shape).astype(np.float32) * 0.3)
    k_model.save(tmp_path / "model.keras")
    ours = nk.models.load_model(tmp_path / "model.keras")
    assert [type(layer).__name__ for layer in ours.layers] == [
        type(layer).__name__ for layer in k_model.layers
    ]
    error_bounds.assert_model_output_close(
        ours.predict(x, verbose=0), k_model.predict(x, verbose=0), k_model, x, "predict"
    )
    ours.save_weights(tmp_path / "ours.weights.h5")
    fresh = _autoencoder(keras)
    fresh.load_weights(tmp_path / "ours.weights.h5")
    for w, k_w in zip(fresh.weights, k_model.weights):
        np.testing.assert_array_equal(w.numpy(), k_w.numpy())
