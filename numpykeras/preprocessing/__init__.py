"""Data preprocessing utilities, as in ``keras.preprocessing``.

``sequence.pad_sequences`` and ``timeseries_dataset_from_array`` (the same functions as in
``numpykeras.utils``). Preprocessing *layers* such as ``Rescaling`` are in ``numpykeras.layers``.
"""

from numpykeras.preprocessing import sequence
from numpykeras.utils.timeseries_dataset_utils import timeseries_dataset_from_array

__all__ = ["sequence", "timeseries_dataset_from_array"]
