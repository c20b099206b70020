"""Training Functional models with several outputs (no TensorFlow).

``compile`` with a loss per output (a list, a dict by output name, or one loss for all),
``loss_weights``, per-output ``metrics``; ``fit``/``evaluate``/``train_on_batch`` with targets and
sample weights per output; log keys and ``evaluate``'s order; errors raised before any weight
changes; and a float64 finite-difference check of the weighted total loss's gradient.
"""

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers

import tolerances as tol
from gradcheck import numerical_gradient

F64 = "float64"
N = 12


def two_outputs(as_dict=False, dtype=None, regularize=False, feed_back=False, seed=0):
    """A softmax head "label" (3 classes) and a linear head "value" (2 units) on a trunk.

    ``feed_back``: the softmax output is also an input of the value head, so the label layer
    gets a gradient through its output as well as the fused crossentropy one.
    """
    nk.utils.set_random_seed(seed)
    kw = {} if dtype is None else {"dtype": dtype}
    inp = nk.Input((5,), name="features", **({} if dtype is None else {"dtype": dtype}))
    reg = nk.regularizers.L2(0.03) if regularize else None
    trunk = layers.Dense(6, activation="tanh", name="trunk", kernel_regularizer=reg, **kw)(inp)
    label = layers.Dense(3, activation="softmax", name="label", **kw)(trunk)
    head_in = layers.Concatenate(name="concat", **kw)([trunk, label]) if feed_back else trunk
    value = layers.Dense(2, name="value", **kw)(head_in)
    outputs = {"z_class": label, "a_reg": value} if as_dict else [label, value]
    return nk.Model(inp, outputs, name="two_outputs")


def data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    labels = rng.integers(0, 3, size=n)
    values = rng.normal(size=(n, 2)).astype("float32")
    return x, labels, values


# Plain NumPy references (Keras's "sum_over_batch_size": sum(w * loss) / batch size).
def ref_sparse_ce(labels, probs, weights=None):
    probs = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    per_sample = -np.log(probs[np.arange(len(labels)), labels])
    weights = np.ones(len(labels)) if weights is None else weights
    return float(np.sum(per_sample * weights) / len(labels))


def ref_mse(targets, preds, weights=None):
    per_sample = np.mean((targets.astype(np.float64) - preds) ** 2, axis=-1)
    weights = np.ones(len(targets)) if weights is None else weights
    return float(np.sum(per_sample * weights) / len(targets))


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- values and logs


def test_evaluate_values_order_and_keys():
    model = two_outputs(regularize=True)
    model.compile(
        optimizer="sgd",
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[0.7, 1.9],
        metrics=[["accuracy"], ["mae", "mse"]],
    )
    x, labels, values = data()
    probs, preds = model.predict(x, verbose=0)
    ce, mse = ref_sparse_ce(labels, probs), ref_mse(values, preds)
    kernel = model.get_layer("trunk").kernel.numpy().astype(np.float64)
    reg = 0.03 * np.sum(kernel**2)
    logs = model.evaluate(x, [labels, values], verbose=0, return_dict=True)
    assert list(logs) == [
        "label_accuracy",
        "label_loss",
        "loss",
        "value_loss",
        "value_mae",
        "value_mse",
    ]
    rtol = tol.LOSS_RTOL
    assert logs["label_loss"] == pytest.approx(ce, rel=rtol)
    assert logs["value_loss"] == pytest.approx(mse, rel=rtol)
    assert logs["value_mse"] == pytest.approx(mse, rel=rtol)
    assert logs["loss"] == pytest.approx(0.7 * ce + 1.9 * mse + reg, rel=rtol)
    assert logs["label_accuracy"] == pytest.approx(np.mean(probs.argmax(-1) == labels))
    assert logs["value_mae"] == pytest.approx(np.mean(np.abs(values - preds)), rel=rtol)
    # Keras's list: the total, the per-output losses in output order, then the metrics by name.
    as_list = model.evaluate(x, [labels, values], verbose=0)
    keys = ["loss", "label_loss", "value_loss", "label_accuracy", "value_mae", "value_mse"]
    assert as_list == pytest.approx([logs[k] for k in keys])
    assert model.test_on_batch(x, [labels, values], return_dict=True) == pytest.approx(logs)


def test_sample_weights_per_output_and_shared():
    model = two_outputs()
    model.compile(
        optimizer="sgd",
        loss=["sparse_categorical_crossentropy", "mse"],
        weighted_metrics=[[], ["mae"]],
    )
    x, labels, values = data()
    probs, preds = model.predict(x, verbose=0)
    rng = np.random.default_rng(3)
    w1, w2 = rng.uniform(0.1, 2.0, N), rng.uniform(0.1, 2.0, N)
    logs = model.evaluate(x, [labels, values], sample_weight=[w1, w2], verbose=0, return_dict=True)
    assert logs["label_loss"] == pytest.approx(ref_sparse_ce(labels, probs, w1), rel=1e-5)
    assert logs["value_loss"] == pytest.approx(ref_mse(values, preds, w2), rel=1e-5)
    mae = np.sum(np.mean(np.abs(values - preds), axis=-1) * w2) / np.sum(w2)
    assert logs["value_mae"] == pytest.approx(mae, rel=1e-5)
    # One array weights every output.
    logs = model.evaluate(x, [labels, values], sample_weight=w1, verbose=0, return_dict=True)
    assert logs["label_loss"] == pytest.approx(ref_sparse_ce(labels, probs, w1), rel=1e-5)
    assert logs["value_loss"] == pytest.approx(ref_mse(values, preds, w1), rel=1e-5)


def test_fit_history_keys_and_per_output_losses_by_batch():
    """Per-output loss logs average the batch losses with equal weight (Keras's TF graph mode);
    the total ``loss`` averages by batch size."""
    model = two_outputs()
    model.compile(
        optimizer=nk.optimizers.SGD(learning_rate=0.0),  # weights stay: batch losses are known
        loss={"value": "mse", "label": "sparse_categorical_crossentropy"},
        metrics={"label": "accuracy"},
    )
    x, labels, values = data(n=10)
    probs, preds = model.predict(x, verbose=0)
    history = model.fit(
        x,
        {"label": labels, "value": values},
        batch_size=4,
        shuffle=False,
        verbose=0,
        validation_data=(x, [labels, values]),
    )
    assert list(history.history) == [
        "label_accuracy",
        "label_loss",
        "loss",
        "val_label_accuracy",
        "val_label_loss",
        "val_loss",
        "val_value_loss",
    ] + ["value_loss"]
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    ce = [ref_sparse_ce(labels[b], probs[b]) for b in batches]
    mse = [ref_mse(values[b], preds[b]) for b in batches]
    sizes = np.array([4, 4, 2])
    assert history.history["label_loss"][0] == pytest.approx(np.mean(ce), rel=1e-5)
    assert history.history["value_loss"][0] == pytest.approx(np.mean(mse), rel=1e-5)
    total = np.sum((np.array(ce) + np.array(mse)) * sizes) / sizes.sum()
    assert history.history["loss"][0] == pytest.approx(total, rel=1e-5)
    # Validation runs in batches of `batch_size` too: the same batch means.
    assert history.history["val_label_loss"][0] == pytest.approx(np.mean(ce), rel=1e-5)
    assert history.history["val_loss"][0] == pytest.approx(total, rel=1e-5)


def test_untrained_output_and_partial_targets():
    model = two_outputs()
    model.compile(optimizer="sgd", loss=[None, "mse"], metrics=[["accuracy"], None])
    x, labels, values = data()
    label_before = model.get_layer("label").get_weights()
    value_before = model.get_layer("value").get_weights()
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        history = model.fit(x, [labels, values], epochs=1, verbose=0)
    assert sorted(history.history) == ["label_accuracy", "loss"]  # one loss: no per-output log
    for a, b in zip(model.get_layer("label").get_weights(), label_before):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(model.get_layer("value").get_weights()[0], value_before[0])
    # Targets only for the trained output.
    model.compile(optimizer="sgd", loss=[None, "mse"])
    _, preds = model.predict(x, verbose=0)
    assert model.evaluate(x, values, verbose=0) == pytest.approx(ref_mse(values, preds), rel=1e-5)
    assert model.evaluate(x, [values], verbose=0) == pytest.approx(ref_mse(values, preds), rel=1e-5)
    with pytest.raises(ValueError, match="Target data is missing for output 'label'"):
        model.compile(optimizer="sgd", loss=[None, "mse"], metrics=[["accuracy"], None])
        model.evaluate(x, values, verbose=0)


def test_single_loss_and_weight_for_every_output():
    model = two_outputs()
    model.compile(optimizer="sgd", loss="mse", loss_weights=2.5)
    x, labels, values = data()
    onehot = np.eye(3, dtype="float32")[labels]
    probs, preds = model.predict(x, verbose=0)
    logs = model.evaluate(x, [onehot, values], verbose=0, return_dict=True)
    a, b = ref_mse(onehot, probs), ref_mse(values, preds)
    assert logs == pytest.approx({"label_loss": a, "loss": 2.5 * (a + b), "value_loss": b})


def test_dict_of_outputs_uses_keys_and_sorted_order():
    model = two_outputs(as_dict=True)
    assert model.output_names == ["value", "label"]  # sorted keys: a_reg, z_class
    assert [t is model.output[k] for t, k in zip(model.outputs, ["a_reg", "z_class"])] == [1, 1]
    assert [layer.name for layer in model.layers] == ["features", "trunk", "value", "label"]
    x, labels, values = data()
    pred = model.predict(x, verbose=0)
    assert list(pred) == ["z_class", "a_reg"]  # the structure given to `outputs=`
    # A list of losses follows the sorted keys.
    model.compile(
        optimizer="sgd",
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights={"z_class": 3.0},
        metrics={"z_class": ["accuracy"]},
    )
    logs = model.evaluate(x, {"z_class": labels, "a_reg": values}, verbose=0, return_dict=True)
    ce, mse = ref_sparse_ce(labels, pred["z_class"]), ref_mse(values, pred["a_reg"])
    assert sorted(logs) == ["a_reg_loss", "loss", "z_class_accuracy", "z_class_loss"]
    assert logs["loss"] == pytest.approx(3.0 * ce + mse, rel=1e-5)
    # Evaluate's order: per-output losses in the order of `outputs=` (z_class first).
    as_list = model.evaluate(x, {"z_class": labels, "a_reg": values}, verbose=0)
    assert as_list == pytest.approx([logs["loss"], ce, mse, logs["z_class_accuracy"]], rel=1e-5)
    # Targets as a list follow the sorted keys too.
    assert model.evaluate(x, [values, labels], verbose=0) == pytest.approx(as_list)
    before = weights_of(model)
    model.train_on_batch(x, {"z_class": labels, "a_reg": values})
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_single_output_accepts_list_or_named_dict_loss_and_weight():
    nk.utils.set_random_seed(0)
    inp = nk.Input((5,))
    model = nk.Model(inp, layers.Dense(2, name="out")(inp))
    x, _, values = data()
    preds = model.predict(x, verbose=0)
    for loss in (["mse"], {"out": "mse"}):
        model.compile(optimizer="sgd", loss=loss, loss_weights=[4.0])
        assert model.evaluate(x, values, verbose=0) == pytest.approx(
            4.0 * ref_mse(values, preds), rel=1e-5
        )
    with pytest.raises(ValueError, match=r"Expected keys \['out'\] in loss dict"):
        model.compile(optimizer="sgd", loss={"other": "mse"})


# --------------------------------------------------------------------------- errors


ERROR_CASES = [
    # (compile kwargs, targets builder, error match)
    (
        {"loss": {"label": "sparse_categorical_crossentropy", "nope": "mse"}},
        lambda lab, val: [lab, val],
        r"Expected keys \['label', 'value'\] in loss dict, but found loss.keys\(\)=",
    ),
    (
        {"loss": {"value": "mse"}},
        lambda lab, val: [lab, val],
        r"Expected keys \['label', 'value'\] in loss dict",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"], "metrics": ["mae"]},
        lambda lab, val: [lab, val],
        r"(?s)has 1 entries.*Invalid `metrics`.*\['label', 'value'\]",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"], "metrics": {"nope": "mae"}},
        lambda lab, val: [lab, val],
        r"(?s)Unknown output name 'nope' in `metrics`.*Invalid `metrics`",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"], "weighted_metrics": [["mae"]]},
        lambda lab, val: [lab, val],
        r"Invalid `weighted_metrics`",
    ),
    (
        {"loss": ["mse"]},
        lambda lab, val: [lab, val],
        r"`loss` has 1 entries but the model has 2 outputs",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"], "loss_weights": [1.0, 2.0, 3.0]},
        lambda lab, val: [lab, val],
        r"`loss_weights` must match the number of losses, got 2 losses and 3 weights",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"], "loss_weights": {"nope": 1.0}},
        lambda lab, val: [lab, val],
        r"Unknown output name 'nope' in `loss_weights`",
    ),
    (
        {"loss": "mse", "loss_weights": [1.0, 2.0]},
        lambda lab, val: [lab, val],
        r"got 1 losses and 2 weights",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: [lab, val, val],
        r"y_true and y_pred have different structures.\ny_true: \['\*', '\*', '\*'\]",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: val,
        r"y_true and y_pred have different structures.\ny_true: \*\ny_pred: \['\*', '\*'\]",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: {"label": lab, "nope": val},
        r"y_true and y_pred have different structures",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: [lab, np.concatenate([val, val], axis=1)],
        r"Invalid targets for output 'value' \(loss 'mse'\): targets of shape \(4,\)",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: [lab + 3, val],
        r"Invalid targets for output 'label'",
    ),
    (
        {"loss": ["sparse_categorical_crossentropy", "mse"]},
        lambda lab, val: [lab, val[:-1]],
        r"Data cardinality is ambiguous.*'x' sizes: 12\n'y' sizes: 12, 11\n",
    ),
]


@pytest.mark.parametrize("compile_kwargs,targets,match", ERROR_CASES)
@pytest.mark.parametrize("method", ["fit", "train_on_batch"])
def test_errors_before_any_weight_change(compile_kwargs, targets, match, method):
    model = two_outputs()
    model.compile(optimizer="sgd", **compile_kwargs)
    x, labels, values = data()
    before = weights_of(model)
    with pytest.raises(ValueError, match=match):
        if method == "fit":
            model.fit(x, targets(labels, values), epochs=1, verbose=0)
        else:
            model.train_on_batch(x, targets(labels, values))
    assert_unchanged(model, before)
    assert model.optimizer.iterations.numpy() == 0


def test_dict_output_loss_with_unknown_key_and_sample_weight_structure():
    model = two_outputs(as_dict=True)
    x, labels, values = data()
    y = {"z_class": labels, "a_reg": values}
    before = weights_of(model)
    model.compile(optimizer="sgd", loss={"label": "sparse_categorical_crossentropy"})
    with pytest.raises(ValueError, match=r"The path: \('label',\) in the `loss` argument"):
        model.fit(x, y, verbose=0)
    model.compile(optimizer="sgd", loss={"z_class": "sparse_categorical_crossentropy"})
    with pytest.raises(ValueError, match="one `sample_weight` array per output"):
        model.fit(x, y, sample_weight=[np.ones(N), np.ones(N)], verbose=0)
    with pytest.raises(ValueError, match="`class_weight` is only supported for Models with a"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 1.0}, verbose=0)
    assert_unchanged(model, before)
    # A dict of weights keyed like the dict of targets is fine (only z_class has a loss).
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['value/"):
        model.fit(x, y, sample_weight={"z_class": np.ones(N), "a_reg": np.ones(N)}, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
@pytest.mark.parametrize("feed_back", [False, True], ids=["heads", "softmax_feeds_value"])
def test_weighted_total_loss_gradient_matches_finite_differences(as_dict, feed_back):
    """Fused softmax+crossentropy on one output, MSE on the other, loss weights, per-output
    sample weights and an L2 penalty: every weight's gradient vs float64 central differences
    of the inference total loss."""
    model = two_outputs(as_dict=as_dict, dtype=F64, regularize=True, feed_back=feed_back)
    ce = nk.losses.SparseCategoricalCrossentropy(dtype=F64)
    mse = nk.losses.MeanSquaredError(dtype=F64)
    if as_dict:
        model.compile(optimizer="sgd", loss={"a_reg": mse, "z_class": ce}, loss_weights=[1.9, 0.7])
    else:
        model.compile(optimizer="sgd", loss=[ce, mse], loss_weights={"label": 0.7, "value": 1.9})
    rng = np.random.default_rng(11)
    x = rng.normal(size=(6, 5))
    labels, values = rng.integers(0, 3, size=6), rng.normal(size=(6, 2))
    y = {"z_class": labels, "a_reg": values} if as_dict else [labels, values]
    sw = [rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 6)]
    if as_dict:
        sw = {"a_reg": sw[1], "z_class": sw[0]}
    x, y, sw, _ = model._prepare_xy(x, y, sw)
    model._validate_targets(x, y)
    spec = model._spec
    ys = [a.astype(F64) if a.dtype.kind == "f" else a for a in spec.flat_targets(y)]
    sws = [a.astype(F64) for a in spec.flat_sample_weights(sw, y)]
    assert spec.weights == ([1.9, 0.7] if as_dict else [0.7, 1.9])
    # The fused path is in use for the softmax output.
    _, tape = model.forward(x, training=True)
    assert [f is not None for f in model.outputs_logits(tape)] == (
        [False, True] if as_dict else [True, False]
    )
    total, values_, _, _, _, grads = model._loss_and_gradients(x, ys, sws)

    def inference_loss():
        preds = spec.flat_preds(model(x))
        return spec.loss_values(ys, preds, sws)[1] + model._regularization()[0]

    assert total == pytest.approx(inference_loss(), rel=1e-12)
    assert sum(values_[i] * w for i, w in enumerate(spec.weights)) + model._regularization()[
        0
    ] == pytest.approx(total, rel=1e-12)
    assert set(grads) == set(model.trainable_weights)
    for v in model.trainable_weights:
        assert grads[v].dtype == np.float64
        tol.assert_close(
            grads[v],
            numerical_gradient(inference_loss, v.value),
            tol.FINITE_DIFF_ATOL,
            tol.FINITE_DIFF_RTOL,
            f"d{v.path}",
        )


def test_functional_backward_takes_output_gradients_as_list_or_dict():
    """Random upstream gradients per output: a dict (by output key) equals the list form, and
    the result is the sum of the two outputs' separate contributions."""
    model = two_outputs(as_dict=True, dtype=F64)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 5))
    out, tape = model.forward(x, training=True)
    d_reg, d_cls = rng.normal(size=out["a_reg"].shape), rng.normal(size=out["z_class"].shape)
    _, g_dict = model.backward({"z_class": d_cls, "a_reg": d_reg}, tape, need_dx=False)
    dx_list, g_list = model.backward([d_reg, d_cls], tape, need_dx=True)
    _, g_reg = model.backward([d_reg, None], tape, need_dx=False)
    _, g_cls = model.backward([None, d_cls], tape, need_dx=False)
    assert dx_list.shape == x.shape
    for v in model.trainable_weights:
        np.testing.assert_array_equal(g_dict[v], g_list[v])
        expected = g_reg.get(v, 0.0) + g_cls.get(v, 0.0)
        tol.assert_close(g_list[v], expected, tol.REFERENCE_ATOL, tol.REFERENCE_RTOL, v.path)
    with pytest.raises(ValueError, match="Expected 2 output gradients"):
        model.backward([d_reg], tape)
