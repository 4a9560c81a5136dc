"""Noticing containers that stop on their own (init exits, crashes, is halted from inside), so
the connection can report the lifecycle event: one thread per connection waits on the
supervisors' pidfds (a supervisor exits exactly when its container has stopped)."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

ExitCallback = Callable[[str, int], None]
"""``callback(domain name, supervisor pid)``, called from the watcher thread."""


class SupervisorWatcher:
    """Calls ``on_exit`` once for each watched supervisor when it exits."""

    def __init__(self, on_exit: ExitCallback) -> None:
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[str, int]] = {}  # pidfd -> (name, pid)
        self._pids: set[int] = set()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, name: str, pid: int) -> None:
        with self._lock:
            if self._closed or pid in self._pids:
                return
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                return
            os.set_inheritable(fd, False)
            self._watched[fd] = (name, pid)
            self._pids.add(pid)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="virtkit-lxc-watch", daemon=True
                )
                self._thread.start()
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"w")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"q")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self._lock:
            for fd in self._watched:
                os.close(fd)
            self._watched.clear()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                fds = list(self._watched)
            ready = select.select([self._wake_r, *fds], [], [])[0]
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            for fd in ready:
                if fd == self._wake_r:
                    continue
                with self._lock:
                    name, pid = self._watched.pop(fd)
                    self._pids.discard(pid)
                    os.close(fd)
                try:
                    self._on_exit(name, pid)
                except Exception:
                    log.exception("handling the end of container %s failed", name)
