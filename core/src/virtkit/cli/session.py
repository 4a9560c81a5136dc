"""What every command shares: the connection, finding domains and snapshots the way virsh
does, and reporting failures as virsh's ``error:`` lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import click

from virtkit.errors import NoDomainError, VirtError

if TYPE_CHECKING:
    from virtkit.connection import Connection
    from virtkit.domain import Domain
    from virtkit.snapshot import Snapshot


class CommandFailed(click.ClickException):
    """A command failed: each line is printed to stderr as ``error: <line>``, exit status 1.

    The first line says what failed (``Failed to start domain 'x'``), the next one the
    virtkit error, whose message says what to do.
    """

    exit_code = 1

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[-1])
        self.lines = lines

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", file=file, err=file is None)


@contextmanager
def failing(what: str) -> Iterator[None]:
    """Report a :class:`VirtError` raised inside the block as ``error: <what>`` and its message."""
    try:
        yield
    except VirtError as exc:
        raise CommandFailed(what, exc.message) from exc


class Session:
    """The connection of one CLI run, opened on first use (some commands need none).

    Tests may hand in an open ``connection``; the session then leaves closing it to them.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        read_only: bool = False,
        connection: Connection | None = None,
    ) -> None:
        self.uri = uri
        self.read_only = read_only
        self._conn = connection
        self._owned = connection is None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            import virtkit

            opener = virtkit.open_read_only if self.read_only else virtkit.open
            with failing("failed to connect to the hypervisor"):
                self._conn = opener(self.uri)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._owned:
            self._conn.close()
            self._conn = None

    def domain(self, text: str) -> Domain:
        """The domain called ``text``, tried as virsh tries it: as an ID (when it is a
        number), as a UUID (when it is one), then as a name."""
        conn = self.conn
        attempts: list[Callable[[], Domain]] = []
        if text.isdigit():
            attempts.append(lambda: conn.lookup_by_id(int(text)))
        if _looks_like_uuid(text):
            attempts.append(lambda: conn.lookup_by_uuid_string(text))
        attempts.append(lambda: conn.lookup_by_name(text))
        error: VirtError | None = None
        for attempt in attempts:
            try:
                return attempt()
            except NoDomainError as exc:
                error = exc
            except VirtError as exc:
                raise CommandFailed(f"failed to get domain '{text}'", exc.message) from exc
        assert error is not None
        raise CommandFailed(f"failed to get domain '{text}'", error.message) from error

    def snapshot(self, dom: Domain, name: str | None, current: bool) -> Snapshot:
        """The snapshot named ``name``, or with ``current`` the current one (not both)."""
        if name is not None and current:
            raise CommandFailed("--snapshotname and --current are mutually exclusive")
        if name is None and not current:
            raise CommandFailed("--snapshotname or --current is required")
        if name is not None:
            return dom.snapshot_lookup_by_name(name)
        return dom.snapshot_current()


def _looks_like_uuid(text: str) -> bool:
    digits = text.replace("-", "")
    return len(digits) == 32 and all(c in "0123456789abcdefABCDEF" for c in digits)
