"""An exclusive lock on a folder, held across processes and threads, re-entrant in a thread."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from virtkit.errors import HostSystemError


class FolderLock:
    """``fcntl.flock`` on a lock file (other processes) plus a ``threading.RLock`` (threads).

    :meth:`acquire` returns ``True`` for the outermost acquisition of the calling thread, the
    moment the process lock is taken. The lock file is opened anew at each outermost acquisition,
    so a forked child never shares its parent's lock.
    """

    def __init__(self, lock_file: Path) -> None:
        self._lock_file = lock_file
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self) -> bool:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                self._thread_lock.release()
                raise HostSystemError(
                    f"cannot open lock file {self._lock_file}: {exc.strerror}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                self._thread_lock.release()
                raise
            self._fd = fd
        self._depth += 1
        return self._depth == 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None
        self._thread_lock.release()


_LOCKS: dict[Path, FolderLock] = {}
_LOCKS_GUARD = threading.Lock()


def folder_lock(folder: Path) -> FolderLock:
    """The one :class:`FolderLock` of this process for the resolved path ``folder``, shared by
    every store on it so that two stores on one folder exclude each other's threads instead of
    deadlocking. Look it up at each use: a forked child gets fresh locks."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(folder)
        if lock is None:
            lock = _LOCKS[folder] = FolderLock(folder / ".lock")
        return lock


def _forget_locks_in_child() -> None:
    # A forked child inherits lock objects possibly held by threads that do not exist in it,
    # and copies of the descriptors holding the parent's flocks: a flock lasts until every copy
    # is closed, so keeping them would make the parent's locks outlive its release.
    global _LOCKS_GUARD
    for lock in _LOCKS.values():
        if lock._fd is not None:
            os.close(lock._fd)
    _LOCKS.clear()
    _LOCKS_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_forget_locks_in_child)
