"""Helpers of the scikit-learn wrappers: the optional import, data validation across
scikit-learn versions, the model checks and the target reshaper (Keras 3's
``keras/src/wrappers/utils.py`` and ``fixes.py``)."""

import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # scikit-learn is optional; the wrappers raise when they are built
    sklearn = None

    class BaseEstimator:
        """Stand-in base class when scikit-learn is not installed."""

    class TransformerMixin:
        """Stand-in mixin when scikit-learn is not installed."""


INSTALL_HINT = 'pip install "numpykeras[sklearn]"'


class ModelNotCompiledError(ValueError, RuntimeError):
    """The wrapped model is not compiled with a loss and an optimizer.

    A ``ValueError`` (a user error) that is also the ``RuntimeError`` Keras raises here, so
    code catching either works.
    """


def assert_sklearn_installed(symbol_name):
    """Raises an ``ImportError`` naming scikit-learn when it is not installed.

    Args:
        symbol_name: name of the class or function that needs scikit-learn.

    Raises:
        ImportError: scikit-learn cannot be imported.
    """
    if sklearn is None:
        raise ImportError(
            f"{symbol_name} requires `scikit-learn` to be installed. "
            f"Run `{INSTALL_HINT}` (or `pip install scikit-learn`) to install it."
        )


def check_model(model):
    """Checks that ``model`` is a model compiled with a loss and an optimizer.

    Args:
        model: the model given to, or built by, a wrapper.

    Raises:
        TypeError: ``model`` is not a numpykeras ``Model``.
        ModelNotCompiledError: the model is not compiled, or has no loss or no optimizer.
    """
    from numpykeras.models import Model

    if not isinstance(model, Model):
        raise TypeError(
            "`model` must be a numpykeras `Model` or a callable returning one. "
            f"Received: {type(model).__name__} ({model!r})"
        )
    if not model.compiled or not model.loss or not model.optimizer:
        raise ModelNotCompiledError(
            "Given model needs to be compiled, and have a loss and an optimizer."
        )


def clone_compiled_model(model):
    """A new model with ``model``'s architecture, fresh weights, and its compile settings.

    As Keras's ``clone_model``, a compiled model's clone is compiled the same way, with a new
    optimizer of the same configuration.

    Args:
        model: a numpykeras ``Model``.

    Returns:
        The clone.
    """
    from numpykeras import optimizers
    from numpykeras.models import clone_model
    from numpykeras.saving.serialization import compile_from_config, serialize_compile_config

    clone = clone_model(model)
    if not model.compiled:
        return clone
    try:
        config = serialize_compile_config(model)
    except (TypeError, ValueError):
        config = None
    if config is not None:
        try:
            compile_from_config(clone, config)
            return clone
        except (TypeError, ValueError):
            pass
    # Objects that do not round-trip through a config (a custom loss function, say) are
    # reused as given; only the optimizer, which holds per-model state, is re-created.
    args = dict(model.get_compile_config())
    args["optimizer"] = optimizers.deserialize(optimizers.serialize(model.optimizer))
    clone.compile(**args)
    return clone


def validate_data(estimator, *args, **kwargs):
    """``sklearn.utils.validation.validate_data`` (scikit-learn >= 1.6), or the estimator's
    ``_validate_data`` on older versions."""
    try:
        from sklearn.utils.validation import validate_data as _validate
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(*args, **kwargs)
    return _validate(estimator, *args, **kwargs)


def type_of_target(y, input_name="", *, raise_unknown=False):
    """scikit-learn's ``type_of_target``, raising a ``ValueError`` for ``"unknown"`` targets
    when ``raise_unknown`` is set."""
    from sklearn.utils.multiclass import type_of_target as _type_of_target

    target_type = _type_of_target(y, input_name=input_name)
    if raise_unknown and target_type == "unknown":
        name = input_name if input_name else "data"
        raise ValueError(f"Unknown label type for {name}: {y!r}")
    return target_type


def routing_enabled():
    """Whether scikit-learn's metadata routing is enabled (``False`` without scikit-learn)."""
    if sklearn is None:
        return False
    return bool(sklearn.get_config().get("enable_metadata_routing", False))


class TargetReshaper(TransformerMixin, BaseEstimator):
    """Makes 1D targets 2D, and back.

    For pipelines with transformers that only accept 2D inputs, such as ``OneHotEncoder``.

    Attributes:
        ndim_: number of dimensions of the targets the reshaper was fitted on.
    """

    def fit(self, y):
        """Records the number of dimensions of ``y``.

        Args:
            y: the targets, a NumPy array.

        Returns:
            This reshaper.
        """
        self.ndim_ = np.ndim(y)
        return self

    def transform(self, y):
        """Makes 1D ``y`` a column.

        Args:
            y: the targets, a NumPy array.

        Returns:
            ``y`` with at least 2 dimensions.
        """
        y = np.asarray(y)
        if y.ndim == 1:
            return y.reshape(-1, 1)
        return y

    def inverse_transform(self, y):
        """Reverts ``transform``.

        Args:
            y: a transformed array (or model outputs of that shape).

        Returns:
            ``y`` squeezed back to 1D if the reshaper was fitted on 1D targets and ``y`` is a
            single column; ``y`` unchanged otherwise.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        y = np.asarray(y)
        if self.ndim_ == 1 and y.ndim == 2 and y.shape[1] == 1:
            return np.squeeze(y, axis=1)
        return y
