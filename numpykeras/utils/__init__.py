"""Public utilities, as in ``keras.utils``."""

from numpykeras.backend import clear_session
from numpykeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from numpykeras.utils.dask_utils import dask_predict
from numpykeras.utils.file_utils import DataNotAvailableError, get_file
from numpykeras.utils.model_visualization import model_to_dot, plot_model
from numpykeras.utils.numerical_utils import normalize, to_categorical
from numpykeras.utils.progbar import Progbar
from numpykeras.utils.py_dataset import PyDataset, Sequence
from numpykeras.utils.rng_utils import get_random_seed, set_random_seed
from numpykeras.utils.sequence_utils import pad_sequences
from numpykeras.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = [
    "CustomObjectScope",
    "DataNotAvailableError",
    "Progbar",
    "PyDataset",
    "Sequence",
    "clear_session",
    "custom_object_scope",
    "dask_predict",
    "get_custom_objects",
    "get_file",
    "get_random_seed",
    "get_registered_name",
    "get_registered_object",
    "model_to_dot",
    "normalize",
    "pad_sequences",
    "plot_model",
    "register_keras_serializable",
    "set_random_seed",
    "timeseries_dataset_from_array",
    "to_categorical",
]
