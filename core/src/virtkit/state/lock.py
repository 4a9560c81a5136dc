"""An exclusive lock on a file, held across processes and threads, re-entrant in a thread."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from virtkit.errors import HostSystemError


class FileLock:
    """``fcntl.flock`` on a lock file (other processes) plus a ``threading.RLock`` (threads).

    :meth:`acquire` returns ``True`` for the outermost acquisition of the calling thread, the
    moment the process lock is taken. The lock file is opened anew at each outermost acquisition,
    so a forked child never shares its parent's lock.

    A ``removable`` lock guards something that can go away (a domain's jobs): its holder may
    :meth:`discard` the lock file, and its folder is made when missing. A process that waited
    on a discarded file finds, once it has the lock, that the file is no longer the one at its
    path, and locks the new one instead.
    """

    def __init__(self, lock_file: Path, *, removable: bool = False) -> None:
        self._lock_file = lock_file
        self._removable = removable
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._discarded = False

    def acquire(self) -> bool:
        self._take(blocking=True)
        return self._depth == 1

    def try_acquire(self) -> bool:
        """:meth:`acquire` if that needs no wait; whether the lock is held now."""
        return self._take(blocking=False)

    def _take(self, *, blocking: bool) -> bool:
        """Hold the lock, waiting for it when ``blocking``; whether it is held now."""
        if not self._thread_lock.acquire(blocking=blocking):
            return False
        if self._depth == 0:
            try:
                fd = self._lock(blocking=blocking)
            except BaseException:
                self._thread_lock.release()
                raise
            if fd is None:
                self._thread_lock.release()
                return False
            self._fd = fd
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            if self._discarded:
                self._remove_file()
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None
        self._thread_lock.release()

    def discard(self) -> None:
        """Delete the lock file when the calling thread, which holds the lock, releases its
        outermost hold (what it guarded is gone, so nothing is left behind for it)."""
        if not self._removable:
            raise ValueError(f"the lock {self._lock_file} is not removable")
        self._discarded = True

    def _lock(self, *, blocking: bool) -> int | None:
        """A descriptor of the lock file, flocked; ``None`` when not ``blocking`` and another
        holds it."""
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            if not self._removable or self._is_current(fd):
                return fd
            os.close(fd)  # its holder discarded it while this process waited: lock the new one

    def _open(self) -> int:
        try:
            return os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError as exc:
            if not self._removable:
                raise self._error(exc) from exc
        except OSError as exc:
            raise self._error(exc) from exc
        try:  # the folder of a removable lock is made again after what it guarded went away
            self._lock_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from exc
        return self._open()

    def _is_current(self, fd: int) -> bool:
        """Whether ``fd`` is the file now at the lock file's path."""
        try:
            found = os.stat(self._lock_file)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)

    def _remove_file(self) -> None:
        self._discarded = False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._lock_file)
        with _LOCKS_GUARD:
            if _LOCKS.get(self._lock_file) is self:
                del _LOCKS[self._lock_file]

    def _error(self, exc: OSError) -> HostSystemError:
        return HostSystemError(f"cannot open lock file {self._lock_file}: {exc.strerror or exc}")


_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def file_lock(lock_file: Path, *, removable: bool = False) -> FileLock:
    """The one :class:`FileLock` of this process on the resolved path ``lock_file``, shared
    by every user of that file so that two of them exclude each other's threads instead of
    deadlocking. Look it up at each use: a forked child gets fresh locks, and a discarded
    lock is forgotten."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(lock_file)
        if lock is None:
            lock = _LOCKS[lock_file] = FileLock(lock_file, removable=removable)
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
