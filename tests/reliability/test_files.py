"""Bad files and faults while saving: every failure is a clear error of the right type that
tells the user what to fix, a failed load changes nothing, and a failed or killed save leaves the
previous file intact (and its leftovers are cleaned up by the next save).

Corrupt files and mismatches already covered in ``tests/unit/test_saving_errors.py`` (a
truncated ``.weights.h5``, a ``.keras`` that is not a zip, an unknown class in a ``.keras``, the
Keras mismatch texts) are not repeated here.
"""

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import numpy as np
import pytest

import numpykeras as nk
from numpykeras import layers as L
from numpykeras.layers.layer import clear_session
from numpykeras.saving import atomic

POSIX_ONLY = pytest.mark.skipif(
    not hasattr(signal, "SIGXFSZ"), reason="needs POSIX signals and resource limits"
)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield


def make_model(units=4, seed=0):
    nk.utils.set_random_seed(seed)
    model = nk.models.Sequential(
        [L.Input((6,)), L.Dense(units, activation="relu"), L.Dense(3, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    model.fit(rng.random((8, 6), dtype=np.float32), rng.integers(0, 3, 8), verbose=0)
    return model


def save(model, path):
    path = str(path)
    if path.endswith((".keras", "m.h5")):
        model.save(path)
    else:
        model.save_weights(path)


def state_bytes(model):
    """Every weight and optimizer variable of ``model``, as bytes (bit-exact comparison)."""
    return [v.numpy().tobytes() for v in model.weights + model.optimizer.variables]


def replace_member(path, name, data):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as zf:
        for member, content in members.items():
            zf.writestr(member, content)


# --------------------------------------------------------------------------- bad files


def truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def flip_a_weight_byte(path):
    """A bit flipped inside the stored weights (the zip header keeps the old CRC-32)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.weights.h5")
        with h5py.File(io.BytesIO(zf.read(info)), "r") as f:
            kernel = f["layers/dense/vars/0"]
            inside = kernel.id.get_offset() + kernel.id.get_storage_size() // 2
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + inside] ^= 1
    path.write_bytes(bytes(data))


def drop_weights_member(path):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "model.weights.h5"}
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def weights_of_a_wider_model(path):
    """The file of a model whose first Dense layer has 5 units instead of 4."""
    save(make_model(units=5, seed=3), path)


BAD_FILES = {
    # kind: (make it bad, file names it applies to, words of the message)
    "truncated": (truncated, ["m.keras", "w.h5", "m.h5"], "truncated"),
    "garbage": (garbage, ["m.keras", "w.weights.h5", "w.h5", "m.h5"], "corrupt"),
    "crc": (flip_a_weight_byte, ["m.keras"], "CRC-32"),
    "no weights member": (drop_weights_member, ["m.keras"], "no 'model.weights.h5' member"),
    "wrong shapes": (
        weights_of_a_wider_model,
        ["m.keras", "w.weights.h5", "w.h5", "m.h5"],
        "shape",
    ),
}
BAD_CASES = [(kind, name) for kind, (_, names, _) in BAD_FILES.items() for name in names]


@pytest.mark.parametrize("kind, name", BAD_CASES)
def test_failed_load_weights_leaves_every_weight_bit_identical(tmp_path, kind, name):
    spoil, _, words = BAD_FILES[kind]
    path = tmp_path / name
    save(make_model(seed=1), path)
    spoil(path)
    model = make_model(seed=2)
    before = state_bytes(model)
    with pytest.raises(ValueError, match=re.escape(words)):
        model.load_weights(path)
    assert state_bytes(model) == before


def test_truncated_full_model_h5_says_so(tmp_path):
    path = tmp_path / "m.h5"
    save(make_model(), path)
    truncated(path)
    with pytest.raises(ValueError, match="truncated or corrupt") as e:
        nk.models.load_model(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize(
    "config, words",
    [(b"{not json", "is not valid JSON"), (b"[1, 2]", "does not describe a model")],
    ids=["garbage", "not a model"],
)
def test_keras_file_with_a_bad_config_says_what_is_wrong(tmp_path, config, words):
    path = tmp_path / "m.keras"
    save(make_model(), path)
    replace_member(path, "config.json", config)
    with pytest.raises(ValueError, match=re.escape(words)) as e:
        nk.models.load_model(path)
    assert "config.json" in str(e.value) and str(path) in str(e.value)


def test_h5_file_with_a_garbage_model_config_says_so(tmp_path):
    path = tmp_path / "m.h5"
    save(make_model(), path)
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = "{not json"
    with pytest.raises(ValueError, match="`model_config` attribute of .* is not valid JSON"):
        nk.models.load_model(path)


def test_h5_file_naming_an_unknown_layer_class_says_how_to_register_it(tmp_path):
    path = tmp_path / "m.h5"
    save(make_model(), path)
    with h5py.File(path, "a") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "MyDense"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(TypeError, match="Could not locate class 'MyDense'") as e:
        nk.models.load_model(path)
    assert "register_keras_serializable" in str(e.value) and "custom_objects" in str(e.value)
    loaded = nk.models.load_model(path, custom_objects={"MyDense": L.Dense})
    assert isinstance(loaded.layers[0], L.Dense)


@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_full_model_file_whose_weights_do_not_fit_its_config(tmp_path, name):
    """The config of one model with the weights of another: names the weight and both shapes."""
    path = tmp_path / name
    save(make_model(units=4), path)
    other = tmp_path / f"other_{name}"
    save(make_model(units=5), other)
    if name == "m.keras":
        with zipfile.ZipFile(other) as zf:
            replace_member(path, "model.weights.h5", zf.read("model.weights.h5"))
        expected = r"variable.shape=\(6, 4\), Received: value.shape=\(6, 5\)"
    else:
        with h5py.File(path, "a") as f, h5py.File(other, "r") as g:
            del f["model_weights"]
            g.copy("model_weights", f)
        expected = r"Weight expects shape \(6, 4\)\. Received saved weight with shape \(6, 5\)"
    with pytest.raises(ValueError, match=expected):
        nk.models.load_model(path)


# --------------------------------------------------------------------------- faults while saving


def run_child(script, *args, **popen):
    """``script`` in a fresh Python, with numpykeras importable."""
    root = os.path.dirname(os.path.dirname(nk.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


CHILD_MODEL = """
import numpykeras as nk
nk.utils.set_random_seed(7)
model = nk.models.Sequential([nk.layers.Input((300,)), nk.layers.Dense(300), nk.layers.Dense(10)])
"""

SAVE_IN_A_LOOP = (
    CHILD_MODEL
    + """
import sys, time, zipfile, h5py

def slow(write, seconds):
    def wrapper(*args, **kwargs):
        time.sleep(seconds)  # a slow disk: the save spends its time writing the file
        return write(*args, **kwargs)
    return wrapper

h5py.Group.create_dataset = slow(h5py.Group.create_dataset, 0.01)
zipfile.ZipFile.writestr = slow(zipfile.ZipFile.writestr, 0.05)
path = sys.argv[1]
save = model.save if path.endswith((".keras", "m.h5")) else model.save_weights
save(path)
print("saved", flush=True)
while True:
    save(path)
"""
)


def expected_child_weights():
    clear_session()
    scope = {}
    exec(CHILD_MODEL, scope)
    return [w.numpy() for w in scope["model"].weights]


def load_weights_from(path):
    clear_session()
    scope = {}
    exec(CHILD_MODEL, scope)
    model = scope["model"]
    for w in model.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    model.load_weights(path)
    return [w.numpy() for w in model.weights]


@POSIX_ONLY
@pytest.mark.parametrize("name", ["m.keras", "w.weights.h5", "m.h5"])
def test_save_killed_mid_write_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path, name):
    path = tmp_path / name
    decoys = [tmp_path / "notes.txt", tmp_path / f".{name}.backup", tmp_path / f"{name}.tmp"]
    for decoy in decoys:
        decoy.write_text("not ours")
    expected = expected_child_weights()
    rng = random.Random(0)
    children = []
    for _ in range(4):
        child = run_child(SAVE_IN_A_LOOP, path)
        assert child.stdout.readline().strip() == "saved", child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        children.append(child.pid)
        # The target is always a complete file: the killed save never replaced it.
        for ours, theirs in zip(load_weights_from(path), expected):
            np.testing.assert_array_equal(ours, theirs)

    pattern = re.compile(rf"\.{re.escape(name)}\.numpykeras-tmp-(\d+)-\w+")
    leftovers = [p for p in tmp_path.iterdir() if pattern.fullmatch(p.name)]
    assert leftovers, "no save was killed while writing: the test did not test anything"
    assert {int(pattern.fullmatch(p.name).group(1)) for p in leftovers} <= set(children)

    # A leftover is removed once it is older than atomic.STALE_AFTER_SECONDS.
    stamp = time.time() - atomic.STALE_AFTER_SECONDS - 1
    for leftover in leftovers:
        os.utime(leftover, (stamp, stamp))
    clear_session()
    save(make_model(), path)
    assert not any(p.exists() for p in leftovers)
    assert all(decoy.read_text() == "not ours" for decoy in decoys)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name] + [d.name for d in decoys])


SAVE_PAST_THE_SIZE_LIMIT = (
    CHILD_MODEL
    + """
import errno, json, resource, signal, sys

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
path = sys.argv[1]
try:
    (model.save if path.endswith((".keras", "m.h5")) else model.save_weights)(path)
    print(json.dumps({"raised": None}))
except Exception as e:
    print(json.dumps({"raised": [c.__name__ for c in type(e).__mro__], "errno": e.errno,
                      "message": str(e)}))
"""
)


@POSIX_ONLY
@pytest.mark.parametrize("name", ["m.keras", "m.h5", "w.weights.h5", "w.h5"])
def test_save_past_the_file_size_limit_is_an_os_error_and_keeps_the_old_file(tmp_path, name):
    path = tmp_path / name
    save(make_model(), path)  # the old file, much smaller than the limit
    old = path.read_bytes()
    limit = 64 * 1024
    assert len(old) < limit  # the new file (the child's 360 KB model) is bigger
    child = run_child(SAVE_PAST_THE_SIZE_LIMIT, path, limit)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["raised"] is not None and "OSError" in result["raised"]
    assert result["errno"] == 27  # EFBIG
    message = result["message"]
    assert f"Could not save '{path}'" in message
    assert "file-size limit" in message and "File too large" in message
    assert f"The file previously at '{path}' is untouched" in message
    assert "Can't decrement id ref count" not in message
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == [name]
