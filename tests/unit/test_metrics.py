"""Unit tests of numpykeras.metrics: accumulation over batches, reference counts, config, get."""

import numpy as np
import pytest

from numpykeras import losses, metrics


def _rng(seed=0):
    return np.random.default_rng(seed)


def _batches(rng, sizes=(5, 2, 4), num_classes=3):
    """Unequal batches of (one-hot labels, integer labels, probabilities, weights)."""
    out = []
    for n in sizes:
        labels = rng.integers(0, num_classes, n)
        probs = rng.dirichlet(np.ones(num_classes), n).astype("float32")
        out.append((np.eye(num_classes)[labels], labels, probs, rng.uniform(0.2, 2, n)))
    return out


def test_mean_weights_batches_by_size():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([10.0])
    assert m.result() == pytest.approx(16 / 4)
    m.update_state([1.0, 1.0], sample_weight=[0.5, 1.5])
    assert m.result() == pytest.approx((16 + 2) / 6)
    m.reset_state()
    assert m.result() == 0.0
    # A scalar loss weighted by the batch size (what fit's loss tracker does).
    m.update_state(np.float32(2.0), sample_weight=3)
    m.update_state(np.float32(5.0), sample_weight=1)
    assert m.result() == pytest.approx(11 / 4)


def test_sum_metric():
    s = metrics.Sum()
    s.update_state([[1.0, 2.0], [3.0, 4.0]])
    s.update_state([1.0], sample_weight=[3.0])
    assert s.result() == pytest.approx(13.0)


def test_mean_reduces_extra_axes_before_weighting():
    m = metrics.Mean()
    m.update_state([[1.0, 3.0], [5.0, 7.0]], sample_weight=[1.0, 3.0])
    assert m.result() == pytest.approx((2 * 1 + 6 * 3) / 4)


@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_family_over_unequal_batches(weighted):
    rng = _rng(1)
    batches = _batches(rng)
    cat, sparse = metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy()
    top2, sparse_top2 = (
        metrics.TopKCategoricalAccuracy(k=2),
        metrics.SparseTopKCategoricalAccuracy(k=2),
    )
    hits, hits2, total = 0.0, 0.0, 0.0
    for onehot, labels, probs, w in batches:
        sw = w if weighted else None
        cat.update_state(onehot, probs, sw)
        sparse.update_state(labels[:, None], probs, sw)
        top2.update_state(onehot, probs, sw)
        sparse_top2.update_state(labels, probs, sw)
        weight = w if weighted else np.ones(len(labels))
        hits += np.sum(weight * (probs.argmax(-1) == labels))
        rank = (probs > probs[np.arange(len(labels)), labels][:, None]).sum(-1)
        hits2 += np.sum(weight * (rank < 2))
        total += weight.sum()
    assert cat.result() == pytest.approx(hits / total, rel=1e-6)
    assert sparse.result() == pytest.approx(hits / total, rel=1e-6)
    assert top2.result() == pytest.approx(hits2 / total, rel=1e-6)
    assert sparse_top2.result() == pytest.approx(hits2 / total, rel=1e-6)


def test_binary_accuracy_and_accuracy():
    b = metrics.BinaryAccuracy(threshold=0.6)
    b.update_state([1, 0, 1, 0], [0.7, 0.65, 0.5, 0.1])
    assert b.result() == pytest.approx(0.5)
    b.update_state([[1], [1]], [[0.9], [0.2]])
    assert b.result() == pytest.approx(3 / 6)
    a = metrics.Accuracy()
    a.update_state([1, 2, 3], [1, 2, 4])
    assert a.result() == pytest.approx(2 / 3)


def test_top_k_ties_count_as_in():
    # tf.math.in_top_k: a tie straddling the k boundary counts as a hit.
    values = metrics.sparse_top_k_categorical_accuracy([2], [[0.5, 0.5, 0.5, 0.1]], k=1)
    np.testing.assert_array_equal(values, [1.0])


def test_regression_metrics():
    rng = _rng(2)
    mse, mae, rmse = (
        metrics.MeanSquaredError(),
        metrics.MeanAbsoluteError(),
        metrics.RootMeanSquaredError(),
    )
    sq, ab, count = 0.0, 0.0, 0.0
    for n in (4, 1, 3):
        t = rng.normal(size=(n, 2))
        p = rng.normal(size=(n, 2))
        w = rng.uniform(0.5, 2, n)
        for m in (mse, mae, rmse):
            m.update_state(t, p, w)
        sq += np.sum(w * ((t - p) ** 2).mean(-1))
        ab += np.sum(w * np.abs(t - p).mean(-1))
        count += w.sum()
    assert mse.result() == pytest.approx(sq / count, rel=1e-6)
    assert mae.result() == pytest.approx(ab / count, rel=1e-6)
    assert rmse.result() == pytest.approx(np.sqrt(sq / count), rel=1e-6)


def _reference_counts(y_true, y_pred, thresholds, w):
    """Plain-loop weighted tp/fp/tn/fn, 'positive' meaning strictly above the threshold."""
    out = {k: np.zeros(len(thresholds)) for k in ("tp", "fp", "tn", "fn")}
    for i, thr in enumerate(thresholds):
        for t, p, wi in zip(y_true, y_pred, w):
            key = ("t" if (p > thr) == bool(t) else "f") + ("p" if p > thr else "n")
            out[key][i] += wi
    return out


def test_precision_recall_against_loop():
    rng = _rng(3)
    thresholds = [0.3, 0.5, 0.72]
    prec = metrics.Precision(thresholds=thresholds)
    rec = metrics.Recall(thresholds=thresholds)
    acc = {k: np.zeros(3) for k in ("tp", "fp", "tn", "fn")}
    for n in (6, 3, 5):
        t = rng.integers(0, 2, n)
        p = rng.uniform(size=n).astype("float32")
        w = rng.uniform(0.5, 2, n)
        prec.update_state(t, p, w)
        rec.update_state(t, p, w)
        ref = _reference_counts(t, p, thresholds, w)
        for k in acc:
            acc[k] += ref[k]
    np.testing.assert_allclose(prec.result(), acc["tp"] / (acc["tp"] + acc["fp"]), rtol=1e-6)
    np.testing.assert_allclose(rec.result(), acc["tp"] / (acc["tp"] + acc["fn"]), rtol=1e-6)


def test_precision_top_k_and_class_id():
    y_true = np.array([[0, 1, 0, 1], [1, 0, 0, 0]])
    y_pred = np.array([[0.1, 0.9, 0.8, 0.2], [0.6, 0.7, 0.1, 0.3]], dtype="float32")
    top1 = metrics.Precision(top_k=1)
    top1.update_state(y_true, y_pred)
    assert top1.result() == pytest.approx(0.5)  # hits: (0,1) yes, (1,1) no
    rec = metrics.Recall(class_id=0)
    rec.update_state(y_true, y_pred)
    assert rec.result() == pytest.approx(1.0)


def _trapezoid_roc_auc(y_true, y_pred, w, num_thresholds=200):
    eps = 1e-7
    thresholds = [0 - eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    thresholds += [1 + eps]
    c = _reference_counts(y_true, y_pred, thresholds, w)
    tpr = c["tp"] / (c["tp"] + c["fn"])
    fpr = c["fp"] / (c["fp"] + c["tn"])
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_auc_roc_against_loop():
    rng = _rng(4)
    auc = metrics.AUC(num_thresholds=50)
    ts, ps, ws = [], [], []
    for n in (7, 2, 5):
        t = rng.integers(0, 2, n)
        p = rng.uniform(size=n).astype("float32")
        w = rng.uniform(0.5, 2, n)
        auc.update_state(t, p, w)
        ts.append(t), ps.append(p), ws.append(w)
    ref = _trapezoid_roc_auc(np.concatenate(ts), np.concatenate(ps), np.concatenate(ws), 50)
    assert auc.result() == pytest.approx(ref, rel=1e-5)


def test_auc_explicit_thresholds_and_multilabel_shapes():
    auc = metrics.AUC(thresholds=[0.2, 0.7], curve="PR", summation_method="majoring")
    auc.update_state([0, 1, 1, 0], [0.1, 0.8, 0.4, 0.3])
    assert auc.true_positives.shape == (4,)
    assert 0 <= auc.result() <= 1
    ml = metrics.AUC(multi_label=True)
    ml.update_state(np.eye(3)[[0, 1, 2, 0]], np.random.default_rng(0).uniform(size=(4, 3)))
    assert ml.true_positives.shape == (200, 3)
    with pytest.raises(ValueError, match="Invalid AUC curve value"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="`num_thresholds` must be an integer > 1"):
        metrics.AUC(num_thresholds=1)


def test_threshold_range_validation():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])


def test_loss_metrics_match_loss_functions():
    rng = _rng(5)
    labels = rng.integers(0, 3, 4)
    probs = rng.dirichlet(np.ones(3), 4).astype("float32")
    m = metrics.SparseCategoricalCrossentropy()
    m.update_state(labels, probs)
    expected = np.mean(losses.sparse_categorical_crossentropy(labels, probs))
    assert m.result() == pytest.approx(float(expected), rel=1e-6)


# ------------------------------------------------------------------ config / get / resolve

CLASSES = [
    metrics.Mean,
    metrics.Sum,
    metrics.Accuracy,
    metrics.BinaryAccuracy,
    metrics.CategoricalAccuracy,
    metrics.SparseCategoricalAccuracy,
    metrics.TopKCategoricalAccuracy,
    metrics.SparseTopKCategoricalAccuracy,
    metrics.Precision,
    metrics.Recall,
    metrics.AUC,
    metrics.MeanSquaredError,
    metrics.MeanAbsoluteError,
    metrics.RootMeanSquaredError,
    metrics.BinaryCrossentropy,
    metrics.CategoricalCrossentropy,
    metrics.SparseCategoricalCrossentropy,
    metrics.TruePositives,
]


@pytest.mark.parametrize("cls", CLASSES)
def test_config_round_trip(cls):
    m = cls(name="my_metric")
    config = m.get_config()
    assert config["name"] == "my_metric" and config["dtype"] == "float32"
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    restored = metrics.deserialize(metrics.serialize(m))
    assert type(restored) is cls and restored.get_config() == config


def test_non_default_config_round_trip():
    for m in [
        metrics.AUC(num_thresholds=20, curve="PR", thresholds=[0.1, 0.4]),
        metrics.Precision(thresholds=[0.2, 0.6], class_id=1),
        metrics.TopKCategoricalAccuracy(k=3),
        metrics.BinaryAccuracy(threshold=0.3),
        metrics.MeanMetricWrapper(losses.huber, name="h", delta=2.0),
    ]:
        again = metrics.get(metrics.serialize(m))
        assert again.get_config() == m.get_config()


def test_get_identifiers():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("SparseCategoricalAccuracy"), metrics.SparseCategoricalAccuracy)
    assert metrics.get(metrics.binary_accuracy) is metrics.binary_accuracy
    with pytest.raises(ValueError, match="Could not interpret metric identifier: crossentropy"):
        metrics.get("crossentropy")


@pytest.mark.parametrize(
    "identifier, true_shape, pred_shape, expected",
    [
        ("accuracy", (8,), (8, 1), metrics.BinaryAccuracy),
        ("acc", (8, 1), (8, 1), metrics.BinaryAccuracy),
        ("accuracy", (8,), (8, 5), metrics.SparseCategoricalAccuracy),
        ("accuracy", (8, 1), (8, 5), metrics.SparseCategoricalAccuracy),
        ("ACC", (8, 5), (8, 5), metrics.CategoricalAccuracy),
    ],
)
def test_resolve_accuracy(identifier, true_shape, pred_shape, expected):
    m = metrics.resolve_metric(identifier, np.zeros(true_shape), np.zeros(pred_shape))
    assert type(m) is expected and m.name == identifier


def test_resolve_names():
    y, p = np.zeros((4, 2)), np.zeros((4, 2))
    assert metrics.resolve_metric("mse", y, p).name == "mse"
    assert isinstance(metrics.resolve_metric("mae", y, p), metrics.MeanAbsoluteError)
    m = metrics.resolve_metric(losses.mean_squared_error, y, p)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "mean_squared_error"
    auc = metrics.AUC(name="my_auc")
    assert metrics.resolve_metric(auc, y, p) is auc and auc.name == "my_auc"
    with pytest.raises(ValueError, match="Expected metric, received `None`"):
        metrics.resolve_metric(None, y, p)
