"""Atomic file writes: a file is either fully written or left exactly as it was.

Saving writes to a temporary file in the target's directory, flushes it to disk (``fsync``) and
renames it over the target with ``os.replace`` (atomic on POSIX and Windows). If anything fails
before the rename, the temporary file is removed and the previous file is untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


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


@contextlib.contextmanager
def atomic_write(filepath):
    """Context manager yielding a temporary path to write; on success it replaces ``filepath``.

    Example:
        ```python
        with atomic_write("model.keras") as tmp:
            write_everything_to(tmp)
        ```

    On any exception inside the block the temporary file is deleted, ``filepath`` keeps its old
    content (or stays absent) and the exception propagates.
    """
    filepath = os.fspath(filepath)
    dirname = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(dirname):
        raise FileNotFoundError(
            f"Cannot save to '{filepath}': the directory '{dirname}' does not exist."
        )
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"Cannot save to '{filepath}': it is a directory.")
    fd, tmp = tempfile.mkstemp(
        prefix="." + os.path.basename(filepath) + ".", suffix=".tmp", dir=dirname
    )
    os.close(fd)
    try:
        # Give the new file the permissions a plain open() would (mkstemp makes it 0600), or
        # those of the file it replaces.
        mode = os.stat(filepath).st_mode & 0o777 if os.path.exists(filepath) else _default_mode()
        os.chmod(tmp, mode)
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
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
