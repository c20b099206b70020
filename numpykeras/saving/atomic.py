"""Atomic file writes: a file is either fully written or left exactly as it was.

Saving writes to a temporary file in the target's directory, flushes it to disk (``fsync``) and
renames it over the target with ``os.replace`` (atomic on POSIX and Windows). If anything fails
before the rename, the temporary file is removed and the previous file is untouched; a failed
write (disk full, file-size limit, ...) is reported as an ``OSError`` that says so.

The temporary file is named ``.<target name>.numpykeras-tmp-<pid>-<random>``. A save that is
killed (``SIGKILL``, power loss) before the rename leaves it behind, so every save first removes
the leftovers of earlier saves to the same target: files in the target's directory whose name
has exactly that form for that target name, whose writer process (``<pid>``) no longer exists on
this machine, and that nobody has written to for :data:`STALE_AFTER_SECONDS` (a writer in another
PID namespace or on another machine sharing the folder keeps its file fresh while it writes).
Nothing else is ever removed. Where a process's existence can't be checked (Windows), leftovers
are kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import time

# A temporary file unmodified for this long, whose writer process is gone, is a leftover.
STALE_AFTER_SECONDS = 60.0

_TMP_MARK = ".numpykeras-tmp-"

# Why a write failed, by errno, in the user's terms.
_WRITE_FAILURES = {
    errno.EFBIG: "the file would exceed the file-size limit of this process (`ulimit -f`)",
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", -1): "the disk quota is exceeded",
}


def _fsync_path(path: str) -> None:
    with open(path, "rb+") as f:
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(dirname: str) -> None:
    """Persist the rename itself (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (``True`` when it can't be told)."""
    if os.name != "posix" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists but belongs to another user
        return True
    return True


def remove_stale_temporaries(filepath) -> list:
    """Remove the temporary files that killed saves to ``filepath`` left behind.

    Only files named ``.<name of filepath>.numpykeras-tmp-<pid>-<random>`` in its directory,
    whose process ``<pid>`` is gone and that are unmodified for :data:`STALE_AFTER_SECONDS`, are
    removed (see the module notes). Errors are ignored: this is housekeeping.

    Returns:
        The paths removed.
    """
    filepath = os.path.abspath(os.fspath(filepath))
    dirname, base = os.path.split(filepath)
    pattern = re.compile(rf"\.{re.escape(base)}{re.escape(_TMP_MARK)}(\d+)-[a-z0-9_]+")
    try:
        names = os.listdir(dirname)
    except OSError:
        return []
    removed, now = [], time.time()
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(dirname, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if (
            not stat.S_ISREG(info.st_mode)
            or now - info.st_mtime < STALE_AFTER_SECONDS
            or _process_exists(int(match.group(1)))
        ):
            continue
        with contextlib.suppress(OSError):
            os.remove(path)
            removed.append(path)
    return removed


def _first_os_error(error):
    """The ``OSError`` behind ``error``: itself, or for a ``RuntimeError`` the first one in its
    chain (h5py reports a failed write as an ``OSError`` and then, closing the file, as a
    ``RuntimeError`` raised while handling it). ``None`` for any other error."""
    if not isinstance(error, (OSError, RuntimeError)):
        return None
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _write_failed(filepath, error, tmp, previous_exists) -> OSError:
    """The ``OSError`` reporting that writing ``filepath`` failed with ``error``."""
    code = error.errno
    why = _WRITE_FAILURES.get(code) or (os.strerror(code) if code else "an I/O error")
    detail = " ".join(str(error).split())
    if os.path.exists(tmp):
        left = f"The partial file '{tmp}' could not be removed; delete it."
    else:
        left = "No partial file was left."
    state = (
        f"The file previously at '{filepath}' is untouched."
        if previous_exists
        else f"No file was created at '{filepath}'."
    )
    message = (
        f"Could not save '{filepath}': writing the file failed: {why} ({detail}). {state} {left}"
    )
    return OSError(code, message) if code else OSError(message)


@contextlib.contextmanager
def atomic_write(filepath):
    """Context manager yielding a temporary path to write; on success it replaces ``filepath``.

    Example:
        ```python
        with atomic_write("model.keras") as tmp:
            write_everything_to(tmp)
        ```

    On any exception inside the block the temporary file is deleted, ``filepath`` keeps its old
    content (or stays absent) and the exception propagates; an I/O failure (disk full, file-size
    limit, ...) propagates as an ``OSError`` saying so. Leftover temporary files of killed saves
    to ``filepath`` are removed first (see the module notes).

    Raises:
        FileNotFoundError: the directory of ``filepath`` does not exist.
        IsADirectoryError: ``filepath`` is a directory.
        OSError: the file could not be written.
    """
    filepath = os.fspath(filepath)
    dirname = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(dirname):
        raise FileNotFoundError(
            f"Cannot save to '{filepath}': the directory '{dirname}' does not exist."
        )
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"Cannot save to '{filepath}': it is a directory.")
    remove_stale_temporaries(filepath)
    previous_exists = os.path.exists(filepath)
    prefix = f".{os.path.basename(filepath)}{_TMP_MARK}{os.getpid()}-"
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=dirname)
    except OSError as e:
        raise type(e)(
            e.errno, f"Could not save '{filepath}': cannot create a file in '{dirname}' ({e})."
        ) from None
    os.close(fd)
    try:
        # Give the new file the permissions a plain open() would (mkstemp makes it 0600), or
        # those of the file it replaces.
        mode = os.stat(filepath).st_mode & 0o777 if previous_exists else _default_mode()
        os.chmod(tmp, mode)
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, filepath)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        cause = _first_os_error(e)
        if cause is None:
            raise
        raise _write_failed(filepath, cause, tmp, previous_exists) from None
    _fsync_dir(dirname)


def ask_to_proceed_with_overwrite(filepath) -> bool:
    """Ask on the terminal whether to overwrite ``filepath`` (Keras's prompt and answers)."""
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def may_write(filepath, overwrite) -> bool:
    """Keras's ``overwrite=False`` rule: ask before replacing an existing file."""
    if not overwrite and os.path.exists(filepath):
        return ask_to_proceed_with_overwrite(filepath)
    return True
