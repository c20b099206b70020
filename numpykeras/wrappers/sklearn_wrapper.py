"""scikit-learn compatible wrappers of numpykeras models, as Keras 3's ``keras.wrappers``."""

import numpy as np

from numpykeras.wrappers.utils import (
    BaseEstimator,
    TargetReshaper,
    assert_sklearn_installed,
    check_model,
    clone_compiled_model,
    routing_enabled,
    sklearn,
    type_of_target,
    validate_data,
)

if sklearn is not None:
    from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
else:  # the classes exist without scikit-learn; building one raises an ImportError

    class ClassifierMixin:
        """Stand-in mixin when scikit-learn is not installed."""

    class RegressorMixin:
        """Stand-in mixin when scikit-learn is not installed."""

    class TransformerMixin:
        """Stand-in mixin when scikit-learn is not installed."""


_ARGS_DOC = """
    Args:
        model: a compiled `Model`, or a callable returning one. A `Model` is cloned (same
            architecture and compile settings, fresh weights) before it is fitted, unless
            `warm_start=True`. A callable is called as `model(X=X, y=y, **model_kwargs)` with
            the validated inputs and the encoded targets (one-hot for classifiers).
        warm_start: bool, defaults to `False`. Whether to reuse the model weights from the
            previous fit: if `True`, a second `fit` continues training `model_`, and the first
            trains the given `Model` itself rather than a clone.
        model_kwargs: dict, defaults to `None`. Keyword arguments passed to `model` when it is
            a callable.
        fit_kwargs: dict, defaults to `None`. Keyword arguments passed to `model.fit`. They can
            also be passed to the wrapper's `fit`, whose values take precedence.
"""


class SKLBase(BaseEstimator):
    """Base class of the scikit-learn wrappers.

    Model initialization and training are random; seed them (``numpykeras.utils`` and NumPy)
    for reproducible results.

    Args:
        model: a compiled `Model`, or a callable returning one. A `Model` is cloned (same
            architecture and compile settings, fresh weights) before it is fitted, unless
            `warm_start=True`. A callable is called as `model(X=X, y=y, **model_kwargs)`.
        warm_start: bool, defaults to `False`. Whether to reuse the model weights from the
            previous fit.
        model_kwargs: dict, defaults to `None`. Keyword arguments passed to `model` when it is
            a callable.
        fit_kwargs: dict, defaults to `None`. Keyword arguments passed to `model.fit`; those
            passed to the wrapper's `fit` take precedence.

    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit`.
        n_features_in_: number of features seen in `fit`.
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        assert_sklearn_installed(self.__class__.__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def _more_tags(self):
        # scikit-learn < 1.6
        return {"non_deterministic": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    def __sklearn_clone__(self):
        """An unfitted copy with the same parameters (used by ``sklearn.base.clone``).

        A `Model` given as ``model`` is shared, not copied: ``fit`` clones it anyway (unless
        ``warm_start``). The other parameters are cloned as scikit-learn does.
        """
        from sklearn.base import clone

        params = self.get_params(deep=False)
        new_params = {
            name: value if name == "model" else clone(value, safe=False)
            for name, value in params.items()
        }
        new = type(self)(**new_params)
        if hasattr(self, "_metadata_request"):
            # As `sklearn.base.clone`: a copy of the requests, not of their owner (this
            # estimator, with its fitted model, in recent scikit-learn versions).
            new._metadata_request = clone(self._metadata_request, safe=False)
        return new

    def __sklearn_is_fitted__(self):
        # A fit that failed after validating the data (which sets `n_features_in_`) leaves the
        # estimator unfitted.
        return hasattr(self, "model_")

    @property
    def epoch_(self):
        """Number of epochs run by the last ``fit`` (0 before fitting)."""
        history = getattr(self, "history_", None)
        if history is None:
            return 0
        if isinstance(history, dict):
            return len(history.get("epoch", []))
        return len(getattr(history, "epoch", []))

    def set_fit_request(self, **kwargs):
        """Sets the metadata the ``fit`` method requests (scikit-learn's metadata routing).

        Args:
            **kwargs: ``param_name=alias`` pairs, ``alias`` being ``True``, ``False``, ``None``
                or a string.

        Returns:
            This estimator.

        Raises:
            RuntimeError: metadata routing is not enabled
                (``sklearn.set_config(enable_metadata_routing=True)``).
        """
        if not routing_enabled():
            raise RuntimeError(
                "This method is only available when metadata routing is enabled. You can "
                "enable it using sklearn.set_config(enable_metadata_routing=True)."
            )
        requests = self._get_metadata_request()
        for param, alias in kwargs.items():
            requests.fit.add_request(param=param, alias=alias)
        self._metadata_request = requests
        return self

    def _get_model(self, X, y):
        from numpykeras.models import Model

        if self.warm_start and getattr(self, "model_", None) is not None:
            return self.model_
        if isinstance(self.model, Model):
            return self.model if self.warm_start else clone_compiled_model(self.model)
        if not callable(self.model):
            raise TypeError(
                "`model` must be a numpykeras `Model` or a callable returning one. "
                f"Received: {type(self.model).__name__} ({self.model!r})"
            )
        model_kwargs = self.model_kwargs or {}
        if not isinstance(model_kwargs, dict):
            raise TypeError(
                f"`model_kwargs` must be a dict or None. Received: {type(model_kwargs).__name__}"
            )
        return self.model(X=X, y=y, **model_kwargs)

    def fit(self, X, y, **kwargs):
        """Fits the model.

        Args:
            X: array-like of shape `(n_samples, n_features)`, the input samples.
            y: array-like of shape `(n_samples,)`, the targets.
            **kwargs: keyword arguments passed to `model.fit`, over `fit_kwargs`.

        Returns:
            This estimator.
        """
        fit_kwargs = self.fit_kwargs or {}
        if not isinstance(fit_kwargs, dict):
            raise TypeError(
                f"`fit_kwargs` must be a dict or None. Received: {type(fit_kwargs).__name__}"
            )
        # Continuing a fit keeps the number of features and the target encoding of the first.
        reset = not (self.warm_start and getattr(self, "model_", None) is not None)
        X, y = validate_data(self, X, y, reset=reset)
        y = self._process_target(y, reset=reset)
        model = self._get_model(X, y)
        check_model(model)
        self.history_ = model.fit(X, y, **{**fit_kwargs, **kwargs})
        self.model_ = model
        return self

    def predict(self, X):
        """Predicts with the fitted model.

        Args:
            X: array-like of shape `(n_samples, n_features)`, the input samples.

        Returns:
            The predictions, decoded as the targets were encoded (class labels for a
            classifier; 1D for 1D regression targets).
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._reverse_process_target(self.model_.predict(X))

    def _process_target(self, y, reset=False):
        """Regressors and transformers make 1D targets a column; classifiers one-hot encode."""
        type_of_target(y, raise_unknown=True)  # the right error for invalid targets
        if reset:
            self._target_encoder = TargetReshaper().fit(y)
        return self._target_encoder.transform(y)

    def _reverse_process_target(self, y):
        return self._target_encoder.inverse_transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """scikit-learn compatible classifier wrapper for numpykeras models.

    The targets are one-hot encoded (``classes_`` are the sorted unique labels) before they
    reach the model, which should end in one unit per class; ``predict`` returns the label of
    the largest output, ``decision_function`` the raw outputs.

    Model initialization and training are random; seed them for reproducible results.
    """

    __doc__ += (
        _ARGS_DOC
        + """
    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit`.
        classes_: array of shape `(n_classes,)`, the class labels.
        n_features_in_: number of features seen in `fit`.

    Example:

    ```python
    import numpykeras as keras
    from numpykeras.wrappers import SKLearnClassifier
    from sklearn.datasets import make_classification

    def dynamic_model(X, y, loss, layers=(10,)):
        inputs = keras.Input(shape=(X.shape[1],))
        hidden = inputs
        for units in layers:
            hidden = keras.layers.Dense(units, activation="relu")(hidden)
        outputs = keras.layers.Dense(y.shape[1], activation="softmax")(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(loss=loss, optimizer="rmsprop")
        return model

    X, y = make_classification(n_samples=1000, n_features=10)
    est = SKLearnClassifier(
        model=dynamic_model,
        model_kwargs={"loss": "categorical_crossentropy", "layers": [20, 20]},
    )
    est.fit(X, y, epochs=5)
    ```
    """
    )

    def decision_function(self, X):
        """The raw model outputs.

        Args:
            X: array-like of shape `(n_samples, n_features)`, the input samples.

        Returns:
            Array of shape `(n_samples, n_classes)`.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.predict(X)

    def _process_target(self, y, reset=False):
        target_type = type_of_target(y, raise_unknown=True)
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"Only binary and multiclass target types are supported. Target type: {target_type}"
            )
        if reset:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import OneHotEncoder

            classes = np.unique(y)
            if len(classes) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
            self._target_encoder = make_pipeline(
                TargetReshaper(), OneHotEncoder(sparse_output=False)
            ).fit(y)
            self.classes_ = classes
        return self._target_encoder.transform(y)

    def _more_tags(self):
        # scikit-learn < 1.6
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """scikit-learn compatible regressor wrapper for numpykeras models.

    1D targets reach the model as a column and ``predict`` returns 1D predictions.

    Model initialization and training are random; seed them for reproducible results.
    """

    __doc__ += (
        _ARGS_DOC
        + """
    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit`.
        n_features_in_: number of features seen in `fit`.

    Example:

    ```python
    from sklearn.datasets import make_regression

    from numpykeras.wrappers import SKLearnRegressor

    def dynamic_model(X, y, loss, layers=(10,)):
        ...  # as for SKLearnClassifier, ending in Dense(y.shape[1])

    X, y = make_regression(n_samples=1000, n_features=10)
    est = SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"})
    est.fit(X, y, epochs=5)
    ```
    """
    )

    def _more_tags(self):
        # scikit-learn < 1.6
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """scikit-learn compatible transformer wrapper for numpykeras models.

    A transformer in scikit-learn's sense: ``fit`` trains the model on ``(X, y)`` and
    ``transform`` returns its outputs (an embedding, say).

    Model initialization and training are random; seed them for reproducible results.
    """

    __doc__ += (
        _ARGS_DOC
        + """
    Attributes:
        model_: the fitted `Model`.
        history_: the `History` returned by `model.fit`.
        n_features_in_: number of features seen in `fit`.

    Example:

    ```python
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator  # scikit-learn >= 1.6
    from sklearn.pipeline import make_pipeline

    from numpykeras.wrappers import SKLearnTransformer

    # `embedding_model` builds a compiled model giving an embedding of its inputs.
    trs = SKLearnTransformer(model=embedding_model).fit(X_embed, y_embed)
    # FrozenEstimator keeps the pipeline from training the embedding model again.
    pipe = make_pipeline(FrozenEstimator(trs), HistGradientBoostingClassifier())
    pipe.fit(X, y)
    ```
    """
    )

    def transform(self, X):
        """Transforms the data with the fitted model.

        Args:
            X: array-like of shape `(n_samples, n_features)`, the input samples.

        Returns:
            The model's outputs for `X`.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.predict(X)

    def _more_tags(self):
        # scikit-learn < 1.6
        return {"preserves_dtype": []}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
