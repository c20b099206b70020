"""Keras 3 formats: the ``.weights.h5`` layout and the ``.keras`` zip archive.

``.weights.h5`` (the same layout is ``model.weights.h5`` inside a ``.keras`` file)::

    /vars                               @name=<model name>   the model's own variables (if any)
    /layers/<key>/vars                  @name=<layer name>   datasets "0", "1", ... per variable
    /layers/<key>/layers/<key>/vars     a nested model's layers
    /optimizer/vars                     @name=<optimizer>    iteration, learning_rate, slots

``<key>`` is the snake_case *class* name of the layer with a counter per class within its parent
(``conv2d``, ``conv2d_1``, ...), taken in ``model.layers`` order; the layer's own name is only
the ``@name`` attribute. Variables are in the layer's creation order, trainable ones first.

``.keras``: a zip with ``metadata.json``, ``config.json`` (the model's Keras 3 config with its
``compile_config`` and ``build_config``) and ``model.weights.h5``.

Reading validates everything first (a ``.keras`` file's weights against the CRC-32 in its zip
headers too) and assigns only at the end, so a failed load leaves every weight unchanged.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import os
import struct
import warnings
import zipfile
import zlib

import h5py
import numpy as np

from numpykeras.layers.layer import skip_initializers
from numpykeras.saving import h5_utils
from numpykeras.saving.atomic import atomic_write

# The Keras release whose file layout numpykeras writes (stored in metadata.json).
KERAS_VERSION = "3.15.1"

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
VARS_FILENAME = "model.weights.h5"


# --------------------------------------------------------------------------- the layer tree


def to_snake_case(name: str) -> str:
    from numpykeras.layers.layer import to_snake_case as _snake

    return _snake(name)


def is_model(layer) -> bool:
    from numpykeras.models.model import Model

    return isinstance(layer, Model)


def own_variables(layer) -> list:
    """A layer's own variables (not its sub-layers'), trainable-created first, as Keras saves
    them in ``save_own_variables``."""
    seen, out = set(), []
    for v in list(getattr(layer, "_trainable_vars", [])) + list(
        getattr(layer, "_non_trainable_vars", [])
    ):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def child_layers(layer) -> list:
    """The layers saved under ``<layer key>/layers/``: a model's ``layers`` (Keras order; a
    Sequential model leaves its InputLayer out), or a layer's sub-layers."""
    if is_model(layer):
        return list(layer.layers)
    return list(layer._sublayers())


def walk_saveables(model):
    """``(path, layer)`` for the model (path ``""``) and every layer below it, depth first.

    A layer used in several places is listed once, at its first path (as Keras does).
    """
    out, visited = [], set()

    def visit(layer, path):
        if id(layer) in visited:
            return
        visited.add(id(layer))
        out.append((path, layer))
        keyed = getattr(layer, "_saveable_children", None)
        if keyed is not None:  # sub-layers saved under their attribute names, as Keras does
            for key, child in keyed():
                visit(child, f"{path}/{key}" if path else key)
            return
        used = {}
        for child in child_layers(layer):
            base = to_snake_case(type(child).__name__)
            if base in used:
                used[base] += 1
                key = f"{base}_{used[base]}"
            else:
                used[base] = 0
                key = base
            visit(child, f"{path}/layers/{key}" if path else f"layers/{key}")

    visit(model, "")
    return out


# --------------------------------------------------------------------------- writing


def _optimizer_to_save(model):
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and optimizer is not None:
        return optimizer
    return None


def write_weights(h5file: h5py.File, model, include_optimizer=True) -> None:
    """Write ``model``'s variables (and its optimizer's) in the Keras 3 layout."""
    for path, layer in walk_saveables(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        h5_utils.write_attr_str(group, "name", layer.name)
        for i, variable in enumerate(own_variables(layer)):
            group.create_dataset(str(i), data=variable.numpy())
    optimizer = _optimizer_to_save(model) if include_optimizer else None
    if optimizer is not None:
        group = h5file.create_group("optimizer/vars")
        h5_utils.write_attr_str(group, "name", optimizer.name)
        for i, variable in enumerate(optimizer.variables):
            group.create_dataset(str(i), data=variable.numpy())


def save_weights(model, filepath) -> None:
    """Write a ``.weights.h5`` file atomically."""
    with atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            write_weights(f, model)


def weights_bytes(model) -> bytes:
    """The ``model.weights.h5`` member of a ``.keras`` file, in memory."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        write_weights(f, model)
    return buffer.getvalue()


def _fix_input_shapes(layer_entries: list) -> list:
    """Input shapes as both Keras 3 and tf_keras read them: ``batch_input_shape`` on the
    InputLayer only (Keras 3 rejects it on other layers, tf_keras rejects ``batch_shape``)."""
    entries = copy.deepcopy(layer_entries)
    for entry in entries:
        config = entry.get("config", {})
        if entry.get("class_name") == "InputLayer":
            if "batch_shape" in config:
                config["batch_input_shape"] = config.pop("batch_shape")
        elif is_model_entry(entry):
            config["layers"] = _fix_input_shapes(config.get("layers", []))
        else:
            config.pop("batch_input_shape", None)
    return entries


def is_model_entry(entry) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("config"), dict)
        and ("layers" in entry["config"])
    )


def model_file_config(model) -> dict:
    """``config.json`` for ``model``: its Keras 3 entry plus build and compile configs."""
    from numpykeras.saving.serialization import (
        serialize_compile_config,
        serialize_keras_object,
        to_jsonable,
    )

    entry = serialize_keras_object(model)
    if entry["class_name"] == "Functional":
        # What Keras 3 writes for its Functional class.
        entry["module"] = "keras.src.models.functional"
        entry["registered_name"] = "Functional"
    elif entry.get("registered_name") is None:
        entry["module"] = "keras"  # Keras 3 requires it at the top level
    config = entry["config"]
    layers = config.get("layers", [])
    if (
        type(model).__name__ == "Sequential"
        and layers
        and layers[0].get("class_name") != "InputLayer"
        and layers[0].get("config", {}).get("batch_input_shape") is not None
    ):
        # An unbuilt Sequential whose first layer knows its input shape: say so with an
        # InputLayer, the only place Keras 3 accepts it.
        first = layers[0]["config"]
        layers.insert(
            0,
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {
                    "batch_shape": first["batch_input_shape"],
                    "dtype": "float32",
                    "sparse": False,
                    "name": f"{first.get('name', 'input')}_input",
                },
                "registered_name": None,
            },
        )
    config["layers"] = _fix_input_shapes(layers)
    build_config = model.get_build_config() if hasattr(model, "get_build_config") else None
    entry["build_config"] = build_config if build_config else {"input_shape": None}
    entry["compile_config"] = serialize_compile_config(model) if model.compiled else {}
    return to_jsonable(entry)


def write_archive(fileobj, model, config: dict, include_optimizer=True) -> None:
    """Write a ``.keras`` zip of ``model`` (a model, or any layer) with ``config`` as its
    ``config.json`` to ``fileobj`` (a path or a writable binary stream)."""
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    config_text = json.dumps(config)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        write_weights(f, model, include_optimizer=include_optimizer)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(METADATA_FILENAME, json.dumps(metadata))
        zf.writestr(CONFIG_FILENAME, config_text)
        zf.writestr(VARS_FILENAME, buffer.getvalue())


def save_model(model, filepath, include_optimizer=True) -> None:
    """Write a ``.keras`` zip atomically."""
    config = model_file_config(model)
    if not include_optimizer:
        config["compile_config"] = {}
    with atomic_write(filepath) as tmp:
        write_archive(tmp, model, config, include_optimizer=include_optimizer)


# --------------------------------------------------------------------------- reading


def _vars_group(h5file, path):
    """The ``vars`` group stored for ``path``, or ``None`` (Keras reads a missing one as empty)."""
    key = f"{path}/vars" if path else "vars"
    if key in h5file and isinstance(h5file[key], h5py.Group):
        return h5file[key]
    # Files from Keras 2.13 stored the layers under `_layer_checkpoint_dependencies`.
    if path and "_layer_checkpoint_dependencies" in h5file:
        key = key.replace("layers", "_layer_checkpoint_dependencies")
        if key in h5file and isinstance(h5file[key], h5py.Group):
            return h5file[key]
    return None


def _store_keys(group) -> list:
    """Dataset keys ``"0"``, ``"1"``, ... in numeric order (never h5py's alphabetical order)."""
    if group is None:
        return []
    return sorted(group.keys(), key=lambda k: (0, int(k)) if k.isdigit() else (1, k))


def _stage_variables(owner_label, owner_name, variables, group, filepath, assignments):
    """Check ``group`` against ``variables``; append ``(variable, value)`` pairs to
    ``assignments``. Returns an error message, or ``None``."""
    keys = _store_keys(group)
    if len(keys) != len(variables):
        return (
            f"{owner_label} '{owner_name}' expected {len(variables)} variables, but received "
            f"{len(keys)} variables during loading. Expected: {[v.name for v in variables]}"
        )
    staged = []
    for i, variable in enumerate(variables):
        value = h5_utils.read_dataset(group, str(i), filepath)
        if value.shape != tuple(variable.shape):
            return (
                "The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={variable.shape}, "
                f"Received: value.shape={value.shape}. Target variable: {variable!r}"
            )
        staged.append((variable, value))
    assignments.extend(staged)
    return None


def plan_weights_load(h5file, model, filepath, skip_mismatch=False):
    """Read and validate every variable of ``model`` (and its optimizer) from a Keras 3 weights
    file, without changing anything.

    Returns:
        ``(assignments, warning_messages)``: the ``(variable, value)`` pairs to assign.

    Raises:
        ValueError: Keras's "A total of N objects could not be loaded" error (only a warning
            with ``skip_mismatch=True``).
    """
    assignments, warning_messages = [], []
    errors = {}  # id -> (layer, message), in walk order
    for path, layer in walk_saveables(model):
        variables = own_variables(layer)
        group = _vars_group(h5file, path)
        if not variables and not _store_keys(group):
            continue
        if not variables and not layer.built:
            message = (
                f"Layer '{layer.name}' was never built and thus it doesn't have any variables. "
                f"However the weights file lists {len(_store_keys(group))} variables for this "
                "layer."
            )
        else:
            message = _stage_variables("Layer", layer.name, variables, group, filepath, assignments)
        if message is not None:
            errors[id(layer)] = (layer, message)

    optimizer = _optimizer_to_save(model)
    opt_group = _vars_group(h5file, "optimizer") if "optimizer" in h5file else None
    if optimizer is not None and opt_group is not None:
        keys = _store_keys(opt_group)
        variables = optimizer.variables
        if len(keys) != len(variables):
            msg = (
                f"Skipping variable loading for optimizer '{optimizer.name}', because it has "
                f"{len(variables)} variables whereas the saved optimizer has {len(keys)} "
                "variables. "
            )
            if len(variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warning_messages.append(msg)
        else:
            message = _stage_variables(
                "Optimizer", optimizer.name, variables, opt_group, filepath, assignments
            )
            if message is not None:
                errors[id(optimizer)] = (optimizer, message)

    if errors:
        first_obj, first_msg = next(iter(errors.values()))
        msg = (
            f"A total of {len(errors)} objects could not be loaded. Example error message for "
            f"object {first_obj!r}:\n\n{first_msg}\n\n"
            "List of objects that could not be loaded:\n"
            f"{[obj for obj, _ in errors.values()]}"
        )
        if not skip_mismatch:
            raise ValueError(msg)
        # The objects that failed staged nothing: they keep their values.
        warning_messages.append(msg)
    return assignments, warning_messages


def apply_assignments(assignments) -> None:
    """Assign the staged values (shapes were checked when staging).

    A variable created under ``skip_initializers`` (``load_model``) adopts the array read from
    the file instead of copying it into its placeholder zeros: writing 100 MB of fresh pages
    once more cost ResNet50 a fifth of its cold start.
    """
    for variable, value in assignments:
        if variable._adopt_on_load:
            variable._adopt(value)
        else:
            variable.assign(np.asarray(value, dtype=variable.dtype))


def load_weights_from_h5(model, h5file, filepath, skip_mismatch=False) -> None:
    assignments, warning_messages = plan_weights_load(
        h5file, model, filepath, skip_mismatch=skip_mismatch
    )
    for msg in warning_messages:
        warnings.warn(msg, stacklevel=3)
    apply_assignments(assignments)


def load_weights(model, filepath, skip_mismatch=False) -> None:
    """Load a ``.weights.h5`` file into ``model`` (all or nothing)."""
    with h5_utils.open_h5(filepath) as f:
        _check_v3_layout(f, filepath)
        load_weights_from_h5(model, f, filepath, skip_mismatch=skip_mismatch)


def _check_v3_layout(h5file, filepath):
    if "vars" in h5file or "layers" in h5file or "optimizer" in h5file:
        return
    if "_layer_checkpoint_dependencies" in h5file:
        return
    raise h5_utils.CorruptFileError(
        f"The file '{os.fspath(filepath)}' does not hold Keras 3 weights: it has no 'vars' or "
        "'layers' group (it holds: "
        f"{sorted(h5file.keys())}). Legacy Keras weights are read from files named '.h5'."
    )


# --------------------------------------------------------------------------- .keras archives


class KerasArchive:
    """The parts of a ``.keras`` file, read and checked up front."""

    def __init__(self, filepath, data=None):
        # `data`: the archive's bytes, read from memory (``filepath`` then only names it).
        self._data = None if data is None else bytes(data)
        self.filepath = os.fspath(filepath)
        if self._data is None and not os.path.exists(self.filepath):
            raise ValueError(
                f"File not found: filepath={self.filepath}. Please ensure the file is an "
                "accessible `.keras` zip file."
            )
        if not zipfile.is_zipfile(self._source()):
            raise h5_utils.CorruptFileError(
                f"The file '{self.filepath}' is not a valid `.keras` file: it is not a zip "
                "archive (it may be truncated, corrupt, or a file of another format renamed)."
            )
        try:
            with zipfile.ZipFile(self._source(), "r") as zf:
                names = set(zf.namelist())
                if CONFIG_FILENAME not in names:
                    raise h5_utils.CorruptFileError(
                        f"The file '{self.filepath}' is not a valid `.keras` file: the zip "
                        f"archive has no '{CONFIG_FILENAME}' (it contains {sorted(names)})."
                    )
                config_text = zf.read(CONFIG_FILENAME)
                self.metadata = None
                if METADATA_FILENAME in names:
                    try:
                        self.metadata = json.loads(zf.read(METADATA_FILENAME))
                    except ValueError:
                        self.metadata = None
                if VARS_FILENAME not in names:
                    raise h5_utils.CorruptFileError(
                        f"The `.keras` file '{self.filepath}' is incomplete: the zip archive has "
                        f"no '{VARS_FILENAME}' member, so it holds no weights (expected a "
                        f"{VARS_FILENAME} file; it contains {sorted(names)}). Save the model "
                        "again, or rebuild it and load its weights from another file."
                    )
                self.weights = zf.getinfo(VARS_FILENAME)
                self._weights_offset = None
                if self._data is None and self.weights.compress_type == zipfile.ZIP_STORED:
                    self._weights_offset = _stored_member_offset(self.filepath, self.weights)
                if self._weights_offset is not None:
                    self._check_weights_crc()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
            raise h5_utils.CorruptFileError(
                f"Could not read the `.keras` file '{self.filepath}' ({e}). The archive is "
                "truncated or corrupt."
            ) from None
        try:
            self.config = json.loads(config_text)
        except ValueError as e:
            raise h5_utils.CorruptFileError(
                f"The '{CONFIG_FILENAME}' inside '{self.filepath}' is not valid JSON ({e})."
            ) from None
        if not isinstance(self.config, dict) or "class_name" not in self.config:
            raise h5_utils.CorruptFileError(
                f"The '{CONFIG_FILENAME}' inside '{self.filepath}' does not describe a model "
                "(expected a JSON object with 'class_name' and 'config')."
            )

    def _source(self):
        """What ``zipfile`` opens: the path, or a stream over the in-memory bytes."""
        return self.filepath if self._data is None else io.BytesIO(self._data)

    def _check_weights_crc(self) -> None:
        """Compare the CRC-32 of the stored weights member with the one in its zip header.

        ``zipfile`` checks it when it reads a member, but the in-place read bypasses
        ``zipfile``, so it is computed here, in chunks (a corrupt weights file would otherwise
        load silently). It costs about a fifth of the load time of a ResNet50 file.

        Raises:
            CorruptFileError: the member's bytes don't match their CRC-32.
        """
        crc = _crc32_of_range(self.filepath, self._weights_offset, self.weights.file_size)
        if crc != self.weights.CRC:
            raise h5_utils.CorruptFileError(
                f"The `.keras` file '{self.filepath}' is corrupt: its member '{VARS_FILENAME}' "
                f"fails its CRC-32 check (the zip header says {self.weights.CRC:#010x}, its "
                f"bytes give {crc:#010x}). The file was damaged after it was written (an "
                "interrupted copy or download, a bad disk); save or download it again."
            )

    def open_weights(self) -> h5py.File:
        """The ``model.weights.h5`` member as an open HDF5 file.

        Keras stores the member uncompressed, so it is read in place, through a window on the
        archive's bytes: a 100 MB model is not copied into memory first. A compressed member
        (another zip tool) is decompressed into memory instead.
        """
        name = f"{self.filepath}/{VARS_FILENAME}"
        if self._weights_offset is not None:
            window = _FileWindow(self.filepath, self._weights_offset, self.weights.file_size)
            return _ClosingH5(h5_utils.open_h5(window, name), window)
        try:
            with zipfile.ZipFile(self._source(), "r") as zf:
                data = zf.read(VARS_FILENAME)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise h5_utils.CorruptFileError(
                f"Could not read '{name}' ({e}). The archive is truncated or corrupt."
            ) from None
        return h5_utils.open_h5(io.BytesIO(data), name)


def _stored_member_offset(filepath, info: zipfile.ZipInfo):
    """Where the data of the uncompressed member ``info`` starts in the zip file, or ``None``
    when its local header does not check out (then the member is read through ``zipfile``)."""
    with open(filepath, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(0, os.SEEK_END)
        if start + info.file_size > f.tell():
            return None
    return start


def _crc32_of_range(path, start: int, size: int, chunk_size: int = 1 << 20) -> int:
    """The CRC-32 of ``size`` bytes of the file ``path`` from ``start``, read in chunks."""
    crc, remaining = 0, size
    buffer = memoryview(bytearray(min(chunk_size, size)))
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        while remaining:
            count = f.readinto(buffer[: min(len(buffer), remaining)])
            if not count:
                raise EOFError(f"the file ends {remaining} bytes before the end of a member")
            crc = zlib.crc32(buffer[:count], crc)
            remaining -= count
    return crc


class _FileWindow(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes of a file starting at ``start``."""

    def __init__(self, path, start: int, size: int):
        super().__init__()
        self._file = open(path, "rb")
        self._start, self._size, self._pos = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._pos))
        if count == 0:
            return 0
        self._file.seek(self._start + self._pos)
        got = self._file.readinto(memoryview(buffer)[:count])
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class _ClosingH5:
    """An open ``h5py.File`` used as a context manager that also closes its file object."""

    def __init__(self, h5, fileobj):
        self._h5, self._fileobj = h5, fileobj

    def __enter__(self):
        return self._h5.__enter__()

    def __exit__(self, *exc):
        try:
            return self._h5.__exit__(*exc)
        finally:
            self._fileobj.close()

    def __getattr__(self, name):
        return getattr(self._h5, name)


def load_weights_from_archive(model, filepath, skip_mismatch=False) -> None:
    """``model.load_weights('x.keras')``: the archive's weights (and optimizer state)."""
    archive = KerasArchive(filepath)
    with archive.open_weights() as f:
        load_weights_from_h5(
            model, f, f"{archive.filepath}/{VARS_FILENAME}", skip_mismatch=skip_mismatch
        )


def build_loaded(model, build_config) -> None:
    """Build a just-deserialized model from its saved ``build_config`` (if it is not built).

    A subclassed model is built by running its ``call`` (``Model.build_from_config``), which
    creates its layers' weights; Sequential and Functional models build their graph.
    """
    if model.built or not build_config or build_config.get("input_shape") is None:
        return
    from numpykeras.models.model import is_subclassed_model

    if is_subclassed_model(model):
        model.build_from_config(build_config)
    else:
        model.build(tuple(build_config["input_shape"]))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild, compile and fill a model from a ``.keras`` file."""
    from numpykeras.saving.serialization import (
        compile_from_config,
        deserialize_layer,
        normalize_model_config,
    )

    archive = KerasArchive(filepath)
    config = archive.config
    # The file's weights replace every initial value (or the load fails and the model is
    # discarded), so the layers skip drawing random initial values.
    with skip_initializers():
        model = deserialize_layer(normalize_model_config(config), custom_objects=custom_objects)
        build_loaded(model, config.get("build_config"))
    compile_config = config.get("compile_config")
    if compile and compile_config:
        compile_from_config(model, compile_config, custom_objects=custom_objects)
    with archive.open_weights() as f:
        load_weights_from_h5(model, f, f"{archive.filepath}/{VARS_FILENAME}")
    return model
