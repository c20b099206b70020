"""Whole-model losses and weight gradients: numpykeras vs Keras 3 (TensorFlow backend).

Each case builds the same model in Keras and in numpykeras, copies Keras's initial weights into
ours, and compares the loss of one training batch and the gradient of every trainable weight.
Keras's side is what ``fit`` computes: ``model.compute_loss`` on ``model(x, training=True)``
inside a ``tf.function`` (in graph mode a softmax/sigmoid output followed by a crossentropy is
differentiated from its logits) under ``tf.GradientTape``. Ours is ``model._loss_and_gradients``.
"""

import numpy as np
import pytest

import numpykeras as nk

from tolerances import LOSS_ATOL, LOSS_RTOL, assert_close, assert_grad_close

NUM_CLASSES = 10
BATCH = 6


# --------------------------------------------------------------------------- the models


def build_cnn(module, activation):
    """The reference CNN (Keras's CIFAR-10 tutorial model)."""
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(NUM_CLASSES, activation=activation),
        ]
    )


def build_bn_dropout(module, activation):
    """Convolution, BatchNormalization (conv and dense) and a Dropout(0), an identity."""
    layers = module.layers
    return module.models.Sequential(
        [
            layers.Input((10, 10, 3)),
            layers.Conv2D(6, (3, 3), padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(0.0),
            layers.Dense(16),
            layers.BatchNormalization(center=False, momentum=0.9),
            layers.Activation("relu"),
            layers.Dense(NUM_CLASSES, activation=activation),
        ]
    )


def build_two_branch(module, activation):
    """A Functional model: a convolutional and a pooled branch from one input, summed."""
    layers = module.layers
    inputs = module.Input((12, 12, 3))
    a = layers.Conv2D(4, (3, 3), activation="relu")(inputs)
    a = layers.MaxPooling2D((2, 2))(a)
    a = layers.Flatten()(a)
    a = layers.Dense(16, activation="relu")(a)
    b = layers.GlobalAveragePooling2D()(inputs)
    b = layers.Dense(16, activation="tanh")(b)
    h = layers.Add()([a, b])
    outputs = layers.Dense(NUM_CLASSES, activation=activation)(h)
    return module.Model(inputs, outputs)


MODELS = {"cnn": build_cnn, "bn_dropout": build_bn_dropout, "two_branch": build_two_branch}

# name -> (output activation, loss factory, label kind)
LOSSES = {
    "softmax_sparse_ce": ("softmax", lambda m: "sparse_categorical_crossentropy", "sparse"),
    "logits_sparse_ce": (
        None,
        lambda m: m.losses.SparseCategoricalCrossentropy(from_logits=True),
        "sparse",
    ),
    "softmax_categorical_ce": ("softmax", lambda m: "categorical_crossentropy", "one_hot"),
    "sigmoid_binary_ce": ("sigmoid", lambda m: "binary_crossentropy", "binary"),
    "linear_mse": (None, lambda m: "mse", "regression"),
}


def _labels(kind, rng, n):
    if kind == "sparse":
        return rng.integers(0, NUM_CLASSES, size=n)
    if kind == "one_hot":
        return np.eye(NUM_CLASSES, dtype="float32")[rng.integers(0, NUM_CLASSES, size=n)]
    if kind == "binary":
        return (rng.random((n, NUM_CLASSES)) < 0.3).astype("float32")
    return rng.normal(size=(n, NUM_CLASSES)).astype("float32")


def _keras_loss_and_grads(tf, model, x, y, sample_weight):
    """Keras's training-step loss and gradients, traced as ``fit`` traces them."""

    @tf.function
    def step(x, y, sample_weight):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
        return loss, tape.gradient(loss, model.trainable_variables)

    sw = None if sample_weight is None else tf.constant(sample_weight)
    loss, grads = step(tf.constant(x), tf.constant(y), sw)
    return float(loss), [g.numpy() for g in grads]


def _check_case(tf, keras, model_name, loss_name, weighted, seed, output_bias=0.0):
    activation, loss_factory, label_kind = LOSSES[loss_name]
    build = MODELS[model_name]
    k_model = build(keras, activation)
    k_model.compile(optimizer="sgd", loss=loss_factory(keras))
    ours = build(nk, activation)
    ours.compile(optimizer="sgd", loss=loss_factory(nk))
    weights = k_model.get_weights()
    if output_bias:  # large random output biases: logits far apart, saturated probabilities
        bias_rng = np.random.default_rng(seed + 1000)
        weights[-1] = (output_bias * bias_rng.normal(size=weights[-1].shape)).astype("float32")
    k_model.set_weights(weights)
    ours.set_weights(weights)

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH,) + tuple(k_model.input_shape[1:])).astype("float32")
    y = _labels(label_kind, rng, BATCH)
    sample_weight = rng.uniform(0.2, 2.0, size=BATCH).astype("float32") if weighted else None

    k_loss, k_grads = _keras_loss_and_grads(tf, k_model, x, y, sample_weight)
    loss, *_, grads = ours._loss_and_gradients(x, y, sample_weight)

    assert_close(loss, k_loss, LOSS_ATOL, LOSS_RTOL, f"{model_name}/{loss_name}: loss")
    trainable = ours.trainable_weights
    assert len(trainable) == len(k_grads) == len(k_model.trainable_variables)
    assert set(grads) == set(trainable), f"{model_name}: a trainable weight has no gradient"
    for variable, k_var, k_grad in zip(trainable, k_model.trainable_variables, k_grads):
        assert variable.name == k_var.name and variable.shape == tuple(k_var.shape), (
            f"weight order differs: {variable.path} vs {k_var.path}"
        )
        assert grads[variable].dtype == np.float32, f"{variable.path}: gradient not float32"
        assert_grad_close(grads[variable], k_grad, f"{model_name}/{loss_name}: d{variable.path}")


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_model_gradients_match_keras(tf, keras, model_name, loss_name):
    seed = 17 * list(MODELS).index(model_name) + list(LOSSES).index(loss_name)
    _check_case(tf, keras, model_name, loss_name, weighted=True, seed=seed)


@pytest.mark.parametrize("model_name", list(MODELS))
def test_model_gradients_match_keras_unweighted(tf, keras, model_name):
    _check_case(tf, keras, model_name, "softmax_sparse_ce", weighted=False, seed=99)


@pytest.mark.parametrize("model_name", ["cnn", "two_branch"])
@pytest.mark.parametrize(
    "loss_name", ["softmax_sparse_ce", "softmax_categorical_ce", "sigmoid_binary_ce"]
)
def test_saturated_outputs_differentiate_through_logits(tf, keras, model_name, loss_name):
    """Probabilities clipped at ``epsilon`` have no gradient: Keras (and we) use the logits."""
    _check_case(tf, keras, model_name, loss_name, weighted=True, seed=7, output_bias=40.0)


def test_l2_regularized_model_gradients_match_keras(tf, keras):
    """Weight penalties enter the loss and the gradients as in Keras's ``compute_loss``."""

    def build(module):
        layers = module.layers
        return module.models.Sequential(
            [
                layers.Input((8,)),
                layers.Dense(
                    12, activation="relu", kernel_regularizer=module.regularizers.L2(0.05)
                ),
                layers.Dense(
                    NUM_CLASSES, activation="softmax", bias_regularizer=module.regularizers.L1(0.02)
                ),
            ]
        )

    k_model, ours = build(keras), build(nk)
    k_model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ours.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(5)
    weights = [
        w + rng.normal(scale=0.1, size=w.shape).astype("float32") for w in k_model.get_weights()
    ]  # non-zero biases, so L1 has a gradient
    k_model.set_weights(weights)
    ours.set_weights(weights)
    x = rng.normal(size=(BATCH, 8)).astype("float32")
    y = rng.integers(0, NUM_CLASSES, size=BATCH)
    k_loss, k_grads = _keras_loss_and_grads(tf, k_model, x, y, None)
    loss, *_, grads = ours._loss_and_gradients(x, y, None)
    assert_close(loss, k_loss, LOSS_ATOL, LOSS_RTOL, "regularized loss")
    for variable, k_grad in zip(ours.trainable_weights, k_grads):
        assert_grad_close(grads[variable], k_grad, f"d{variable.path}")
