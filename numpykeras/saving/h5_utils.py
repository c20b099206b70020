"""HDF5 helpers shared by the Keras 3 and legacy readers and writers.

Keras files written by different Keras and h5py versions store the same string attributes in
different HDF5 types: variable-length UTF-8 or ASCII strings (read back as ``str``), fixed-length
byte strings (read back as ``numpy.bytes_`` or an ``S``-dtype array), and empty float64 arrays for
empty name lists. Attributes bigger than the HDF5 object-header limit are split into ``name0``,
``name1``, ... The functions here read every variation and write what Keras writes.
"""

from __future__ import annotations

import io
import os

import h5py
import numpy as np

# HDF5 refuses attributes bigger than this (the object header limit Keras works around).
HDF5_OBJECT_HEADER_LIMIT = 64512


class CorruptFileError(ValueError):
    """A file that can't be read as the Keras file it claims to be (truncated, corrupt, ...)."""


def decode(value) -> str:
    """``bytes``/``numpy.bytes_`` -> ``str`` (UTF-8); ``str`` unchanged; anything else ``str()``."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.shape == ():
        return decode(value[()])
    return str(value)


def _attr_to_list(value) -> list:
    """An attribute value holding a list of names, as a list of ``str``."""
    if isinstance(value, (str, bytes, np.bytes_)):
        return [decode(value)]
    array = np.asarray(value)
    if array.dtype.kind in "fiu" and array.size == 0:  # Keras writes empty lists as float64 (0,)
        return []
    return [decode(v) for v in array.reshape(-1)]


def has_attr_list(obj, name: str) -> bool:
    """Whether ``obj`` has the attribute ``name`` or its chunks ``name0``, ``name1``, ..."""
    return name in obj.attrs or f"{name}0" in obj.attrs


def read_attr_list(obj, name: str) -> list:
    """The list of strings stored in attribute ``name`` of ``obj`` (chunks concatenated).

    A missing attribute reads as ``[]``.
    """
    if name in obj.attrs:
        return _attr_to_list(obj.attrs[name])
    out, chunk = [], 0
    while f"{name}{chunk}" in obj.attrs:
        out.extend(_attr_to_list(obj.attrs[f"{name}{chunk}"]))
        chunk += 1
    return out


def write_attr_list(obj, name: str, values) -> None:
    """Store a list of strings as Keras does: vlen strings, chunked above the header limit.

    An empty list is stored as an empty float64 array, as Keras writes it.
    """
    values = [str(v) for v in values]
    if not values:
        obj.attrs[name] = np.zeros((0,), dtype="float64")
        return
    longest = max(len(v.encode("utf-8")) for v in values)
    if longest > HDF5_OBJECT_HEADER_LIMIT:
        raise ValueError(
            "The following attributes cannot be saved to HDF5 file because they are larger than "
            f"{HDF5_OBJECT_HEADER_LIMIT} bytes: "
            f"{[v for v in values if len(v.encode('utf-8')) > HDF5_OBJECT_HEADER_LIMIT]}"
        )
    # Same estimate as Keras: the size of the names as a fixed-length byte-string array.
    num_chunks = 1
    while len(values) * longest > num_chunks * HDF5_OBJECT_HEADER_LIMIT:
        num_chunks += 1
    if num_chunks == 1:
        obj.attrs[name] = values
        return
    chunks = np.array_split(np.arange(len(values)), num_chunks)
    for i, index in enumerate(chunks):
        obj.attrs[f"{name}{i}"] = [values[j] for j in index]


def read_attr_str(obj, name: str, default=None):
    """A scalar string attribute as ``str`` (``default`` when absent)."""
    if name not in obj.attrs:
        return default
    return decode(obj.attrs[name])


def write_attr_str(obj, name: str, value: str) -> None:
    """A scalar vlen string attribute."""
    obj.attrs[name] = str(value)


def open_h5(source, filepath_for_errors=None) -> h5py.File:
    """Open ``source`` (a path or a binary file object) read-only, with a clear error if it is
    not an HDF5 file.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        CorruptFileError: the data isn't a readable HDF5 file.
    """
    name = filepath_for_errors if filepath_for_errors is not None else source
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise FileNotFoundError(f"No such file: '{os.fspath(source)}'.")
        if os.path.isdir(source):
            raise CorruptFileError(f"Expected a file but '{os.fspath(source)}' is a directory.")
    try:
        return h5py.File(source, "r")
    except OSError as e:
        raise CorruptFileError(
            f"Could not read '{os.fspath(name) if not isinstance(name, io.IOBase) else name}' as "
            f"an HDF5 file ({e}). The file is not a Keras HDF5 file, or it is truncated or "
            "corrupt."
        ) from None


def read_dataset(group, key: str, filepath) -> np.ndarray:
    """``group[key]`` as an ndarray, with file errors turned into :class:`CorruptFileError`."""
    try:
        obj = group[key]
    except KeyError:
        raise CorruptFileError(
            f"The file '{filepath}' is missing the dataset '{key}' under '{group.name}' that its "
            "weight names list. The file is incomplete or corrupt."
        ) from None
    if not isinstance(obj, h5py.Dataset):
        raise CorruptFileError(
            f"In '{filepath}', '{obj.name}' should be a dataset holding a weight, but it is a "
            f"{type(obj).__name__}. The file is not a valid Keras weights file."
        )
    try:
        return np.asarray(obj[()])
    except OSError as e:
        raise CorruptFileError(
            f"Could not read the dataset '{obj.name}' from '{filepath}' ({e}). The file is "
            "truncated or corrupt."
        ) from None
