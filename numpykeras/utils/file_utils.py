"""``get_file``: Keras's download cache (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).

Files land exactly where ``keras.utils.get_file`` puts them, so a cache filled by Keras is used
as-is and the other way round. Downloads are atomic: the data is streamed into a hidden temporary
file next to the target, checked against the expected hash, and only then renamed into place;
archives are extracted into a temporary folder that is renamed into place the same way.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from numpykeras.utils.progbar import Progbar, print_msg

__all__ = [
    "DataNotAvailableError",
    "extract_archive",
    "get_file",
    "hash_file",
    "keras_home",
    "validate_file",
]

_CHUNK_SIZE = 1 << 16
_DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is abandoned


class DataNotAvailableError(FileNotFoundError, ConnectionError):
    """A file is neither in the cache nor downloadable (offline, or the server refused).

    It is both a ``FileNotFoundError`` (the file is missing) and a ``ConnectionError`` (it could
    not be fetched), so either ``except`` clause catches it. The message names the URL and the
    exact path where a manually downloaded copy should be put.

    Attributes:
        url: the address that could not be fetched.
        reason: why, in one line (the network error).
        path: where a copy of the file would be found (``None`` until known).
    """

    def __init__(self, message, url=None, reason=None, path=None):
        super().__init__(message)
        self.url, self.reason, self.path = url, reason, path


def keras_home() -> str:
    """The Keras cache root: ``$KERAS_HOME`` if set, else ``~/.keras`` (``/tmp/.keras`` if the
    home folder is not writable), read at call time."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _fallback_base() -> str:
    return os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")


def _is_writable_dir(path) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK)


# --------------------------------------------------------------------------- hashes


def _resolve_hasher(algorithm, file_hash=None):
    """sha256 for ``"sha256"`` or an ``"auto"`` 64-character hash; md5 otherwise (legacy)."""
    if algorithm == "sha256" or (
        algorithm == "auto" and file_hash is not None and len(file_hash) == 64
    ):
        return hashlib.sha256()
    if algorithm not in ("auto", "md5"):
        raise ValueError(
            f"Unknown `hash_algorithm`: {algorithm}. Expected one of 'auto', 'sha256', 'md5'."
        )
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK_SIZE) -> str:
    """The hex digest of a file's content (``"sha256"``, ``"md5"``, or a hashlib object)."""
    hasher = _resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK_SIZE) -> bool:
    """Whether the file's sha256 (or md5) digest equals ``file_hash``."""
    hasher = _resolve_hasher(algorithm, file_hash)
    return hash_file(fpath, hasher, chunk_size) == str(file_hash)


# --------------------------------------------------------------------------- archives


def _inside(root, member_name) -> bool:
    root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, member_name))
    return os.path.commonpath([root, target]) == root


def _extract_open_archive(archive, path) -> None:
    """Extract only members that stay inside ``path`` (no absolute paths, ``..``, or links)."""
    if isinstance(archive, zipfile.ZipFile):
        members = [m for m in archive.infolist() if _inside(path, m.filename)]
        archive.extractall(path, members=members)
        return
    members = [
        m for m in archive.getmembers() if (m.isfile() or m.isdir()) and _inside(path, m.name)
    ]
    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
        archive.extractall(path, members=members, filter="data")
    else:  # pragma: no cover - older patch releases
        archive.extractall(path, members=members)


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Extract a tar (``.tar``, ``.tar.gz``, ``.tar.bz2``) or zip archive into ``path``.

    Args:
        file_path: the archive.
        path: the folder to extract into.
        archive_format: ``"auto"`` (tar then zip), ``"tar"``, ``"zip"``, a list of those, or
            ``None`` (extract nothing).

    Returns:
        Whether the file matched one of the formats and was extracted.
    """
    if archive_format is None:
        return False
    if archive_format == "auto":
        archive_format = ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    file_path, path = os.fspath(file_path), os.fspath(path)
    for kind in archive_format:
        if kind == "tar":
            is_match, opener = tarfile.is_tarfile, tarfile.open
        elif kind == "zip":
            is_match, opener = zipfile.is_zipfile, zipfile.ZipFile
        else:
            raise ValueError(
                f"Unknown archive format: {kind}. Expected 'tar', 'zip', 'auto' or None."
            )
        if is_match(file_path):
            with opener(file_path) as archive:
                _extract_open_archive(archive, path)
            return True
    return False


def _extract_atomically(archive_path, extraction_dir, archive_format="auto") -> bool:
    """Extract into a temporary sibling folder, then swap it in place of ``extraction_dir``."""
    parent = os.path.dirname(extraction_dir) or "."
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(extraction_dir)}.", dir=parent)
    try:
        if not extract_archive(archive_path, tmp_dir, archive_format):
            return False
        if os.path.isdir(extraction_dir):
            shutil.rmtree(extraction_dir)
        elif os.path.exists(extraction_dir):
            os.remove(extraction_dir)
        os.replace(tmp_dir, extraction_dir)
        return True
    finally:
        if os.path.isdir(tmp_dir):
            shutil.rmtree(tmp_dir, ignore_errors=True)


# --------------------------------------------------------------------------- download


def _open_url(origin):
    """Open ``origin`` for reading (the one place that touches the network)."""
    request = urllib.request.Request(origin, headers={"User-Agent": "numpykeras"})
    return urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT)


def _download(origin, target, file_hash=None, hash_algorithm="auto") -> None:
    """Stream ``origin`` into ``target`` atomically, checking ``file_hash`` before the rename.

    Raises:
        DataNotAvailableError: if the server cannot be reached or answers with an error.
        ValueError: if the downloaded content does not match ``file_hash``.
    """
    print_msg(f"Downloading data from {origin}")
    fd, tmp_path = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.",
        suffix=".part",
        dir=os.path.dirname(target),
    )
    try:
        with os.fdopen(fd, "wb") as out:
            reason = None
            try:
                _copy_response(origin, out)
            except urllib.error.HTTPError as e:
                reason = f"HTTP error {e.code}: {e.reason}"
            except urllib.error.URLError as e:
                reason = str(e.reason)
            except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
                reason = str(e) or type(e).__name__
            if reason is not None:
                # One line, no chained traceback: the network stack's own is of no use here.
                raise DataNotAvailableError(
                    f"URL fetch failure on {origin}: {reason}", url=origin, reason=reason
                ) from None
        if file_hash is not None and not validate_file(tmp_path, file_hash, hash_algorithm):
            algorithm = _resolve_hasher(hash_algorithm, file_hash).name
            raise ValueError(
                f"Incomplete or corrupted file detected. The {algorithm} file hash does not "
                f"match the provided value of {file_hash}. Downloaded from: {origin}"
            )
        os.replace(tmp_path, target)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def _copy_response(origin, out) -> None:
    """Copy the body at ``origin`` into the open binary file ``out``, with a byte progress bar."""
    with _open_url(origin) as response:
        headers = getattr(response, "headers", None)
        total = headers.get("Content-Length") if headers is not None else None
        progbar = Progbar(int(total) if total else None)
        done = 0
        for chunk in iter(lambda: response.read(_CHUNK_SIZE), b""):
            out.write(chunk)
            done += len(chunk)
            progbar.update(done, finalize=False)
        progbar.update(done, finalize=True)


def cache_roots(cache_dir=None) -> list:
    """The cache roots to look in, the last one being where new downloads go.

    The first root is ``cache_dir`` (``keras_home()`` by default); if it is not writable, Keras's
    fallback ``/tmp/.keras`` follows it (a read-only cache is still read).
    """
    base = os.path.expanduser(keras_home() if cache_dir is None else cache_dir)
    return [base] if _is_writable_dir(base) else [base, _fallback_base()]


def _cache_locations(fname, cache_subdir, cache_dir, extract, provided_fname):
    """``(download_target, extraction_dir or None)`` for each root of :func:`cache_roots`."""
    locations = []
    for root in cache_roots(cache_dir):
        datadir = os.path.join(root, cache_subdir)
        if extract:
            if provided_fname and "." in fname:
                download_target = os.path.join(datadir, fname)
                extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
            else:
                download_target = os.path.join(datadir, f"{fname}_archive")
                extraction_dir = os.path.join(datadir, fname)
            locations.append((download_target, extraction_dir))
        else:
            locations.append((os.path.join(datadir, fname), None))
    return locations


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Download a file from a URL unless it is already in the cache, and return its path.

    The file ``example.txt`` ends up at ``~/.keras/datasets/example.txt`` (``cache_dir`` defaults
    to ``$KERAS_HOME`` or ``~/.keras``). With ``extract=True`` the archive is stored as
    ``<fname>_archive`` and extracted into the folder ``<fname>``, which is returned (if ``fname``
    has an extension: stored as ``fname``, extracted into ``<stem>_extracted``), as Keras 3 does.

    Args:
        fname: local file name; ``None`` means the last part of ``origin``'s path. Must not
            contain a path separator.
        origin: the URL.
        untar: deprecated alias of ``extract=True`` for tar archives.
        md5_hash: deprecated; an md5 ``file_hash``.
        file_hash: expected sha256 (or md5) hex digest; a cached file that does not match is
            downloaded again, and a download that does not match raises ``ValueError``.
        cache_subdir: sub-folder of the cache root (an absolute path is used as-is).
        hash_algorithm: ``"auto"``, ``"sha256"`` or ``"md5"``.
        extract: whether to extract the (tar or zip) archive.
        archive_format: ``"auto"``, ``"tar"``, ``"zip"`` or ``None``.
        cache_dir: the cache root; ``None`` means :func:`keras_home`.
        force_download: download even when a cached copy exists.

    Returns:
        The path of the file, or of the extraction folder.

    Raises:
        DataNotAvailableError: the file is not cached and cannot be downloaded. The message says
            where to put a copy obtained by other means.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if cache_dir is None:
        cache_dir = keras_home()
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"

    provided_fname = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"Can't parse the file name from the origin provided: '{origin}'. "
                "Please specify the `fname` argument."
            )
    elif os.sep in fname:
        raise ValueError(
            "Paths are no longer accepted as the `fname` argument. To specify the file's "
            f"parent directory, use the `cache_dir` argument. Received: fname={fname}"
        )
    extract = bool(extract or untar)
    if untar:
        archive_format = "tar"

    locations = _cache_locations(fname, cache_subdir, cache_dir, extract, provided_fname)

    if not force_download:
        for download_target, extraction_dir in locations:
            if extract and os.path.isdir(extraction_dir) and os.listdir(extraction_dir):
                return extraction_dir  # already extracted (Keras would extract again)
            if os.path.exists(download_target):
                if file_hash is not None and not validate_file(
                    download_target, file_hash, hash_algorithm
                ):
                    print_msg(
                        "A local file was found, but it seems to be incomplete or outdated "
                        f"because the {hash_algorithm} file hash does not match the original "
                        f"value of {file_hash} so we will re-download the data."
                    )
                    break
                if extract:
                    _extract_or_warn(download_target, extraction_dir, archive_format)
                    return extraction_dir
                return download_target

    download_target, extraction_dir = locations[-1]
    os.makedirs(os.path.dirname(download_target), exist_ok=True)
    try:
        _download(origin, download_target, file_hash, hash_algorithm)
    except DataNotAvailableError as e:
        raise DataNotAvailableError(
            f"The file {fname} is not in the cache and could not be downloaded ({e.reason}). "
            f"On a machine with internet access, download {origin} and save it as "
            f"{download_target}",
            url=origin,
            reason=e.reason,
            path=download_target,
        ) from None
    if extract:
        _extract_or_warn(download_target, extraction_dir, archive_format)
        return extraction_dir
    return download_target


def _extract_or_warn(archive_path, extraction_dir, archive_format) -> None:
    if not _extract_atomically(archive_path, extraction_dir, archive_format):
        warnings.warn(f"Could not extract archive {archive_path}.", stacklevel=3)
