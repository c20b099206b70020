"""Public utilities, as in ``keras.utils``."""

from numpykeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from numpykeras.utils.file_utils import DataNotAvailableError, get_file
from numpykeras.utils.numerical_utils import normalize, to_categorical
from numpykeras.utils.progbar import Progbar
from numpykeras.utils.py_dataset import PyDataset, Sequence
from numpykeras.utils.rng_utils import get_random_seed, set_random_seed

__all__ = [
    "CustomObjectScope",
    "DataNotAvailableError",
    "Progbar",
    "PyDataset",
    "Sequence",
    "custom_object_scope",
    "get_custom_objects",
    "get_file",
    "get_random_seed",
    "get_registered_name",
    "get_registered_object",
    "normalize",
    "register_keras_serializable",
    "set_random_seed",
    "to_categorical",
]
