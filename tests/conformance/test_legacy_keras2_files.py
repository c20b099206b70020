"""Full-model ``.h5`` files in the layout of Keras 2.0-2.2 (written by hand, see
``tests/keras2_files.py``) load into numpykeras with the predictions of Keras 3 and tf_keras.

Keras 3 (3.15) loads the functional ones (class ``"Model"``) but not the Sequential ones: it
fails on a 2.0-2.1 bare-list config and builds a 2.2 one for inputs of the wrong rank, so those
are compared with tf_keras only. Keras 3 cannot compile these files either (it rejects the
optimizer's ``lr`` key), so every library loads them with ``compile=False``; numpykeras compiling
them is covered in the unit tests.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras.layers.layer import clear_session

import keras2_files as k2
from tolerances import assert_forward_close

L2 = {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}}


def tiny_dense(era):
    """Input(4) -> Dense(3, relu) -> Dense(2, softmax)."""
    if era == "functional":
        layers = [
            k2.input_layer("input_1", [None, 4]),
            k2.dense("dense_1", 3, "relu", ["input_1"], kernel_regularizer=L2),
            k2.dense("dense_2", 2, "softmax", ["dense_1"]),
        ]
        return k2.functional_config("model_1", layers, ["input_1"], ["dense_2"]), layers
    layers = [
        k2.dense("dense_1", 3, "relu", kernel_regularizer=L2, batch_input_shape=[None, 4]),
        k2.dense("dense_2", 2, "softmax"),
    ]
    bare_list = era == "sequential list"
    return k2.sequential_config("sequential_1", layers, bare_list), layers


def two_branch_cnn(era):
    """img -> (Conv2D a, Conv2D b) -> Add -> BatchNorm -> MaxPool -> Flatten -> Dropout -> Dense."""
    assert era == "functional"
    layers = [
        k2.input_layer("input_1", [None, 8, 8, 3]),
        k2.conv2d("conv2d_1", 4, 3, "relu", ["input_1"], padding="same"),
        k2.conv2d("conv2d_2", 4, 1, "linear", ["input_1"], padding="same"),
        k2.add("add_1", ["conv2d_1", "conv2d_2"]),
        k2.batch_norm("batch_normalization_1", ["add_1"]),
        k2.max_pooling2d("max_pooling2d_1", ["batch_normalization_1"]),
        k2.flatten("flatten_1", ["max_pooling2d_1"]),
        k2.dropout("dropout_1", 0.5, ["flatten_1"]),
        k2.dense("dense_1", 5, "softmax", ["dropout_1"]),
    ]
    return k2.functional_config("model_1", layers, ["input_1"], ["dense_1"]), layers


SHAPES = {
    "dense_1": [(4, 3), (3,)],
    "dense_2": [(3, 2), (2,)],
}
CNN_SHAPES = {
    "conv2d_1": [(3, 3, 3, 4), (4,)],
    "conv2d_2": [(1, 1, 3, 4), (4,)],
    "batch_normalization_1": [(4,)] * 4,
    "dense_1": [(64, 5), (5,)],
}

CASES = {
    # name: (config builder, era, keras_version, weight shapes, input shape)
    "functional dense 2.1.6": (tiny_dense, "functional", "2.1.6", SHAPES, (4,)),
    "functional dense 2.0.8": (tiny_dense, "functional", "2.0.8", SHAPES, (4,)),
    "sequential list 2.0.8": (tiny_dense, "sequential list", "2.0.8", SHAPES, (4,)),
    "sequential dict 2.2.4": (tiny_dense, "sequential dict", "2.2.4", SHAPES, (4,)),
    "functional cnn 2.2.4": (two_branch_cnn, "functional", "2.2.4", CNN_SHAPES, (8, 8, 3)),
}


REFERENCES = [
    (case, reference)
    for case in sorted(CASES)
    for reference in ("keras", "tf_keras")
    if reference == "tf_keras" or CASES[case][1] == "functional"
]


@pytest.mark.parametrize("case, reference", REFERENCES)
def test_keras_2_0_to_2_2_full_model_files_predict_as_keras(
    tmp_path, keras, tf_keras, case, reference
):
    build, era, version, shapes, input_shape = CASES[case]
    config, layers = build(era)
    weights = {entry["config"]["name"]: [] for entry in layers if era == "functional"}
    weights.update(k2.random_weights(layers, shapes))
    path = tmp_path / "old.h5"
    k2.write_keras2_model(path, config, weights, version)

    clear_session()
    ours = nk.models.load_model(path, compile=False)
    lib = {"keras": keras, "tf_keras": tf_keras}[reference]
    theirs = lib.models.load_model(path, compile=False)
    x = np.random.default_rng(2).standard_normal((3, *input_shape)).astype("f4")
    assert_forward_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
