"""Shared by the dataset loaders: cache look-up with a clear offline error, and CIFAR batches."""

from __future__ import annotations

import os
import pickle

from numpykeras.utils import file_utils
from numpykeras.utils.file_utils import DataNotAvailableError
from numpykeras.utils.progbar import print_msg

# The only globals a CIFAR pickle needs: NumPy array reconstruction (old and new module names).
_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and plain containers, and nothing else."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Refusing to deserialize `{module}.{name}` while loading a Keras dataset. "
            "The file may be corrupted or malicious."
        )


def load_cifar_batch(fpath, label_key="labels"):
    """Read one pickled CIFAR batch file.

    Args:
        fpath: path of the batch file (``data_batch_1``, ``test``, ...).
        label_key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"`` (CIFAR-100).

    Returns:
        ``(data, labels)``: uint8 images of shape ``(N, 3, 32, 32)`` and the labels as stored
        (a Python list of ints).
    """
    with open(fpath, "rb") as f:
        # The files were written by Python 2: its str objects come back as bytes.
        raw = RestrictedUnpickler(f, encoding="bytes").load()
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in raw.items()}
    for key in ("data", label_key):
        if key not in d:
            raise ValueError(
                f"The CIFAR batch file {fpath} has no '{key}' entry. Expected keys include "
                f"'data' and '{label_key}'. Received keys: {sorted(d)}"
            )
    data = d["data"]
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def _unavailable(dataset, error, path, extra=""):
    """A one-line ``DataNotAvailableError`` naming the URL and the path to save the file at
    (raised ``from None``: the chained download errors only repeat it)."""
    return DataNotAvailableError(
        f"The {dataset} dataset is not in the Keras cache and could not be downloaded "
        f"({error.reason}). On a machine with internet access, download {error.url} and save "
        f"it as {path}{extra}",
        url=error.url,
        reason=error.reason,
        path=path,
    )


def fetch_file(dataset, fname, origin, file_hash=None, cache_subdir="datasets", extra=""):
    """``get_file`` for one dataset file, with a dataset-specific message when offline.

    Args:
        dataset: display name for messages (``"MNIST"``).
        fname: the file's name in the cache.
        origin: its URL.
        file_hash: its sha256, or ``None``.
        cache_subdir: the cache folder, relative to the cache root.
        extra: appended to the offline message.
    """
    try:
        return file_utils.get_file(
            fname=fname, origin=origin, file_hash=file_hash, cache_subdir=cache_subdir
        )
    except DataNotAvailableError as e:
        raise _unavailable(dataset, e, e.path, extra) from None


def cifar_folder(dataset, folder, origin, file_hash, required_files):
    """Find (or download and extract) a CIFAR batches folder and return its path.

    Looked up, in every cache root (``$KERAS_HOME`` or ``~/.keras``, then ``/tmp/.keras``), under
    ``datasets/``:

    1. ``<folder>-target/<folder>/``: Keras 3's extraction of the archive;
    2. ``<folder>/``: Keras 2 / ``tf.keras``'s extraction;
    3. an archive to extract into layout 1: ``<folder>-target_archive`` (Keras 3's download),
       ``<folder>.tar.gz`` (Keras 2's) or the server's own file name (e.g.
       ``cifar-10-python.tar.gz``, what a user downloading by hand gets); its sha256 is checked;
    4. otherwise the archive is downloaded into layout 1, as Keras 3 does.

    Args:
        dataset: display name for messages (``"CIFAR-10"``).
        folder: the archive's top folder (``"cifar-10-batches-py"``).
        origin: the archive URL.
        file_hash: the archive's sha256.
        required_files: batch file names that must all be in the folder.

    Returns:
        Path of the folder holding the batch files.
    """
    target_name = f"{folder}-target"  # Keras 3: get_file(fname=target_name, extract=True)
    server_name = os.path.basename(origin)
    roots = [os.path.join(root, "datasets") for root in file_utils.cache_roots()]

    def complete(path):
        return all(os.path.isfile(os.path.join(path, f)) for f in required_files)

    for datadir in roots:
        for candidate in (
            os.path.join(datadir, target_name, folder),
            os.path.join(datadir, folder),
        ):
            if complete(candidate):
                return candidate

    rejected = []
    for datadir in roots:
        for name in (f"{target_name}_archive", f"{folder}.tar.gz", server_name):
            archive = os.path.join(datadir, name)
            if not os.path.isfile(archive):
                continue
            if not file_utils.validate_file(archive, file_hash):
                rejected.append(archive)
                continue
            extraction_dir = os.path.join(roots[-1], target_name)
            print_msg(f"Extracting {archive} into {extraction_dir}")
            file_utils._extract_or_warn(archive, extraction_dir, "tar")
            if complete(os.path.join(extraction_dir, folder)):
                return os.path.join(extraction_dir, folder)
            rejected.append(archive)

    try:
        path = file_utils.get_file(
            fname=target_name, origin=origin, extract=True, file_hash=file_hash
        )
    except DataNotAvailableError as e:
        extra = (
            f". These cached files were ignored because their sha256 does not match "
            f"{file_hash} (incomplete or corrupted): {', '.join(rejected)}"
            if rejected
            else ""
        )
        raise _unavailable(dataset, e, os.path.join(roots[-1], server_name), extra) from None
    path = os.path.join(path, folder)
    if not complete(path):
        missing = [f for f in required_files if not os.path.isfile(os.path.join(path, f))]
        raise FileNotFoundError(
            f"The {dataset} archive from {origin} was extracted to {path} but these files are "
            f"missing: {', '.join(missing)}"
        )
    return path
