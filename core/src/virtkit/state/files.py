"""File-system primitives: write a new file (fsynced if durable), fsync a folder, report errors."""

from __future__ import annotations

import os
from pathlib import Path

from virtkit.errors import HostSystemError

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def write_new_file(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    """Create ``path`` (it must not exist), write ``data`` and, when ``durable``, fsync it.
    On failure the file is gone again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)


def fsync_folder(path: str | Path) -> None:
    """Make renames and unlinks in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folders(path: str | Path) -> None:
    """``mkdir -p`` with mode 0700 for the folders created, each made durable in its parent."""
    folder = os.fspath(path)
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
            continue
        fsync_folder(os.path.dirname(folder))


def system_error(action: str, exc: OSError) -> HostSystemError:
    """An :class:`HostSystemError` saying what failed, on which file, and why."""
    where = f" {exc.filename}" if exc.filename else ""
    return HostSystemError(f"cannot {action}{where}: {exc.strerror or exc}")
