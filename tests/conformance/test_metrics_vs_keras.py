"""numpykeras metrics vs Keras 3: results after several unequal, weighted batches; compile rule."""

import numpy as np
import pytest

from numpykeras import losses, metrics

import tolerances as tol

SIZES = (5, 2, 7)
C = 4


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def _batch(kind, n, rng):
    f32 = lambda x: np.asarray(x, dtype="float32")  # noqa: E731
    if kind == "values":
        return None, f32(rng.normal(size=(n, 3)))
    if kind == "equal":
        return f32(rng.integers(0, 3, (n, 1))), f32(rng.integers(0, 3, (n, 1)))
    if kind == "binary":
        return f32(rng.integers(0, 2, (n, 1))), f32(rng.uniform(size=(n, 1)))
    if kind == "binary_flat":
        return f32(rng.integers(0, 2, n)), f32(rng.uniform(size=n))
    if kind == "multilabel":
        return f32(rng.integers(0, 2, (n, C))), f32(rng.uniform(size=(n, C)))
    if kind == "logits":
        return f32(rng.integers(0, 2, (n, C))), f32(rng.normal(size=(n, C)) * 2)
    if kind == "onehot":
        return f32(np.eye(C)[rng.integers(0, C, n)]), _softmax(rng.normal(size=(n, C)))
    if kind == "sparse":
        return f32(rng.integers(0, C, n)), _softmax(rng.normal(size=(n, C)))
    if kind == "sparse_column":
        return f32(rng.integers(0, C, (n, 1))), _softmax(rng.normal(size=(n, C)))
    if kind == "regression":
        return f32(rng.uniform(0.1, 3, (n, 3))), f32(rng.uniform(0.1, 3, (n, 3)))
    if kind == "hinge":
        return f32(rng.integers(0, 2, (n, 3))), f32(rng.normal(size=(n, 3)))
    raise AssertionError(kind)


# (class name, kwargs, data kind)
CASES = [
    ("Mean", {}, "values"),
    ("Sum", {}, "values"),
    ("Accuracy", {}, "equal"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary_flat"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_column"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.2, 0.5, 0.9]}, "multilabel"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "multilabel"),
    ("Precision", {"top_k": 2}, "multilabel"),
    ("Precision", {"class_id": 1}, "multilabel"),
    ("Recall", {}, "binary_flat"),
    ("Recall", {"thresholds": [0.3, 0.6]}, "multilabel"),
    ("Recall", {"top_k": 1, "class_id": 2}, "multilabel"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.3, 0.7]}, "multilabel"),
    ("TrueNegatives", {}, "binary_flat"),
    ("FalseNegatives", {}, "binary"),
    ("AUC", {}, "binary"),
    ("AUC", {"num_thresholds": 7}, "multilabel"),
    ("AUC", {"curve": "PR"}, "binary_flat"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "binary"),
    ("AUC", {"summation_method": "minoring"}, "multilabel"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.8]}, "binary"),
    ("AUC", {"multi_label": True}, "multilabel"),
    ("AUC", {"multi_label": True, "curve": "PR", "label_weights": [1, 2, 0.5, 1]}, "multilabel"),
    ("AUC", {"label_weights": [1, 2, 0.5, 1]}, "multilabel"),
    ("AUC", {"from_logits": True}, "logits"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("Hinge", {}, "hinge"),
    ("SquaredHinge", {}, "hinge"),
    ("CategoricalHinge", {}, "onehot"),
    ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "regression"),
    ("BinaryCrossentropy", {}, "multilabel"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
]
IDS = [f"{name}-{kind}-{'-'.join(map(str, kw.values())) or 'default'}" for name, kw, kind in CASES]


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_result_over_unequal_batches(keras, name, kwargs, kind, weighted):
    rng = np.random.default_rng(sum(map(ord, name + kind)) % 1000)
    ours = getattr(metrics, name)(**kwargs)
    theirs = getattr(keras.metrics, name)(**kwargs)
    for n in SIZES:
        y_true, y_pred = _batch(kind, n, rng)
        sw = rng.uniform(0, 2, n).astype("float32") if weighted else None
        args = (y_pred,) if y_true is None else (y_true, y_pred)
        ours.update_state(*args, sample_weight=sw)
        theirs.update_state(*args, sample_weight=sw)
    result = ours.result()
    expected = np.asarray(theirs.result())
    assert np.shape(result) == expected.shape
    tol.assert_close(result, expected, tol.LOSS_ATOL, tol.LOSS_RTOL, f"{name}{kwargs}")
    # reset_state and config as Keras.
    ours.reset_state()
    theirs.reset_state()
    tol.assert_close(ours.result(), np.asarray(theirs.result()), 0, 0, "after reset")


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_metric_config_matches_keras(keras, name, kwargs, kind):
    ours = getattr(metrics, name)(**kwargs).get_config()
    theirs = getattr(keras.metrics, name)(**kwargs).get_config()
    theirs = {
        k: (np.asarray(v).tolist() if k == "label_weights" and v is not None else v)
        for k, v in theirs.items()
    }
    extra = set(ours) - set(theirs)
    assert extra <= {"axis"}, name  # Keras's CosineSimilarity config drops its axis
    assert {k: ours[k] for k in theirs if k != "name"} == {
        k: v for k, v in theirs.items() if k != "name"
    }
    getattr(keras.metrics, name).from_config(ours)


def test_metric_string_identifiers_match_keras(keras):
    for identifier in [
        "mse",
        "MAE",
        "mape",
        "msle",
        "bce",
        "auc",
        "accuracy",
        "binary_accuracy",
        "categorical_crossentropy",
        "root_mean_squared_error",
        "AUC",
        "Precision",
        "top_k_categorical_accuracy",
        "kl_divergence",
        "log_cosh_error",
    ]:
        assert (
            type(metrics.get(identifier)).__name__ == type(keras.metrics.get(identifier)).__name__
        ), identifier


# ------------------------------------------------------------------ compile's metric rule

SHAPES = [
    ((8,), (8, 1)),
    ((8, 1), (8, 1)),
    ((8,), (8, 5)),
    ((8, 1), (8, 5)),
    ((8, 5), (8, 5)),
    ((8, 3, 1), (8, 3, 5)),
    ((8, 3), (8, 3, 5)),
    ((8, 3, 5), (8, 3, 5)),
    ((8,), (8,)),
]
LOSSES = [
    None,
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
]


@pytest.mark.parametrize("true_shape, pred_shape", SHAPES)
@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy", "mse", "auc"])
@pytest.mark.parametrize("loss", LOSSES)
def test_resolve_metric_matches_keras_compile(keras, true_shape, pred_shape, identifier, loss):
    from keras.src.trainers.compile_utils import get_metric

    y_true, y_pred = np.zeros(true_shape, "float32"), np.zeros(pred_shape, "float32")
    expected = get_metric(identifier, keras.ops.convert_to_tensor(y_true), y_pred)
    ours = metrics.resolve_metric(identifier, y_true, y_pred, loss=loss)
    assert type(ours).__name__ == type(expected).__name__
    assert ours.name == expected.name


def test_resolve_metric_objects_and_functions(keras):
    from keras.src.trainers.compile_utils import get_metric

    y, p = np.zeros((4, 3), "float32"), np.zeros((4, 3), "float32")
    pairs = [
        (losses.mean_squared_error, keras.losses.mean_squared_error),
        (metrics.categorical_accuracy, keras.metrics.categorical_accuracy),
        (metrics.AUC(name="roc"), keras.metrics.AUC(name="roc")),
        (metrics.Precision(), keras.metrics.Precision()),
    ]
    for ours_id, keras_id in pairs:
        expected = get_metric(keras_id, y, p)
        ours = metrics.resolve_metric(ours_id, y, p)
        assert type(ours).__name__ == type(expected).__name__
        assert ours.name.split("_")[0] == expected.name.split("_")[0]  # uniquified suffixes
    for ours_id in ("mse", "mae"):
        assert metrics.resolve_metric(ours_id, y, p).name == get_metric(ours_id, y, p).name
