"""The scikit-learn wrappers: scikit-learn's estimator checks (with the expected failures
Keras's own wrapper tests mark), Keras's behaviour, and use in pipelines, cross-validation and a
parallel grid search."""

import os
import pickle
import subprocess
import sys
import unittest

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from packaging.version import parse as parse_version  # noqa: E402

if parse_version(parse_version(sklearn.__version__).base_version) < parse_version("1.6"):
    pytest.skip("the wrapper tests need scikit-learn >= 1.6", allow_module_level=True)

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import numpykeras as keras  # noqa: E402
from numpykeras.wrappers import (  # noqa: E402
    SKLearnClassifier,
    SKLearnRegressor,
    SKLearnTransformer,
)

QUIET = {"verbose": 0}


def dynamic_model(X, y, loss, out_activation_function="softmax", layers=(10,)):
    """Keras's test model: an MLP whose input and output sizes follow ``X`` and ``y``."""
    inp = keras.Input(shape=(X.shape[1],))
    hidden = inp
    for units in layers:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    n_outputs = y.shape[1] if len(y.shape) > 1 else 1
    out = [keras.layers.Dense(n_outputs, activation=out_activation_function)(hidden)]
    model = keras.Model(inp, out)
    model.compile(loss=loss, optimizer="rmsprop")
    return model


def compiled_classifier(n_features=4, n_classes=2):
    model = keras.Sequential(
        [
            keras.Input((n_features,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def classification_data(n_samples=40, n_features=4, n_classes=2):
    return make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )


# The checks Keras's keras/src/wrappers/sklearn_test.py marks as expected failures, no more.
EXPECTED_FAILED_CHECKS = {
    "SKLearnClassifier": {
        "check_classifiers_regression_target": "not an issue in sklearn>=1.6",
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
        "check_classifiers_one_label_sample_weights": "0 sample weight is not ignored",
        "check_classifiers_classes": (
            "with small test cases the estimator returns not all classes sometimes"
        ),
        "check_classifier_data_not_an_array": "This test assumes reproducibility in fit.",
        "check_supervised_y_2d": "This test assumes reproducibility in fit.",
        "check_fit_idempotent": "This test assumes reproducibility in fit.",
        "check_classifiers_train": "decision_function can return both probabilities and logits",
    },
    "SKLearnRegressor": {
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
    },
    "SKLearnTransformer": {
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
    },
}


@parametrize_with_checks(
    [
        SKLearnClassifier(
            model=dynamic_model,
            model_kwargs={"loss": "categorical_crossentropy", "layers": [20, 20, 20]},
            fit_kwargs={"epochs": 5, **QUIET},
        ),
        SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"}, fit_kwargs=QUIET),
        SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "mse"}, fit_kwargs=QUIET),
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[type(estimator).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    try:
        check(estimator)
    except unittest.SkipTest as exc:  # https://github.com/pytest-dev/pytest/issues/13895
        pytest.skip(str(exc))


@pytest.mark.parametrize("out_activation_function", ["softmax", "linear"])
def test_decision_function_argmax_is_predict(out_activation_function):
    """Keras's test: the argmax of ``decision_function`` is ``predict`` (labels 0 and 1)."""
    estimator = SKLearnClassifier(
        model=dynamic_model,
        model_kwargs={
            "out_activation_function": out_activation_function,
            "loss": "binary_crossentropy",
        },
        fit_kwargs={"epochs": 1, **QUIET},
    )
    X, y = make_classification(
        n_samples=10, n_features=10, n_informative=4, n_classes=2, random_state=42
    )
    estimator.fit(X, y)
    assert estimator.decision_function(X[:1]).argmax(axis=-1) == estimator.predict(X[:1])


def test_classifier_encodes_labels_and_decodes_predictions():
    X, y = classification_data(n_classes=3)
    labels = np.array(["cat", "dog", "eel"])[y]
    est = SKLearnClassifier(
        dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=QUIET
    )
    seen = {}

    def builder(X, y, **kwargs):
        seen["X"], seen["y"] = X, y
        return dynamic_model(X, y, **kwargs)

    est.set_params(model=builder).fit(X, labels)
    np.testing.assert_array_equal(est.classes_, ["cat", "dog", "eel"])
    assert est.n_features_in_ == 4
    # The builder sees the validated inputs and the one-hot targets, as in Keras.
    assert seen["X"].shape == (40, 4)
    np.testing.assert_array_equal(seen["y"], np.eye(3)[y])
    scores = est.decision_function(X)
    assert scores.shape == (40, 3)
    np.testing.assert_array_equal(est.predict(X), est.classes_[scores.argmax(axis=1)])
    assert 0.0 <= est.score(X, labels) <= 1.0


def test_regressor_and_transformer_shapes():
    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    reg = SKLearnRegressor(dynamic_model, model_kwargs={"loss": "mse"}, fit_kwargs=QUIET)
    assert reg.fit(X, y).predict(X).shape == (30,)
    assert reg.n_features_in_ == 3
    trs = SKLearnTransformer(
        dynamic_model,
        model_kwargs={"loss": "mse", "out_activation_function": "linear"},
        fit_kwargs=QUIET,
    )
    assert trs.fit_transform(X, y).shape == (30, 1)


def test_fit_kwargs_are_merged_not_mutated():
    X, y = classification_data()
    fit_kwargs = {"epochs": 3, **QUIET}
    est = SKLearnClassifier(
        dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=fit_kwargs
    )
    assert est.epoch_ == 0
    est.fit(X, y)
    assert est.history_.epoch == [0, 1, 2] and est.epoch_ == 3
    est.fit(X, y, epochs=2, batch_size=8)  # arguments to fit take precedence
    assert est.epoch_ == 2 and est.history_.params["steps"] == 5
    assert fit_kwargs == {"epochs": 3, **QUIET}  # Keras updates the user's dict in place


def test_model_instance_is_cloned_with_its_compile_settings():
    X, y = classification_data()
    model = compiled_classifier()
    before = [w.copy() for w in model.get_weights()]
    est = SKLearnClassifier(model, fit_kwargs=QUIET).fit(X, y)
    assert est.model_ is not model and est.model_.optimizer is not model.optimizer
    assert est.model_.loss == "categorical_crossentropy"
    assert type(est.model_.optimizer).__name__ == "Adam"
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the given model is not trained
    assert est.predict(X).shape == (40,)


def test_warm_start_reuses_the_model():
    X, y = classification_data()
    est = SKLearnClassifier(
        dynamic_model,
        warm_start=True,
        model_kwargs={"loss": "categorical_crossentropy"},
        fit_kwargs=QUIET,
    )
    first = est.fit(X, y).model_
    weights = [w.copy() for w in first.get_weights()]
    assert est.fit(X, y).model_ is first
    assert any(not np.array_equal(a, b) for a, b in zip(weights, first.get_weights()))
    with pytest.raises(ValueError, match="features"):
        est.fit(X[:, :3], y)
    # Without warm start, each fit builds a new model.
    cold = SKLearnClassifier(
        dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=QUIET
    )
    assert cold.fit(X, y).model_ is not cold.fit(X, y).model_
    # A given model is trained itself, not a clone.
    model = compiled_classifier()
    assert SKLearnClassifier(model, warm_start=True, fit_kwargs=QUIET).fit(X, y).model_ is model


def test_clone_keeps_parameters_and_shares_a_model_instance():
    model = compiled_classifier()
    est = SKLearnClassifier(model, model_kwargs={"a": [1]}, fit_kwargs={"epochs": 2})
    copy = clone(est)
    assert copy.model is model
    assert copy.fit_kwargs == {"epochs": 2} and copy.fit_kwargs is not est.fit_kwargs
    assert copy.model_kwargs == {"a": [1]} and copy.model_kwargs is not est.model_kwargs
    assert not hasattr(copy, "model_")


def test_user_errors():
    X, y = classification_data()

    def uncompiled(X, y):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    with pytest.raises(ValueError, match="needs to be compiled") as info:
        SKLearnClassifier(uncompiled, fit_kwargs=QUIET).fit(X, y)
    assert isinstance(info.value, RuntimeError)  # what Keras raises
    with pytest.raises(TypeError, match="callable returning one"):
        SKLearnClassifier("not a model").fit(X, y)
    with pytest.raises(TypeError, match="callable returning one"):
        SKLearnClassifier(lambda X, y: None).fit(X, y)
    with pytest.raises(TypeError, match="fit_kwargs"):
        SKLearnClassifier(dynamic_model, fit_kwargs=[("epochs", 1)]).fit(X, y)
    est = SKLearnClassifier(
        dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=QUIET
    )
    with pytest.raises(ValueError, match="Target type: continuous"):
        est.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="only one class"):
        est.fit(X, np.zeros_like(y))
    with pytest.raises(sklearn.exceptions.NotFittedError):
        est.predict(X)
    est.fit(X, y)
    with pytest.raises(ValueError, match="expecting 4 features"):
        est.predict(X[:, :3])


def test_set_fit_request_routes_metadata_to_fit():
    X, y = classification_data()
    est = SKLearnClassifier(
        dynamic_model, model_kwargs={"loss": "categorical_crossentropy"}, fit_kwargs=QUIET
    )
    with pytest.raises(RuntimeError, match="metadata routing"):
        est.set_fit_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        assert est.set_fit_request(sample_weight=True) is est
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), est)
        weights = np.zeros(len(y))  # all-zero weights: the loss, and so the training, is zero
        pipe.fit(X, y, sample_weight=weights)
        assert pipe[-1].history_.history["loss"] == [0.0]
        # A clone of the fitted estimator keeps the requests (sklearn copies them, not their
        # owner, the estimator with its model).
        assert clone(est).get_metadata_routing().fit.requests["sample_weight"] is True


def test_fitted_wrapper_pickles():
    X, y = classification_data()
    est = SKLearnClassifier(compiled_classifier(), fit_kwargs=QUIET).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.classes_, est.classes_)
    np.testing.assert_allclose(restored.decision_function(X), est.decision_function(X))


def test_pipeline_and_cross_val_score():
    X, y = classification_data(n_samples=60)
    pipe = make_pipeline(
        StandardScaler(),
        SKLearnClassifier(compiled_classifier(), fit_kwargs={"epochs": 2, **QUIET}),
    )
    assert pipe.fit(X, y).predict(X).shape == (60,)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_grid_search_two_parallel_jobs():
    X, y = make_regression(n_samples=48, n_features=4, noise=0.1, random_state=0)
    est = SKLearnRegressor(
        dynamic_model, model_kwargs={"loss": "mse", "out_activation_function": "linear"}
    )
    grid = GridSearchCV(
        est,
        {
            "model_kwargs": [
                {"loss": "mse", "out_activation_function": "linear", "layers": [4]},
                {"loss": "mse", "out_activation_function": "linear", "layers": [8]},
            ],
            "fit_kwargs": [{"epochs": 1, **QUIET}, {"epochs": 3, **QUIET}],
        },
        cv=2,
        n_jobs=2,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.predict(X).shape == (48,)


def test_optional_scikit_learn():
    """``import numpykeras`` does not import scikit-learn; without it, building a wrapper
    raises an ImportError naming scikit-learn and the extra to install."""
    code = """
import sys
import numpykeras
import numpykeras.wrappers
assert "sklearn" not in sys.modules, "numpykeras imported sklearn"
for name in list(sys.modules):
    if name.startswith("numpykeras.wrappers."):
        del sys.modules[name]
del sys.modules["numpykeras.wrappers"]
sys.modules["sklearn"] = None  # scikit-learn not installed
from numpykeras.wrappers import SKLearnClassifier
try:
    SKLearnClassifier(model=None)
except ImportError as exc:
    print(exc)
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "`scikit-learn`" in out.stdout and "numpykeras[sklearn]" in out.stdout
