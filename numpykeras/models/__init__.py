"""Models: ``Sequential``, ``Model`` (Functional), and loading/saving entry points."""

from numpykeras.models.model import Model
from numpykeras.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved as ``.keras`` or as a legacy full-model ``.h5``."""
    from numpykeras import saving

    return saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def model_from_json(json_string, custom_objects=None):
    """A model (uncompiled, freshly initialised) from ``model.to_json()`` output."""
    from numpykeras.saving.serialization import model_from_json as _from_json

    return _from_json(json_string, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights."""
    from numpykeras.saving.serialization import deserialize_layer, serialize_keras_object

    return deserialize_layer(serialize_keras_object(model))


__all__ = ["Model", "Sequential", "load_model", "model_from_json", "clone_model"]
