"""Reading and writing Keras files: ``.keras``, ``.weights.h5`` and legacy ``.h5``."""

from numpykeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from numpykeras.saving.serialization import deserialize_layer as deserialize_keras_object
from numpykeras.saving.serialization import serialize_keras_object


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    from numpykeras.saving.saving_api import save_model as _save

    return _save(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from numpykeras.saving.saving_api import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_weights(model, filepath, overwrite=True, **kwargs):
    from numpykeras.saving.saving_api import save_weights as _save

    return _save(model, filepath, overwrite=overwrite, **kwargs)


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    from numpykeras.saving.saving_api import load_weights as _load

    return _load(model, filepath, skip_mismatch=skip_mismatch, by_name=by_name, **kwargs)


__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
    "deserialize_keras_object",
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
]
