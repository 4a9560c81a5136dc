"""A Xen guest's text console on this machine: ``xl console`` runs on the dom0 (through
``ssh -t`` for ``xen+ssh://``) on a local pseudo-terminal, and a thread relays that terminal
to a unix socket, which is what ``virtkit console`` connects to (as it does to QEMU's)."""

from __future__ import annotations

import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty
from pathlib import Path

CONNECT_TIMEOUT = 60.0
"""Seconds the socket waits for its one client before it is taken away."""


class ConsoleRelay:
    """One client's way to one console: a listening socket that accepts a single connection
    and relays it to ``argv`` (``xl console`` or an ``ssh -t`` running it) until either side
    ends; then the command is stopped and the socket removed."""

    def __init__(self, argv: list[str]) -> None:
        self._argv = argv
        self._folder = tempfile.mkdtemp(prefix="virtkit-xen-console-")
        self.path = str(Path(self._folder) / "console.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(1)
        self._listener.settimeout(0.5)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="xen-console", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            client = self._accept()
        finally:
            self._listener.close()
            shutil.rmtree(self._folder, ignore_errors=True)
        if client is None:
            return
        with client:
            master, slave = os.openpty()
            tty.setraw(slave)
            try:
                process = subprocess.Popen(
                    self._argv,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    start_new_session=True,
                )
            except OSError as exc:
                client.sendall(f"cannot run {self._argv[0]}: {exc.strerror}\r\n".encode())
                os.close(master)
                return
            finally:
                os.close(slave)
            try:
                _relay(client, master, self._closed)
            finally:
                os.close(master)
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def _accept(self) -> socket.socket | None:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not self._closed.is_set() and time.monotonic() < deadline:
            try:
                return self._listener.accept()[0]
            except TimeoutError:
                continue
        return None

    def close(self) -> None:
        """Stop relaying: the command is stopped and the socket removed before this returns."""
        self._closed.set()
        self._thread.join(timeout=30)


def _relay(client: socket.socket, master: int, closed: threading.Event) -> None:
    """Copy bytes both ways between ``client`` and the terminal ``master`` until one side
    closes (a terminal whose process exited reads EIO) or ``closed`` is set."""
    with selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ)
        selector.register(master, selectors.EVENT_READ)
        while not closed.is_set():
            for key, _ in selector.select(timeout=0.5):
                try:
                    if key.fileobj is client:
                        data = client.recv(4096)
                        if not data:
                            return
                        os.write(master, data)
                    else:
                        data = os.read(master, 4096)
                        if not data:
                            return
                        client.sendall(data)
                except OSError:
                    return
