"""Loading errors, mismatch semantics, all-or-nothing loads, atomic writes, corrupt files, and
hand-written legacy HDF5 variations (KERAS_FORMATS.md §2, §3.4, §4; checklist 7, 8, 11, 14)."""

import errno
import io
import json
import os
import re
import subprocess
import sys
import time
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers as L
from numpykeras.layers.layer import clear_session
from numpykeras.saving import atomic, keras_v3


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


NAMES = {"conv": "conv", "pool": "pool", "flat": "flat", "dense": "dense", "out": "out"}


def make_model(units=5, conv_filters=4, names=None, seed=0):
    names = {**NAMES, **(names or {})}
    nk.utils.set_random_seed(seed)
    return nk.models.Sequential(
        [
            L.Conv2D(conv_filters, 3, input_shape=(8, 8, 3), name=names.get("conv")),
            L.MaxPooling2D(name=names.get("pool")),
            L.Flatten(name=names.get("flat")),
            L.Dense(units, name=names.get("dense")),
            L.Dense(3, name=names.get("out")),
        ]
    )


def randomize(model, seed=1):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.standard_normal(v.shape).astype(v.dtype))


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(after, before))


def saved(tmp_path, model, name):
    path = tmp_path / name
    if name.startswith("m."):
        model.save(path)
    else:
        model.save_weights(path)
    return path


ALL_FORMATS = ["w.weights.h5", "w.h5", "m.keras", "m.h5"]


# --------------------------------------------------------------------------- legacy mismatches


def test_legacy_layer_count_mismatch(tmp_path):
    path = saved(tmp_path, make_model(), "w.h5")
    small = nk.models.Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError) as e:
        small.load_weights(path)
    assert str(e.value) == (
        "Layer count mismatch when loading weights from file. Model expected 1 layers, "
        "found 3 saved layers."
    )


def test_legacy_shape_mismatch_text_and_untouched(tmp_path):
    path = saved(tmp_path, make_model(units=6), "w.h5")
    model = make_model(units=5, seed=3)
    before = snapshot(model)
    with pytest.raises(ValueError) as e:
        model.load_weights(path)
    kernel = model.layers[3].weights[0]
    assert str(e.value) == (
        f"Shape mismatch in layer #1 (named dense)for weight {kernel.path}. Weight expects "
        "shape (36, 5). Received saved weight with shape (36, 6)"
    )
    assert_unchanged(model, before)  # conv2d (layer #0) matched but was not assigned


def test_legacy_skip_mismatch_warns_and_loads_the_rest(tmp_path):
    source = make_model(units=6)
    randomize(source)
    path = saved(tmp_path, source, "w.h5")
    model = make_model(units=5, seed=3)
    dense_before = snapshot(model)[2:4]
    with pytest.warns(UserWarning) as record:
        model.load_weights(path, skip_mismatch=True)
    messages = [str(r.message) for r in record if "Skipping" in str(r.message)]
    # dense kernel (36, 6) vs (36, 5), dense bias (6,) vs (5,), out kernel (6, 3) vs (5, 3)
    assert len(messages) == 3
    assert messages[0].startswith("Skipping loading weights for layer #1 (named dense)due to")
    assert messages[2].startswith("Skipping loading weights for layer #2 (named out)due to")
    weights = model.get_weights()
    assert np.array_equal(weights[0], source.get_weights()[0])  # conv loaded
    assert np.array_equal(weights[2], dense_before[0]) and np.array_equal(
        weights[3], dense_before[1]
    )
    assert np.array_equal(weights[5], source.get_weights()[5])  # out bias loaded


def test_legacy_weight_count_mismatch(tmp_path):
    source = nk.models.Sequential([L.Dense(3, input_shape=(4,), use_bias=False)])
    path = saved(tmp_path, source, "w.h5")
    model = nk.models.Sequential([L.Dense(3, input_shape=(4,), name="other")])
    with pytest.raises(ValueError) as e:
        model.load_weights(path)
    assert str(e.value) == (
        "Weight count mismatch for layer #0 (named other in the current model, dense in the "
        "save file). Layer expects 2 weight(s). Received 1 saved weight(s)"
    )


def test_topological_load_ignores_names(tmp_path):
    source = make_model()
    randomize(source)
    path = saved(tmp_path, source, "w.h5")
    names = {"conv": "a", "pool": "b", "flat": "c", "dense": "d", "out": "e"}
    model = make_model(names=names, seed=4)
    model.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), model.get_weights()))


def test_by_name_matches_names_and_skips_the_rest(tmp_path):
    source = make_model()
    randomize(source)
    path = saved(tmp_path, source, "w.h5")
    model = make_model(names={"conv": "renamed_conv"}, seed=4)
    before = snapshot(model)
    model.load_weights(path, by_name=True)
    weights = model.get_weights()
    assert np.array_equal(weights[0], before[0])  # no layer named renamed_conv in the file
    assert all(np.array_equal(a, b) for a, b in zip(weights[2:], source.get_weights()[2:]))


def test_by_name_weight_count_mismatch(tmp_path):
    source = nk.models.Sequential([L.Dense(3, input_shape=(4,), use_bias=False, name="x")])
    path = saved(tmp_path, source, "w.h5")
    model = nk.models.Sequential([L.Dense(3, input_shape=(4,), name="x")])
    with pytest.raises(ValueError) as e:
        model.load_weights(path, by_name=True)
    assert str(e.value) == (
        "Weight count mismatch for layer #0 (named x). Layer expects 2 weight(s). "
        "Received 1 saved weight(s)"
    )
    with pytest.warns(UserWarning, match="due to mismatch in number of weights"):
        model.load_weights(path, by_name=True, skip_mismatch=True)


@pytest.mark.parametrize("name", ["w.weights.h5", "m.keras"])
def test_by_name_rejected_for_keras3_files(tmp_path, name):
    path = saved(tmp_path, make_model(), name)
    with pytest.raises(ValueError, match=re.escape("`by_name` only supports loading legacy")):
        make_model().load_weights(path, by_name=True)


# --------------------------------------------------------------------------- Keras 3 mismatches


@pytest.mark.parametrize("name", ["w.weights.h5", "m.keras"])
def test_v3_missing_variables_error(tmp_path, name):
    source = nk.models.Sequential([L.Dense(3, input_shape=(4,))])
    path = saved(tmp_path, source, name)
    model = nk.models.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    before = snapshot(model)
    with pytest.raises(ValueError) as e:
        model.load_weights(path)
    text = str(e.value)
    assert text.startswith(
        "A total of 1 objects could not be loaded. Example error message for object "
        f"<Dense name={model.layers[1].name}, built=True>:"
    )
    assert (
        f"Layer '{model.layers[1].name}' expected 2 variables, but received 0 variables "
        "during loading. Expected: ['kernel', 'bias']"
    ) in text
    assert "List of objects that could not be loaded:" in text
    assert_unchanged(model, before)


@pytest.mark.parametrize("name", ["w.weights.h5", "m.keras"])
def test_v3_shape_mismatch_error_and_skip(tmp_path, name):
    source = make_model(units=6)
    randomize(source)
    path = saved(tmp_path, source, name)
    model = make_model(units=5, seed=2)
    before = snapshot(model)
    with pytest.raises(ValueError) as e:
        model.load_weights(path)
    assert (
        "The shape of the target variable and the shape of the target value in "
        "`variable.assign(value)` must match. variable.shape=(36, 5), Received: "
        "value.shape=(36, 6)."
    ) in str(e.value)
    assert_unchanged(model, before)
    with pytest.warns(UserWarning, match="A total of 2 objects could not be loaded"):
        model.load_weights(path, skip_mismatch=True)  # dense and dense_1 (input 6 vs 5)
    weights = model.get_weights()
    assert np.array_equal(weights[0], source.get_weights()[0])
    assert np.array_equal(weights[2], before[2])


def test_v3_extra_groups_are_ignored(tmp_path):
    source = make_model()
    randomize(source)
    path = saved(tmp_path, source, "w.weights.h5")
    with h5py.File(path, "a") as f:
        f.create_group("layers/unrelated_layer/vars").create_dataset("0", data=np.ones(3))
    model = make_model(seed=3)
    model.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), model.get_weights()))


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_failed_load_leaves_every_weight_untouched(tmp_path, name):
    # The mismatch is in the *last* layer: everything before it matches and must stay as is.
    source = nk.models.Sequential(
        [L.Dense(4, input_shape=(3,)), L.Dense(4), L.Dense(2, name="last")]
    )
    randomize(source)
    path = saved(tmp_path, source, name)
    model = nk.models.Sequential(
        [L.Dense(4, input_shape=(3,)), L.Dense(4), L.Dense(3, name="last")]
    )
    before = snapshot(model)
    with pytest.raises(ValueError):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_failed_load_leaves_optimizer_untouched(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 3), dtype=np.float32), rng.integers(0, 2, 4)
    source = nk.models.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(2, name="last")])
    source.compile("adam", "sparse_categorical_crossentropy")
    source.fit(x, y, verbose=0)
    path = saved(tmp_path, source, "w.weights.h5")
    model = nk.models.Sequential([L.Dense(4, input_shape=(3,)), L.Dense(3, name="last")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y % 3, verbose=0)
    opt_before = [v.numpy() for v in model.optimizer.variables]
    with pytest.raises(ValueError):
        model.load_weights(path)
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(model.optimizer.variables, opt_before))


# --------------------------------------------------------------------------- corrupt files


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "w.h5"
    path.write_text("this is not HDF5")
    with pytest.raises(ValueError, match=re.escape(str(path))) as e:
        make_model().load_weights(path)
    assert "HDF5" in str(e.value)


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_truncated_hdf5_file(tmp_path, name):
    path = saved(tmp_path, make_model(), name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    model = make_model(seed=5)
    before = snapshot(model)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_keras_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"\x89HDF\r\n\x1a\n garbage")
    for load in (lambda: nk.models.load_model(path), lambda: make_model().load_weights(path)):
        with pytest.raises(ValueError, match="not a zip archive") as e:
            load()
        assert str(path) in str(e.value)


def test_zip_without_config_json(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="has no 'config.json'") as e:
        nk.models.load_model(path)
    assert str(path) in str(e.value)


def test_truncated_keras_zip(tmp_path):
    path = saved(tmp_path, make_model(), "m.keras")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        nk.models.load_model(path)


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match="File not found"):
        nk.models.load_model(tmp_path / "absent.keras")
    with pytest.raises(FileNotFoundError):
        make_model().load_weights(tmp_path / "absent.weights.h5")
    with pytest.raises(FileNotFoundError):
        nk.models.load_model(tmp_path / "absent.h5")


def test_weights_only_h5_is_not_a_model(tmp_path):
    path = saved(tmp_path, make_model(), "w.h5")
    with pytest.raises(ValueError, match="No model config found"):
        nk.models.load_model(path)


def test_unknown_class_names_it_and_how_to_register(tmp_path):
    path = saved(tmp_path, make_model(), "m.keras")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["class_name"] = "MyFancyConv"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(TypeError, match="MyFancyConv") as e:
        nk.models.load_model(path)
    assert "register_keras_serializable" in str(e.value)
    # ... and custom_objects resolves it.
    loaded = nk.models.load_model(path, custom_objects={"MyFancyConv": L.Conv2D})
    assert isinstance(loaded.layers[0], L.Conv2D)


# --------------------------------------------------------------------------- atomic writes


def _explode_on_last_weight(model, monkeypatch):
    """Make the write fail half-way: reading the last weight's value raises."""
    victim = model.weights[-1]

    def boom():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(victim, "numpy", boom)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_atomic_write_keeps_old_file_on_error(tmp_path, name, monkeypatch):
    path = saved(tmp_path, make_model(seed=1), name)
    before = path.read_bytes()
    model = make_model(seed=2)
    _explode_on_last_weight(model, monkeypatch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        saved(tmp_path, model, name)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_atomic_write_leaves_nothing_when_no_old_file(tmp_path, name, monkeypatch):
    model = make_model()
    _explode_on_last_weight(model, monkeypatch)
    with pytest.raises(RuntimeError):
        saved(tmp_path, model, name)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------- hand-written legacy files


def _dense_values(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "d1": [rng.standard_normal((4, 3)).astype("f4"), rng.standard_normal(3).astype("f4")],
        "d2": [rng.standard_normal((3, 2)).astype("f4"), rng.standard_normal(2).astype("f4")],
    }


def _dense_model():
    return nk.models.Sequential(
        [
            L.Dense(3, input_shape=(4,), name="d1"),
            L.Activation("relu", name="act"),
            L.Dense(2, name="d2"),
        ]
    )


def write_legacy(
    path,
    values,
    string_mode="vlen",
    chunk_layer_names=False,
    version=True,
    bias_first_datasets=True,
):
    """A Keras 2 weights-only file written by hand, with the attribute variations of §2."""

    def strings(items):
        if string_mode == "fixed":  # h5py 2 / old Keras 2: fixed-length byte strings
            return np.array([s.encode() for s in items], dtype=f"S{max(map(len, items))}")
        return list(items)

    layer_names = ["d1", "act", "d2"]
    with h5py.File(path, "w") as f:
        if chunk_layer_names:
            f.attrs["layer_names0"] = strings(layer_names[:2])
            f.attrs["layer_names1"] = strings(layer_names[2:])
        else:
            f.attrs["layer_names"] = strings(layer_names)
        if version:
            f.attrs["keras_version"] = b"2.4.0" if string_mode == "fixed" else "2.4.0"
            f.attrs["backend"] = b"tensorflow" if string_mode == "fixed" else "tensorflow"
        for name in layer_names:
            g = f.create_group(name)
            if name not in values:
                g.attrs["weight_names"] = np.zeros((0,), dtype="float64")
                continue
            names = [f"{name}/kernel:0", f"{name}/bias:0"]
            g.attrs["weight_names"] = strings(names)
            order = [1, 0] if bias_first_datasets else [0, 1]  # creation order must not matter
            for i in order:
                g.create_dataset(names[i], data=values[name][i])


@pytest.mark.parametrize("string_mode", ["vlen", "fixed"])
@pytest.mark.parametrize("chunked", [False, True])
def test_hand_written_legacy_attribute_variations(tmp_path, string_mode, chunked):
    path = tmp_path / "w.h5"
    values = _dense_values()
    write_legacy(path, values, string_mode=string_mode, chunk_layer_names=chunked)
    with h5py.File(path, "r") as f:  # the variation really is what we think it is
        attr = f.attrs["layer_names0" if chunked else "layer_names"]
        if string_mode == "fixed":
            assert attr.dtype.kind == "S"
        assert f["act"].attrs["weight_names"].dtype == np.float64
    model = _dense_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a well-formed file loads silently
        model.load_weights(path)
    expected = values["d1"] + values["d2"]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), expected))


def test_bias_kernel_order_comes_from_weight_names(tmp_path):
    # h5py lists "bias:0" before "kernel:0"; a reader iterating the group would swap them.
    path = tmp_path / "w.h5"
    values = _dense_values(3)
    # Square kernels would load "successfully" in the wrong order; here bias and kernel
    # shapes differ, and the values are checked too.
    write_legacy(path, values, bias_first_datasets=True)
    with h5py.File(path, "r") as f:
        assert list(f["d1/d1"].keys()) == ["bias:0", "kernel:0"]
    model = _dense_model()
    model.load_weights(path)
    assert np.array_equal(model.layers[0].weights[0].numpy(), values["d1"][0])


def test_missing_keras_version_warns(tmp_path):
    path = tmp_path / "w.h5"
    write_legacy(path, _dense_values(), version=False)
    with pytest.warns(UserWarning, match="has no `keras_version` attribute"):
        _dense_model().load_weights(path)


def test_every_written_legacy_file_has_keras_version(tmp_path):
    model = _dense_model()
    for name in ("w.h5", "m.h5"):
        saved(tmp_path, model, name)
        with h5py.File(tmp_path / name, "r") as f:
            assert "keras_version" in f.attrs
            if name == "m.h5":
                assert "keras_version" in f["model_weights"].attrs
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _dense_model().load_weights(tmp_path / name)


def test_weight_names_listing_a_missing_dataset(tmp_path):
    path = tmp_path / "w.h5"
    write_legacy(path, _dense_values())
    with h5py.File(path, "a") as f:
        del f["d2/d2/bias:0"]
    model = _dense_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="missing the dataset 'd2/bias:0'"):
        model.load_weights(path)
    assert_unchanged(model, before)


def test_keras3_file_store_keys_read_numerically():
    class FakeGroup:
        def keys(self):
            return ["0", "1", "10", "11", "2", "3"]

    assert keras_v3._store_keys(FakeGroup()) == ["0", "1", "2", "3", "10", "11"]


# ------------------------------------------------------------------- .keras weights member


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {
            info.filename: (zf.read(info.filename), info.compress_type) for info in zf.infolist()
        }


def _rewrite(path, members, compression=None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, kind) in members.items():
            zf.writestr(name, data, compress_type=kind if compression is None else compression)


def test_keras_file_without_weights_member_raises_before_anything(tmp_path):
    path = saved(tmp_path, make_model(), "m.keras")
    members = _members(path)
    del members["model.weights.h5"]
    _rewrite(path, members)
    model = make_model(seed=4)
    before = snapshot(model)
    for load in (lambda: nk.models.load_model(path), lambda: model.load_weights(path)):
        with pytest.raises(ValueError) as e:
            load()
        assert str(path) in str(e.value)
        assert "no 'model.weights.h5' member" in str(e.value)
    assert_unchanged(model, before)


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
def test_keras_file_whose_weights_fail_their_crc_raises(tmp_path, compression):
    source = make_model()
    randomize(source)
    path = saved(tmp_path, source, "m.keras")
    _rewrite(path, _members(path), compression)
    info = zipfile.ZipFile(path).getinfo("model.weights.h5")
    data = bytearray(path.read_bytes())
    if compression == zipfile.ZIP_STORED:
        # A byte in the middle of the first Dense kernel: without the CRC check the model
        # would load with one wrong weight.
        with h5py.File(io.BytesIO(_members(path)["model.weights.h5"][0]), "r") as f:
            kernel = f["layers/dense/vars/0"]
            inside = kernel.id.get_offset() + kernel.id.get_storage_size() // 2
        data[keras_v3._stored_member_offset(path, info) + inside] ^= 0x40
    else:
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        data[start + info.compress_size // 2] ^= 0x40
    path.write_bytes(bytes(data))
    model = make_model(seed=4)
    before = snapshot(model)
    for load in (lambda: nk.models.load_model(path), lambda: model.load_weights(path)):
        with pytest.raises(ValueError, match="corrupt") as e:
            load()
        assert str(path) in str(e.value)
    assert_unchanged(model, before)


# ------------------------------------------------------------------- failed writes, leftovers


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_disk_full_is_an_os_error_that_says_why_and_what_is_left(tmp_path, name, monkeypatch):
    path = saved(tmp_path, make_model(seed=1), name)
    before = path.read_bytes()

    def disk_full(path):  # flushing the new file: the disk filled up meanwhile
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_fsync_path", disk_full)
    with pytest.raises(OSError) as e:
        saved(tmp_path, make_model(seed=2), name)
    assert e.value.errno == errno.ENOSPC
    message = str(e.value)
    assert f"Could not save '{path}'" in message and "the disk is full" in message
    assert "No space left on device" in message
    assert f"The file previously at '{path}' is untouched" in message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [name]


def test_directory_that_refuses_new_files_is_reported(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match=r"Could not save .* cannot create a file in"):
        make_model().save(tmp_path / "m.keras")


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftover(directory, name, age_seconds):
    path = directory / name
    path.write_bytes(b"half a model")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.skipif(os.name != "posix", reason="leftovers are only recognised on POSIX")
def test_save_removes_only_stale_temporaries_of_its_own_target(tmp_path):
    dead, old = _dead_pid(), atomic.STALE_AFTER_SECONDS + 5
    mark = ".m.keras.numpykeras-tmp-"
    stale = _leftover(tmp_path, f"{mark}{dead}-abc123_x", old)
    kept = [
        _leftover(tmp_path, f"{mark}{dead}-fresh01", 0),  # may still be written elsewhere
        _leftover(tmp_path, f"{mark}{os.getppid()}-alive01", old),  # its writer is alive
        _leftover(tmp_path, f".other.keras.numpykeras-tmp-{dead}-abc123", old),  # other target
        _leftover(tmp_path, f"{mark}{dead}-abc123.bak", old),  # not our name
        _leftover(tmp_path, f".m.keras.{dead}.tmp", old),
        _leftover(tmp_path, "m.keras.numpykeras-tmp-1-abc", old),
    ]
    (tmp_path / f"{mark}{dead}-folder1").mkdir()  # only regular files are removed
    make_model().save(tmp_path / "m.keras")
    assert not stale.exists()
    assert all(path.exists() for path in kept)
    assert (tmp_path / f"{mark}{dead}-folder1").is_dir()
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in kept} | {
        "m.keras",
        f"{mark}{dead}-folder1",
    }
