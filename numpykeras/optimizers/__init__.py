"""Optimizers and learning-rate schedules, as ``keras.optimizers``.

``get`` accepts a name (``"adam"``, ``"RMSprop"``, any case), an optimizer instance, or a config
dict: Keras 3 (``{"module": "keras.optimizers", "class_name": "Adam", "config": {...}}``), Keras 2
(no ``module``, extra ``jit_compile`` / ``is_legacy_optimizer`` / ``decay`` keys) or tf_keras's
``"Custom>Adam"`` class names from legacy HDF5 files.
"""

from __future__ import annotations

from numpykeras.optimizers import schedules
from numpykeras.optimizers.adagrad import Adagrad
from numpykeras.optimizers.adam import Adam
from numpykeras.optimizers.adamw import AdamW
from numpykeras.optimizers.nadam import Nadam
from numpykeras.optimizers.optimizer import Optimizer
from numpykeras.optimizers.rmsprop import RMSprop
from numpykeras.optimizers.sgd import SGD
from numpykeras.saving import object_registration

ALL_OBJECTS = {Optimizer, Adam, SGD, RMSprop, AdamW, Adagrad, Nadam}
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}

# Keys that Keras 2 / tf_keras optimizers wrote and Keras 3 no longer takes.
_KERAS2_ONLY_KEYS = ("jit_compile", "is_legacy_optimizer")


def serialize(optimizer) -> dict:
    """The Keras 3 config dict of ``optimizer``.

    Built-in optimizers get ``module="keras.optimizers"``; user subclasses get their Python module
    and registered name.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"Expected an `Optimizer` instance. Received: optimizer={optimizer!r} "
            f"of type {type(optimizer)}"
        )
    cls = type(optimizer)
    builtin = ALL_OBJECTS_DICT.get(cls.__name__.lower()) is cls
    return {
        "module": "keras.optimizers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": optimizer.get_config(),
        "registered_name": None if builtin else object_registration.get_registered_name(cls),
    }


def _find_class(config: dict, custom_objects=None):
    """The optimizer class a config names, or None."""
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        return None
    for key in (config.get("registered_name"), class_name):
        if key:
            cls = object_registration.get_registered_object(key, custom_objects)
            if isinstance(cls, type) and issubclass(cls, Optimizer):
                return cls
    # tf_keras writes built-in optimizers as "Custom>Adam" in legacy HDF5 files.
    return ALL_OBJECTS_DICT.get(class_name.split(">", 1)[-1].lower())


def _from_config(cls, config: dict, custom_objects=None):
    inner = dict(config.get("config") or {})
    for key in _KERAS2_ONLY_KEYS:
        inner.pop(key, None)
    if "lr" in inner and "learning_rate" not in inner:  # Keras < 2.3
        inner["learning_rate"] = inner.pop("lr")
    if not inner.get("decay"):  # Keras 2's `decay=0.0` is the no-op default
        inner.pop("decay", None)
    return cls.from_config(inner, custom_objects=custom_objects)


def deserialize(config, custom_objects=None):
    """Rebuild an optimizer from a config dict (Keras 3, Keras 2 or tf_keras style).

    Args:
        config: a dict with ``class_name`` and ``config``.
        custom_objects: optional dict mapping names to user optimizer or schedule classes.

    Returns:
        An :class:`Optimizer` instance.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Could not interpret serialized optimizer: expected a dict with keys 'class_name' "
            f"and 'config'. Received: config={config}"
        )
    cls = _find_class(config, custom_objects)
    if cls is None:
        raise ValueError(
            f"Unknown optimizer: '{config['class_name']}'. Please ensure you are using a "
            "`keras.utils.custom_object_scope` and that this object is included in the scope."
        )
    return _from_config(cls, config, custom_objects)


def get(identifier):
    """An optimizer from a name, a config dict or an instance (returned unchanged).

    Raises:
        ValueError: ``Could not interpret optimizer identifier: ...`` for anything else.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        config = {"class_name": identifier, "config": {}}
    elif isinstance(identifier, dict):
        config = identifier
    else:
        config = None
    if config is not None and _find_class(config) is not None:
        return deserialize(config)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]
