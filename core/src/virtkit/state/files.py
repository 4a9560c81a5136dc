"""File-system primitives: read a file, write a new file (fsynced if durable, or its
write-back started to be waited for later), replace a file by swapping, fsync a folder,
report errors."""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

from virtkit.errors import HostSystemError

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def write_new_file(
    path: str | Path, data: bytes, *, durable: bool = True, wait: bool = True
) -> None:
    """Create ``path`` (it must not exist), write ``data`` and, when ``durable``, fsync it; with
    ``wait=False``, only start writing it out, for :func:`sync_file` to wait on later (the
    caller works meanwhile). On failure the file is gone again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            if wait:
                os.fsync(fd)
            else:
                _start_writeback(fd)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)


def read_file(path: str | Path) -> bytes:
    """The file's bytes, read with two system calls for a small file (``open()`` and its
    buffered text layer cost twice as long for the few hundred bytes of a status file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def sync_file(path: str | Path) -> None:
    """fsync the file at ``path`` (its content, written earlier, is on disk when this returns)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@cache
def _libc_function(name: str, *argtypes: Any) -> Any:
    """The C library's function ``name`` taking ``argtypes`` and returning an ``int``; ``None``
    where the library has none."""
    function = getattr(ctypes.CDLL(None, use_errno=True), name, None)
    if function is not None:
        function.argtypes = argtypes
        function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>


def _start_writeback(fd: int) -> None:
    """Start writing the file's dirty pages to disk without waiting (``sync_file_range``): a
    later fsync then waits only for what is left, mostly the file system's journal. A hint:
    where the call is missing or fails, the fsync does all the work."""
    function = _libc_function(
        "sync_file_range", ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint
    )
    if function is not None:
        function(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # <linux/fs.h>


def replace_by_exchange(source: str, target: str) -> bool:
    """Put ``source`` in the place of the existing ``target`` as ``os.replace`` does, by
    swapping the two atomically (``renameat2`` with ``RENAME_EXCHANGE``) and then unlinking
    ``source``, which holds the old content; ``False``, with nothing changed, where ``target``
    is missing or a folder, or there is no such call (libc, kernel or file system).

    On ext4, a rename over an existing file makes the new file's data be allocated and written
    out at once (``auto_da_alloc``), which costs about 80 µs; a swap leaves it to write-back.
    The new content is then not protected against power loss, so this is for non-durable
    state only. A crash before the unlink leaves the old content under ``source``."""
    path = ctypes.c_char_p
    renameat2 = _libc_function("renameat2", ctypes.c_int, path, ctypes.c_int, path, ctypes.c_uint)
    if renameat2 is None:
        return False
    try:
        if stat.S_ISDIR(os.lstat(target).st_mode):
            return False  # a folder is never swapped out: os.replace refuses it
    except FileNotFoundError:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE):
        return False
    with contextlib.suppress(OSError):  # a leftover is harmless: see the caller
        os.unlink(source)
    return True


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
