"""``save_model``, ``load_model``, ``save_weights``, ``load_weights``: the file extension picks the
format, as in Keras 3.

=====================  ===========================================  ==========================
call                   ``.keras``                                   ``.weights.h5`` / ``.h5``
=====================  ===========================================  ==========================
``save_model``         Keras 3 zip (config, weights, optimizer)     ``.h5``: legacy full model
``save_weights``       --                                           Keras 3 layout / legacy
``load_weights``       the archive's weights (and optimizer)        Keras 3 layout / legacy
``load_model``         the zip                                      ``.h5``: legacy full model
=====================  ===========================================  ==========================

Differences from Keras 3, all extensions: ``save_weights`` also accepts a name ending in
``.h5``/``.hdf5`` (not ``.weights.h5``) and then writes the Keras 2 weights-only layout, which
Keras 3 and tf_keras both load (Keras 3 only accepts ``.weights.h5`` there). Every write is
atomic: a temporary file in the same directory is renamed over the target only once complete.
Every load validates the whole file before assigning, so a failed load changes nothing.
"""

from __future__ import annotations

import os

from numpykeras.saving import atomic, h5_utils, keras_v3, legacy_h5


def _path(filepath) -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(
            "`filepath` must be a string or a path-like object. "
            f"Received: filepath={filepath!r} of type {type(filepath).__name__}"
        ) from None


def _is_legacy_h5_name(path: str) -> bool:
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save ``model`` as a ``.keras`` archive or a legacy ``.h5`` full-model file.

    Args:
        model: the model.
        filepath: a path ending in ``.keras``, ``.h5`` or ``.hdf5``.
        overwrite: if False and the file exists, ask on the terminal first (as Keras).
        zipped: must be None or True (numpykeras writes ``.keras`` files zipped only).
        **kwargs: ``include_optimizer`` (default True); ``save_format`` (deprecated, as Keras).
    """
    path = _path(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", False)
    if save_format and not path.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError(
            "The `save_format` argument is deprecated in Keras 3. Please remove this argument "
            "and pass a file path with either `.keras` or `.h5` extension."
            f"Received: save_format={save_format}"
        )
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    if zipped is False:
        raise ValueError(
            "numpykeras saves `.keras` files as zip archives only; `zipped=False` (an unzipped "
            f"directory) is not supported. Received: zipped={zipped}"
        )
    if path.endswith(".keras"):
        writer = keras_v3.save_model
    elif path.endswith((".h5", ".hdf5")):
        writer = legacy_h5.save_model
    else:
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension for "
            "the native Keras format (recommended) or a `.h5` extension. "
            f"Received: filepath={path}."
        )
    if not atomic.may_write(path, overwrite):
        return
    writer(model, path, include_optimizer=include_optimizer)


def save_weights(model, filepath, overwrite=True, **kwargs):
    """Save the weights: ``.weights.h5`` (Keras 3 layout, with the optimizer state when the
    model is compiled) or ``.h5``/``.hdf5`` (Keras 2 weights-only layout; a numpykeras
    extension, Keras 3 rejects these names)."""
    path = _path(filepath)
    if kwargs.get("max_shard_size") is not None:
        raise ValueError("numpykeras does not support sharded weights (`max_shard_size`).")
    kwargs.pop("max_shard_size", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if path.endswith(".weights.h5"):
        writer = keras_v3.save_weights
    elif _is_legacy_h5_name(path):
        writer = legacy_h5.save_weights
    else:
        raise ValueError(
            "The filename must end in `.weights.h5`. "
            f"Received: filepath={path} (numpykeras also writes the legacy layout to names "
            "ending in `.h5` or `.hdf5`)"
        )
    if not atomic.may_write(path, overwrite):
        return
    writer(model, path)


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    """Load weights from ``.keras``, ``.weights.h5`` or legacy ``.h5``/``.hdf5`` files.

    ``by_name=True`` matches layers by name (legacy files only). With ``skip_mismatch=True``,
    weights whose shapes (or counts) don't match are skipped with a warning. On any error no
    weight changes.
    """
    path = _path(filepath)
    objects_to_skip = kwargs.pop("objects_to_skip", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if objects_to_skip is not None:
        raise ValueError("numpykeras does not support `objects_to_skip`.")
    if path.endswith((".keras", ".weights.h5")) and by_name:
        raise ValueError(
            f"`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: {filepath}"
        )
    if path.endswith(".keras"):
        keras_v3.load_weights_from_archive(model, path, skip_mismatch=skip_mismatch)
    elif path.endswith((".h5", ".hdf5")):
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: '{path}'.")
        with h5_utils.open_h5(path) as f:
            legacy = legacy_h5.is_legacy_layout(f)
        if legacy:
            legacy_h5.load_weights(model, path, skip_mismatch=skip_mismatch, by_name=by_name)
        elif by_name:
            raise ValueError(
                "`by_name` only supports loading legacy '.h5' or '.hdf5' files. "
                f"Received: {filepath} (it holds Keras 3 `.weights.h5` data)"
            )
        else:
            keras_v3.load_weights(model, path, skip_mismatch=skip_mismatch)
    else:
        raise ValueError(
            f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` "
            "files, `.weights.h5` files, legacy H5 format files (`.h5` extension)."
        )


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model from a ``.keras`` archive or a legacy full-model ``.h5``/``.hdf5`` file.

    Args:
        filepath: the file.
        custom_objects: dict of names to user classes/functions needed to rebuild the model.
        compile: whether to compile the model (and restore the optimizer state) as saved.
        safe_mode: accepted for Keras compatibility; numpykeras never runs code from files
            (``Lambda`` layers are refused).
    """
    path = _path(filepath)
    del safe_mode
    if path.endswith(".keras") or (os.path.isfile(path) and _is_zip(path)):
        return keras_v3.load_model(path, custom_objects=custom_objects, compile=compile)
    if path.endswith((".h5", ".hdf5")):
        return legacy_h5.load_model(path, custom_objects=custom_objects, compile=compile)
    if not os.path.exists(path):
        raise ValueError(f"File not found: filepath={path}.")
    raise ValueError(
        f"File format not supported: filepath={path}. Keras 3 only supports V3 `.keras` files "
        "and legacy H5 format files (`.h5` extension)."
    )


def _is_zip(path) -> bool:
    import zipfile

    return zipfile.is_zipfile(path)
