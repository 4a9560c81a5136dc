"""Synchronous QMP access on top of ``qemu.qmp``'s asyncio client.

``qemu.qmp`` is asynchronous; virtkit's API is not. One daemon thread per process runs an event
loop (:func:`loop`), and :class:`Monitor` submits coroutines to it. Each domain's QEMU has two
monitors: the *command* socket, opened for the length of one operation (QEMU serves one client
at a time, so operations from several processes queue up there), and the *event* socket, held
by one process's :mod:`virtkit_qemu.watcher`.

``asyncio`` and ``qemu.qmp`` are imported at first use (here and in the watcher): a process
that talks to no QEMU (``virtkit define``, ``virtkit list`` with nothing running) does not pay
their ~25 ms import.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from virtkit.errors import OperationFailedError

if TYPE_CHECKING:
    import asyncio

    from qemu.qmp import QMPClient

T = TypeVar("T")

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the monitor's greeting (another process may be holding the socket)."""

_loop: asyncio.AbstractEventLoop | None = None
_loop_guard = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The process's QMP event loop, started on first use in a daemon thread."""
    import asyncio

    global _loop
    with _loop_guard:
        if _loop is None or _loop.is_closed():
            new_loop = asyncio.new_event_loop()
            threading.Thread(
                target=new_loop.run_forever, name="virtkit-qemu-qmp", daemon=True
            ).start()
            _loop = new_loop
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the QMP loop and wait for its result."""
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, loop()).result(timeout)


class QmpError(OperationFailedError):
    """QEMU answered a command with an error, or the monitor could not be reached."""


class Monitor:
    """One connection to a QEMU command socket; use as a context manager.

    >>> with Monitor(path, name="vm1") as mon:     # doctest: +SKIP
    ...     mon.execute("cont")
    """

    def __init__(
        self,
        socket_path: Path,
        *,
        name: str,
        session: QMPClient | None = None,
        lazy: bool = False,
    ) -> None:
        """With ``session``, commands go through that already connected client (the event
        watcher's), which entering and leaving neither connect nor close. ``lazy``: connect at
        the first command, not on entering (a block that may send none costs no connection)."""
        from qemu.qmp import QMPClient

        self.socket_path = socket_path
        self.name = name
        self._client = session if session is not None else QMPClient(name)
        self._shared = session is not None
        self._lazy = lazy
        self._opened = False

    def __enter__(self) -> Monitor:
        if not self._shared and not self._lazy:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> None:
        import asyncio

        self._opened = True
        try:
            run(asyncio.wait_for(self._client.connect(str(self.socket_path)), timeout))
        except Exception as exc:
            self.close()
            raise QmpError(
                f"cannot reach the QEMU monitor of domain '{self.name}' at {self.socket_path}: "
                f"{exc or type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        """Disconnect; an error the session ended with (QEMU gone) is not raised again."""
        if self._shared or not self._opened:
            return
        with contextlib.suppress(Exception):
            run(self._client.disconnect())

    def execute(self, command: str, **arguments: Any) -> Any:
        """Run one QMP command; raise :class:`QmpError` with QEMU's message on failure."""
        return self.call(command, arguments)

    def call(self, command: str, arguments: dict[str, Any], timeout: float = 30.0) -> Any:
        """:meth:`execute` with the arguments as a dict (for names like ``command-line``)."""
        from qemu.qmp import ExecuteError

        self._open()
        try:
            return run(self._client.execute(command, arguments or None), timeout)
        except ExecuteError as exc:
            raise QmpError(
                f"QEMU refused '{command}' for domain '{self.name}': {exc.error.error.desc}"
            ) from exc
        except Exception as exc:
            raise QmpError(
                f"QMP command '{command}' failed for domain '{self.name}': "
                f"{exc or type(exc).__name__}"
            ) from exc

    def _open(self) -> None:
        """Connect a lazy monitor at its first use."""
        if not self._shared and not self._opened:
            self.connect()

    def human(self, command_line: str) -> str:
        """Run an HMP command (``savevm``, ``loadvm``...) and return its output."""
        return str(self.call("human-monitor-command", {"command-line": command_line}))

    def send_fd(self, fd: int, fdname: str) -> None:
        """Pass file descriptor ``fd`` to QEMU under ``fdname`` (QMP ``getfd``)."""
        if self._shared:
            raise QmpError("file descriptors are passed on a monitor connection of one's own")
        self._open()
        self._client.send_fd_scm(fd)
        self.execute("getfd", fdname=fdname)
