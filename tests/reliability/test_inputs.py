"""Bad data and bad arguments get a clear error before anything changes.

Every case checks the exception type and the words that tell the user what to fix; every case
that goes through ``fit`` or ``train_on_batch`` also checks that no weight (BatchNormalization's
moving statistics included) and no optimizer step changed, and that the model still trains.
"""

import re

import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers, models

_RNG = np.random.default_rng(11)
X = _RNG.normal(size=(40, 6)).astype("float32")
Y = _RNG.integers(0, 4, size=40)
Y_REGRESSION = _RNG.normal(size=(40, 4)).astype("float32")


def _model(loss="sparse_categorical_crossentropy", kind="sequential"):
    nk.utils.set_random_seed(0)
    stack = [
        layers.Dense(8),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dense(4, activation="softmax" if "crossentropy" in loss else None),
    ]
    if kind == "sequential":
        model = models.Sequential([layers.Input((6,))] + stack)
    else:
        inputs = layers.Input((6,))
        h = inputs
        for layer in stack:
            h = layer(h)
        model = models.Model(inputs, h)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"] if loss != "mse" else None)
    return model


class _ArrayLike:
    def __init__(self, array):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


def _esc(text):
    return re.escape(text)


# Each case: (loss, call, exception type, pattern of the words that say what to fix; a dict
# of patterns when the two kinds of model word it differently).
FIT_CASES = {
    # -- x
    "x_nested_list": (
        None,
        lambda m: m.fit(X.tolist(), Y, verbose=0),
        ValueError,
        r"Unrecognized data type: x=\[\[.*of type <class 'list'>.*pass `np\.asarray\(x\)`",
    ),
    "x_string": (
        None,
        lambda m: m.fit("data.csv", Y, verbose=0),
        ValueError,
        _esc("Unrecognized data type: x=data.csv (of type <class 'str'>)"),
    ),
    "x_scalar_array": (
        None,
        lambda m: m.fit(np.asarray(1.0), Y, verbose=0),
        ValueError,
        _esc("Argument `x` must be an array with a batch axis (one entry per sample)"),
    ),
    "x_strings": (
        None,
        lambda m: m.fit(np.full((40, 6), "a"), Y, verbose=0),
        ValueError,
        r"expected a numeric array as input.*could not convert string to float",
    ),
    "x_wrong_features": (
        None,
        lambda m: m.fit(X[:, :5], Y, verbose=0),
        ValueError,
        _esc("expected shape=(None, 6), found shape=(1, 5)"),
    ),
    "x_wrong_rank": (
        None,
        lambda m: m.fit(X[:, :, None], Y, verbose=0),
        ValueError,
        _esc("expected shape=(None, 6), found shape=(1, 6, 1)"),
    ),
    "x_two_arrays_for_one_input": (
        None,
        lambda m: m.fit([X, X], Y, verbose=0),
        ValueError,
        _esc("has 1 input, but `x` is a list of 2 arrays. Pass one array"),
    ),
    "x_dict_for_sequential": (
        None,
        lambda m: m.fit({"features": X}, Y, verbose=0),
        ValueError,
        {
            "sequential": _esc(
                "expects 1 input(s), an array, but it received a dict with keys ['features']"
            ),
            "functional": _esc('Missing data for input "input_layer')
            + r".*You passed a data dictionary with keys \['features'\]",
        },
    ),
    "x_empty": (
        None,
        lambda m: m.fit(X[:0], Y[:0], verbose=0),
        ValueError,
        _esc("`fit()` received no data: the input has 0 samples (x shape (0, 6))"),
    ),
    "x_none": (
        None,
        lambda m: m.fit(None, Y, verbose=0),
        ValueError,
        _esc("`fit()` received no input data: x=None"),
    ),
    # -- y
    "y_nested_list": (
        None,
        lambda m: m.fit(X, Y.tolist(), verbose=0),
        ValueError,
        r"Unrecognized data type: y=\[.*pass `np\.asarray\(y\)`",
    ),
    "y_missing": (
        None,
        lambda m: m.fit(X, None, verbose=0),
        ValueError,
        r"Target data is missing.*expects target data to be passed in `fit\(\)`",
    ),
    "y_wrong_length": (
        None,
        lambda m: m.fit(X, Y[:35], verbose=0),
        ValueError,
        r"Data cardinality is ambiguous.*'x' sizes: 40\n'y' sizes: 35",
    ),
    "y_two_arrays_for_one_output": (
        None,
        lambda m: m.fit(X, [Y, Y], verbose=0),
        ValueError,
        _esc("single output, but `y` is a list of 2 arrays"),
    ),
    "y_label_out_of_range": (
        None,
        lambda m: m.fit(X, np.where(np.arange(40) == 39, 4, Y), batch_size=8, verbose=0),
        ValueError,
        _esc("Received a label value of 4 which is outside the valid range of [0, 4)"),
    ),
    "y_nan_label": (
        None,
        lambda m: m.fit(X, np.where(np.arange(40) == 39, np.nan, Y), verbose=0),
        ValueError,
        _esc("Sparse labels must be finite class indices in [0, num_classes)"),
    ),
    "y_shape_cannot_match_output": (
        "mse",
        lambda m: m.fit(X, Y_REGRESSION[:, :3], verbose=0),
        ValueError,
        _esc("Received: target.shape=(40, 3), output.shape=(40, 4)"),
    ),
    "y_flat_for_several_units": (
        "mse",
        lambda m: m.fit(X, Y_REGRESSION[:, 0], verbose=0),
        ValueError,
        _esc("Received: target.shape=(40,), output.shape=(40, 4)"),
    ),
    # -- sample_weight
    "sample_weight_python_list": (
        None,
        lambda m: m.fit(X, Y, sample_weight=[1.0] * 40, verbose=0),
        ValueError,
        r"Unrecognized data type: sample_weight=\[1\.0, ",
    ),
    "sample_weight_wrong_length": (
        None,
        lambda m: m.fit(X, Y, sample_weight=np.ones(30), verbose=0),
        ValueError,
        r"(?s)Data cardinality is ambiguous.*'sample_weight' sizes: 30",
    ),
    "sample_weight_wrong_shape": (
        None,
        lambda m: m.fit(X, Y, sample_weight=np.ones((40, 3)), verbose=0),
        ValueError,
        _esc("`sample_weight` must have a shape that broadcasts to the loss values (one weight")
        + r".*sample_weight.shape=\(40, 3\), loss values shape=\(40,\)",
    ),
    # -- arguments
    "batch_size_zero": (
        None,
        lambda m: m.fit(X, Y, batch_size=0, verbose=0),
        ValueError,
        _esc("Argument `batch_size` must be a positive integer (or None). Received: batch_size=0"),
    ),
    "batch_size_negative": (
        None,
        lambda m: m.fit(X, Y, batch_size=-8, verbose=0),
        ValueError,
        _esc("Received: batch_size=-8"),
    ),
    "batch_size_float": (
        None,
        lambda m: m.fit(X, Y, batch_size=8.0, verbose=0),
        TypeError,
        _esc("`batch_size` must be a positive integer (or None). Received: batch_size=8.0 "),
    ),
    "batch_size_string": (
        None,
        lambda m: m.fit(X, Y, batch_size="8", verbose=0),
        TypeError,
        _esc("Received: batch_size='8' (of type str)"),
    ),
    "validation_batch_size_negative": (
        None,
        lambda m: m.fit(X, Y, validation_split=0.2, validation_batch_size=-1, verbose=0),
        ValueError,
        _esc("`validation_batch_size` must be a positive integer"),
    ),
    "steps_per_epoch_zero": (
        None,
        lambda m: m.fit(X, Y, steps_per_epoch=0, verbose=0),
        ValueError,
        _esc("`steps_per_epoch` must be a positive integer (or None). Received: steps_per_epoch=0"),
    ),
    "epochs_negative": (
        None,
        lambda m: m.fit(X, Y, epochs=-1, verbose=0),
        ValueError,
        _esc("Argument `epochs` must be a non-negative integer. Received: epochs=-1"),
    ),
    "epochs_float": (
        None,
        lambda m: m.fit(X, Y, epochs=2.5, verbose=0),
        TypeError,
        _esc("Argument `epochs` must be a non-negative integer. Received: epochs=2.5"),
    ),
    "verbose_unknown": (
        None,
        lambda m: m.fit(X, Y, verbose="loud"),
        ValueError,
        _esc("Argument `verbose` must be 'auto', 0, 1 or 2. Received: verbose='loud'"),
    ),
    "validation_split_out_of_range": (
        None,
        lambda m: m.fit(X, Y, validation_split=1.5, verbose=0),
        ValueError,
        _esc("`validation_split` must be a float between 0 and 1. Received: validation_split=1.5"),
    ),
    "validation_split_leaves_no_training_data": (
        None,
        lambda m: m.fit(X[:2], Y[:2], validation_split=0.9, verbose=0),
        ValueError,
        _esc("`validation_split=0.9` leaves no training data: 2 sample(s) in total"),
    ),
    "validation_data_one_item": (
        None,
        lambda m: m.fit(X, Y, validation_data=(X,), verbose=0),
        ValueError,
        _esc("must contain either 2 items (x_val, y_val), or 3 items"),
    ),
    "validation_data_empty": (
        None,
        lambda m: m.fit(X, Y, validation_data=(X[:0], Y[:0]), verbose=0),
        ValueError,
        _esc("The `validation_data` of `fit()` received no data: the input has 0 samples"),
    ),
    "validation_labels_out_of_range": (
        None,
        lambda m: m.fit(X, Y, validation_data=(X[:4], np.array([0, 1, 2, 7])), verbose=0),
        ValueError,
        _esc("Received a label value of 7"),
    ),
    # -- class_weight
    "class_weight_negative_key": (
        None,
        lambda m: m.fit(X, Y, class_weight={-1: 3.0}, verbose=0),
        ValueError,
        _esc("Invalid `class_weight` key(s) [-1]: keys must be class indices, integers in [0, 4)"),
    ),
    "class_weight_string_key": (
        None,
        lambda m: m.fit(X, Y, class_weight={"0": 1.0, "1": 2.0}, verbose=0),
        ValueError,
        _esc("Invalid `class_weight` key(s) ['0', '1']: keys must be class indices"),
    ),
    "class_weight_huge_key": (
        None,
        lambda m: m.fit(X, Y, class_weight={10**12: 2.0}, verbose=0),
        ValueError,
        _esc("Invalid `class_weight` key(s) [1000000000000]"),
    ),
    "class_weight_fractional_key": (
        None,
        lambda m: m.fit(X, Y, class_weight={0.5: 2.0}, verbose=0),
        ValueError,
        _esc("Invalid `class_weight` key(s) [0.5]"),
    ),
    "class_weight_value_not_a_number": (
        None,
        lambda m: m.fit(X, Y, class_weight={1: "2"}, verbose=0),
        TypeError,
        _esc("`class_weight` values must be numbers. Received: class_weight[1]='2'"),
    ),
    "class_weight_value_infinite": (
        None,
        lambda m: m.fit(X, Y, class_weight={1: float("inf")}, verbose=0),
        ValueError,
        _esc("`class_weight` values must be finite. Received: class_weight[1]=inf"),
    ),
    "class_weight_not_a_dict": (
        None,
        lambda m: m.fit(X, Y, class_weight=[1.0, 2.0, 1.0, 1.0], verbose=0),
        TypeError,
        _esc("Argument `class_weight` must be a dict mapping class indices to weights"),
    ),
    "class_weight_and_sample_weight": (
        None,
        lambda m: m.fit(X, Y, class_weight={0: 2.0}, sample_weight=np.ones(40), verbose=0),
        ValueError,
        _esc("You cannot `class_weight` and `sample_weight` at the same time."),
    ),
    "train_on_batch_class_weight_key": (
        None,
        lambda m: m.train_on_batch(X[:8], Y[:8], class_weight={4: 2.0}),
        ValueError,
        _esc("Invalid `class_weight` key(s) [4]"),
    ),
    "train_on_batch_empty": (
        None,
        lambda m: m.train_on_batch(X[:0], Y[:0]),
        ValueError,
        _esc("`train_on_batch()` received no data: the input has 0 samples"),
    ),
}


def _snapshot(model):
    return [v.numpy() for v in model.weights]


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("case", list(FIT_CASES))
def test_fit_rejects_bad_input_before_changing_anything(case, kind):
    loss, call, error, pattern = FIT_CASES[case]
    if isinstance(pattern, dict):
        pattern = pattern[kind]
    model = _model(loss or "sparse_categorical_crossentropy", kind)
    before = _snapshot(model)
    with pytest.raises(error, match=pattern):
        call(model)
    for v, value in zip(model.weights, before):
        np.testing.assert_array_equal(v.value, value, err_msg=f"{v.path} changed")
    assert int(model.optimizer.iterations.numpy()) == 0
    # ... and the model still trains.
    model.fit(X, Y_REGRESSION if loss == "mse" else Y, batch_size=8, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 5


# Calls that never train: (call, exception type, pattern).
OTHER_CASES = {
    "predict_nested_list": (
        lambda m: m.predict(X.tolist(), verbose=0),
        ValueError,
        r"Unrecognized data type: x=\[\[",
    ),
    "predict_tuple_of_numbers": (
        lambda m: m.predict((0.1, 0.2, 0.3, 0.4, 0.5, 0.6), verbose=0),
        ValueError,
        r"Unrecognized data type: x=\(0\.1, 0\.2.*of type <class 'tuple'>",
    ),
    "predict_batch_size_zero": (
        lambda m: m.predict(X, batch_size=0, verbose=0),
        ValueError,
        _esc("`batch_size` must be a positive integer (or None). Received: batch_size=0"),
    ),
    "predict_batch_size_bool": (
        lambda m: m.predict(X, batch_size=True, verbose=0),
        TypeError,
        _esc("Received: batch_size=True (of type bool)"),
    ),
    "predict_steps_negative": (
        lambda m: m.predict(X, steps=-1, verbose=0),
        ValueError,
        _esc("Argument `steps` must be a positive integer (or None). Received: steps=-1"),
    ),
    "predict_empty": (
        lambda m: m.predict(X[:0], verbose=0),
        ValueError,
        _esc("`predict()` received no data: the input has 0 samples (x shape (0, 6))"),
    ),
    "predict_none": (
        lambda m: m.predict(None, verbose=0),
        ValueError,
        _esc("`predict()` received no input data: x=None"),
    ),
    "evaluate_batch_size_negative": (
        lambda m: m.evaluate(X, Y, batch_size=-2, verbose=0),
        ValueError,
        _esc("Received: batch_size=-2"),
    ),
    "evaluate_empty": (
        lambda m: m.evaluate(X[:0], Y[:0], verbose=0),
        ValueError,
        _esc("`evaluate()` received no data: the input has 0 samples"),
    ),
    "evaluate_unknown_argument": (
        lambda m: m.evaluate(X, Y, epochs=3, verbose=0),
        ValueError,
        _esc("Arguments not recognized: {'epochs': 3}"),
    ),
    "evaluate_label_out_of_range": (
        lambda m: m.evaluate(X, np.full(40, 9), verbose=0),
        ValueError,
        _esc("Received a label value of 9"),
    ),
    "test_on_batch_empty": (
        lambda m: m.test_on_batch(X[:0], Y[:0]),
        ValueError,
        _esc("`test_on_batch()` received no data: the input has 0 samples"),
    ),
    "call_with_python_numbers": (
        lambda m: m(X.tolist()),
        ValueError,
        _esc("Only input tensors may be passed as positional arguments"),
    ),
    "call_with_a_mask": (
        lambda m: m.layers[-1](X[:, :4], mask=np.ones(40, bool)),
        TypeError,
        _esc("got an unexpected keyword argument 'mask'"),
    ),
}


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("case", list(OTHER_CASES))
def test_other_calls_reject_bad_input_clearly(case, kind):
    call, error, pattern = OTHER_CASES[case]
    model = _model(kind=kind)
    before = _snapshot(model)
    with pytest.raises(error, match=pattern):
        call(model)
    for v, value in zip(model.weights, before):
        np.testing.assert_array_equal(v.value, value, err_msg=f"{v.path} changed")


def test_array_likes_work_where_arrays_do():
    model = _model()
    expected = model.predict(X, verbose=0)
    np.testing.assert_array_equal(model.predict(_ArrayLike(X), verbose=0), expected)
    np.testing.assert_array_equal(model.predict([X], verbose=0), expected)
    loss = model.evaluate(X, Y, verbose=0)
    assert model.evaluate(_ArrayLike(X), _ArrayLike(Y), verbose=0) == loss
