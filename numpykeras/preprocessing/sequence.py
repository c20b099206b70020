"""Sequence preprocessing, as in ``keras.preprocessing.sequence``."""

from numpykeras.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
