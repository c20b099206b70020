"""scikit-learn wrappers for numpykeras models (``keras.wrappers``).

``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` make a compiled model
(or a callable building one) a scikit-learn estimator, with Keras 3's arguments and behaviour.

scikit-learn is optional: importing this package does not import it. The classes are loaded on
first access; building one without scikit-learn installed raises an ``ImportError`` that says
how to install it (``pip install "numpykeras[sklearn]"``).
"""

_WRAPPERS = ("SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer")


def __getattr__(name):
    if name in _WRAPPERS:
        from numpykeras.wrappers import sklearn_wrapper

        value = getattr(sklearn_wrapper, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'numpykeras.wrappers' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_WRAPPERS))


__all__ = list(_WRAPPERS)
