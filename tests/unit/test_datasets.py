"""Unit tests for numpykeras.datasets and utils.get_file, on tiny files in the real formats.

Every test runs with a temporary ``KERAS_HOME`` and a downloader that refuses the network.
"""

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest

from numpykeras.datasets import (
    DataNotAvailableError,
    _common,
    cifar10,
    cifar100,
    fashion_mnist,
    mnist,
)
from numpykeras.utils import file_utils, get_file


class NetworkUsed(Exception):
    pass


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    def offline(origin):
        raise urllib.error.URLError(f"offline test: refused {origin}")

    monkeypatch.setattr(file_utils, "_open_url", offline)
    return home


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


class FakeResponse(io.BytesIO):
    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


# --------------------------------------------------------------------------- writers


def _py2_style_pickle(obj):
    """Pickle ``obj`` as Python 2 wrote the CIFAR batches: protocol 2, bytes as BINSTRING, and
    arrays rebuilt by ``numpy.core.multiarray._reconstruct``."""

    class Py2Pickler(pickle._Pickler):
        dispatch = dict(pickle._Pickler.dispatch)

        def save_bytes(self, obj):
            n = len(obj)
            if n < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
            else:
                self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
            self.memoize(obj)

        dispatch[bytes] = save_bytes

    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def _cifar_batch(rng, n, label_keys):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    batch = {b"batch_label": b"testing batch", b"data": data}
    labels = {}
    for key, high in label_keys.items():
        labels[key] = [int(v) for v in rng.integers(0, high, size=n)]
        batch[key.encode()] = labels[key]
    return batch, data, labels


def _write_cifar10(folder, rng, n=4):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch, data, labels = _cifar_batch(rng, n, {"labels": 10})
        (folder / name).write_bytes(_py2_style_pickle(batch))
        written[name] = (data, labels["labels"])
    return written


def _write_cifar100(folder, rng, n=5):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in ("train", "test"):
        batch, data, labels = _cifar_batch(rng, n, {"fine_labels": 100, "coarse_labels": 20})
        (folder / name).write_bytes(_py2_style_pickle(batch))
        written[name] = (data, labels)
    return written


def _tar_folder(src_parent, folder_name, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src_parent / folder_name, arcname=folder_name)


def _expected_images(data):
    """Plain-loop reference: row layout is 1024 red, 1024 green, 1024 blue values, row-major."""
    n = data.shape[0]
    out = np.zeros((n, 32, 32, 3), np.uint8)
    for k in range(n):
        for c in range(3):
            for i in range(32):
                out[k, i, :, c] = data[k, c * 1024 + i * 32 : c * 1024 + i * 32 + 32]
    return out


def _check_cifar10(result, written):
    (x_train, y_train), (x_test, y_test) = result
    n = written["test_batch"][0].shape[0]
    assert x_train.shape == (5 * n, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (5 * n, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (n, 32, 32, 3) and x_test.dtype == np.uint8
    assert y_test.shape == (n, 1) and y_test.dtype == np.uint8
    train_data = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_labels = sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    np.testing.assert_array_equal(x_train, _expected_images(train_data))
    np.testing.assert_array_equal(y_train[:, 0], train_labels)
    np.testing.assert_array_equal(x_test, _expected_images(written["test_batch"][0]))
    np.testing.assert_array_equal(y_test[:, 0], written["test_batch"][1])


# --------------------------------------------------------------------------- MNIST


def _write_mnist(path, rng):
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6).astype(np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3).astype(np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def test_mnist_reads_keras_cache(keras_home, monkeypatch):
    path = keras_home / "datasets" / "mnist.npz"
    arrays = _write_mnist(path, np.random.default_rng(0))
    monkeypatch.setattr(mnist, "FILE_HASH", _sha256(path))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    for name, value in [("x_train", x_train), ("y_train", y_train), ("x_test", x_test)]:
        assert value.dtype == np.uint8
        np.testing.assert_array_equal(value, arrays[name])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_mnist_offline_error_names_file_and_place(keras_home):
    with pytest.raises(DataNotAvailableError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ConnectionError)
    assert mnist.ORIGIN in message
    assert f"save it as {keras_home / 'datasets' / 'mnist.npz'}" in message
    assert "offline test" in message
    assert not (keras_home / "datasets" / "mnist.npz").exists()


def test_mnist_corrupted_cache_is_downloaded_again(keras_home, monkeypatch):
    path = keras_home / "datasets" / "mnist.npz"
    _write_mnist(path, np.random.default_rng(0))  # its hash is not Keras's: re-download
    with pytest.raises(DataNotAvailableError):
        mnist.load_data()


def test_mnist_download_is_atomic_and_hash_checked(keras_home, monkeypatch, tmp_path):
    source = tmp_path / "server_mnist.npz"
    arrays = _write_mnist(source, np.random.default_rng(1))
    payload = source.read_bytes()
    monkeypatch.setattr(file_utils, "_open_url", lambda origin: FakeResponse(payload))
    monkeypatch.setattr(mnist, "FILE_HASH", _sha256(source))
    (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    datadir = keras_home / "datasets"
    assert sorted(os.listdir(datadir)) == ["mnist.npz"]  # no temporary file left

    os.remove(datadir / "mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", "0" * 64)
    with pytest.raises(ValueError, match="Incomplete or corrupted file detected"):
        mnist.load_data()
    assert os.listdir(datadir) == []  # the bad download was not renamed into place


# --------------------------------------------------------------------------- Fashion-MNIST


def _write_idx(path, magic, dims, payload):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + payload.tobytes())


def test_fashion_mnist_reads_idx_files(keras_home):
    rng = np.random.default_rng(2)
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    data = {}
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        _write_idx(folder / f"{split}-images-idx3-ubyte.gz", 2051, (n, 28, 28), images)
        _write_idx(folder / f"{split}-labels-idx1-ubyte.gz", 2049, (n,), labels)
        data[split] = (images, labels)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (5, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (5,) and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, data["train"][0])
    np.testing.assert_array_equal(y_train, data["train"][1])
    np.testing.assert_array_equal(x_test, data["t10k"][0])
    np.testing.assert_array_equal(y_test, data["t10k"][1])


def test_fashion_mnist_offline_error_names_folder(keras_home):
    with pytest.raises(DataNotAvailableError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message
    assert str(keras_home / "datasets" / "fashion-mnist") in message


def test_fashion_mnist_rejects_wrong_magic(keras_home):
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in fashion_mnist.FILES:
        _write_idx(folder / name, 1234, (1,), np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="expected magic number 2049"):
        fashion_mnist.load_data()


# --------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize(
    "layout", ["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"]
)
def test_cifar10_reads_keras3_and_keras2_caches(keras_home, layout):
    written = _write_cifar10(keras_home / "datasets" / layout, np.random.default_rng(3))
    _check_cifar10(cifar10.load_data(), written)


def test_cifar10_extracts_user_placed_archive(keras_home, tmp_path, monkeypatch):
    written = _write_cifar10(tmp_path / "src" / "cifar-10-batches-py", np.random.default_rng(4))
    archive = keras_home / "datasets" / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True)
    _tar_folder(tmp_path / "src", "cifar-10-batches-py", archive)
    monkeypatch.setattr(cifar10, "FILE_HASH", _sha256(archive))
    _check_cifar10(cifar10.load_data(), written)
    # extracted into Keras 3's layout, which the next call reads directly
    assert (keras_home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py").is_dir()
    os.remove(archive)
    _check_cifar10(cifar10.load_data(), written)


def test_cifar10_download_goes_to_keras3_layout(keras_home, tmp_path, monkeypatch):
    written = _write_cifar10(tmp_path / "src" / "cifar-10-batches-py", np.random.default_rng(5))
    archive = tmp_path / "served.tar.gz"
    _tar_folder(tmp_path / "src", "cifar-10-batches-py", archive)
    payload = archive.read_bytes()
    monkeypatch.setattr(file_utils, "_open_url", lambda origin: FakeResponse(payload))
    monkeypatch.setattr(cifar10, "FILE_HASH", _sha256(archive))
    _check_cifar10(cifar10.load_data(), written)
    datadir = keras_home / "datasets"
    assert sorted(os.listdir(datadir)) == [
        "cifar-10-batches-py-target",
        "cifar-10-batches-py-target_archive",
    ]


def test_cifar10_offline_error_and_rejected_archive(keras_home):
    with pytest.raises(DataNotAvailableError) as info:
        cifar10.load_data()
    message = str(info.value)
    assert cifar10.ORIGIN in message and "cifar-10-python.tar.gz" in message
    assert str(keras_home / "datasets") in message

    bad = keras_home / "datasets" / "cifar-10-python.tar.gz"
    bad.write_bytes(b"truncated")
    with pytest.raises(DataNotAvailableError, match="sha256 does not match"):
        cifar10.load_data()


@pytest.mark.parametrize("label_mode, high", [("fine", 100), ("coarse", 20)])
def test_cifar100_labels(keras_home, label_mode, high):
    folder = keras_home / "datasets" / "cifar-100-python-target" / "cifar-100-python"
    written = _write_cifar100(folder, np.random.default_rng(6))
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode=label_mode)
    assert x_train.shape == (5, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (5, 1) and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_test, _expected_images(written["test"][0]))
    np.testing.assert_array_equal(y_train[:, 0], written["train"][1][f"{label_mode}_labels"])
    np.testing.assert_array_equal(y_test[:, 0], written["test"][1][f"{label_mode}_labels"])
    assert y_train.max() < high


def test_cifar100_rejects_label_mode():
    with pytest.raises(ValueError, match='`label_mode` must be one of `"fine"`, `"coarse"`'):
        cifar100.load_data(label_mode="medium")


def test_cifar_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to deserialize"):
        _common.load_cifar_batch(path)


# --------------------------------------------------------------------------- get_file


def test_get_file_argument_errors():
    with pytest.raises(ValueError, match='Please specify the "origin" argument'):
        get_file("x.txt")
    with pytest.raises(ValueError, match="Paths are no longer accepted"):
        get_file(os.path.join("a", "b.txt"), origin="http://example.invalid/b.txt")


def test_get_file_extracts_zip_safely(keras_home, tmp_path, monkeypatch):
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("bundle/a.txt", "hello")
        z.writestr("../escape.txt", "nope")
    payload = archive.read_bytes()
    monkeypatch.setattr(file_utils, "_open_url", lambda origin: FakeResponse(payload))
    path = get_file("bundle", origin="http://example.invalid/bundle.zip", extract=True)
    assert path == str(keras_home / "datasets" / "bundle")
    assert open(os.path.join(path, "bundle", "a.txt")).read() == "hello"
    assert not (keras_home / "datasets" / "escape.txt").exists()
    assert not (keras_home / "escape.txt").exists()


def test_get_file_default_cache_is_home_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    cached = tmp_path / "home" / ".keras" / "datasets" / "notes.txt"
    cached.parent.mkdir(parents=True)
    cached.write_text("cached")
    assert get_file("notes.txt", origin="http://example.invalid/notes.txt") == str(cached)


def test_get_file_md5_hash_of_cached_file(keras_home):
    cached = keras_home / "datasets" / "f.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"abc")
    md5 = hashlib.md5(b"abc").hexdigest()
    assert get_file("f.bin", origin="http://example.invalid/f.bin", md5_hash=md5) == str(cached)


# --------------------------------------------------------------------------- offline errors


def _refuse_like_a_resolver(origin):
    """What urlopen raises offline: a URLError raised while handling the socket error."""
    try:
        raise socket.gaierror(-3, "Temporary failure in name resolution")
    except OSError as e:
        raise urllib.error.URLError(e) from None


@pytest.mark.parametrize(
    "load, url, saved_as",
    [
        (mnist.load_data, mnist.ORIGIN, "mnist.npz"),
        (cifar10.load_data, cifar10.ORIGIN, "cifar-10-python.tar.gz"),
        (cifar100.load_data, cifar100.ORIGIN, "cifar-100-python.tar.gz"),
        (
            fashion_mnist.load_data,
            fashion_mnist.ORIGIN_BASE + fashion_mnist.FILES[0],
            os.path.join("fashion-mnist", fashion_mnist.FILES[0]),
        ),
        (
            lambda: get_file("notes.txt", origin="http://example.invalid/notes.txt"),
            "http://example.invalid/notes.txt",
            "notes.txt",
        ),
    ],
)
def test_offline_error_is_one_short_message(keras_home, monkeypatch, load, url, saved_as):
    monkeypatch.setattr(file_utils, "_open_url", _refuse_like_a_resolver)
    with pytest.raises(DataNotAvailableError) as info:
        load()
    error = info.value
    message = str(error)
    # No chained tracebacks ("During handling of the above exception ..."): one message.
    assert error.__cause__ is None and error.__suppress_context__
    assert "\n" not in message
    path = str(keras_home / "datasets" / saved_as)
    assert f"download {url} and save it as {path}" in message
    assert "Temporary failure in name resolution" in message
    assert (error.url, error.path) == (url, path)
