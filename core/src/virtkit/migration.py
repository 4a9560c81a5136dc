"""Migration across two connections, through libvirt's phases.

begin (source) -> prepare (destination) -> perform (source) -> finish (destination) ->
confirm (source). A failure in any phase rolls both sides back: the destination's finish and
the source's confirm run with ``cancelled=True``, and the error names the phase and side, and
any side whose roll-back failed too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from virtkit.constants import DomainMigrateFlags
from virtkit.errors import InvalidArgumentError, OperationFailedError, VirtError
from virtkit.records import MigrationOffer, MigrationTarget, ProgressCallback

if TYPE_CHECKING:
    from virtkit.connection import Connection
    from virtkit.domain import Domain


class MigrationError(VirtError):
    """A migration phase failed; ``phase`` and ``side`` say where. Keeps the cause's code.

    ``rollback_failures`` names each side whose clean-up failed after that, with its error.
    """

    def __init__(
        self, phase: str, side: str, cause: VirtError, rollback_failures: Sequence[str] = ()
    ) -> None:
        message = f"migration failed in phase '{phase}' on the {side}: {cause.message}"
        if rollback_failures:
            message += "; the rollback failed too: " + "; ".join(rollback_failures)
        super().__init__(message, code=cause.code, domain=cause.domain)
        self.phase = phase
        self.side = side
        self.cause = cause
        self.rollback_failures = tuple(rollback_failures)


def _phase(phase: str, side: str, call: Any, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except VirtError as exc:
        raise MigrationError(phase, side, exc) from exc


def _rollback(
    src: Domain, dest: Connection, name: str, flags: int, params: dict[str, Any]
) -> list[str]:
    """Both sides clean up, each tried even when the other fails; what failed, as text."""
    failures = []
    steps: tuple[tuple[str, Callable[..., Any], dict[str, Any]], ...] = (
        ("destination (finish)", dest._call, {"hook": "virtkit_migrate_finish", "name": name}),
        ("source (confirm)", src._call, {"hook": "virtkit_migrate_confirm"}),
    )
    for side, call, args in steps:
        try:
            call(change=True, cookie=b"", flags=flags, params=params, cancelled=True, **args)
        except VirtError as exc:
            failures.append(f"{side}: {exc.message}")
    return failures


def migrate(
    src: Domain,
    dest: Connection,
    flags: DomainMigrateFlags,
    params: dict[str, Any],
    progress: ProgressCallback | None,
) -> Domain:
    """Run the five phases; return the domain on the destination."""
    if dest is src.connect():
        raise InvalidArgumentError("cannot migrate a domain to the connection it is on")
    if flags & DomainMigrateFlags.OFFLINE and flags & DomainMigrateFlags.LIVE:
        raise InvalidArgumentError("migration flags 'offline' and 'live' are mutually exclusive")
    name = src.name()
    for side, conn, hooks in (
        ("source", src.connect(), ("begin", "perform", "confirm")),
        ("destination", dest, ("prepare", "finish")),
    ):
        for hook in hooks:  # refuse before either side starts anything
            try:
                conn._check_call(f"virtkit_migrate_{hook}", change=True)
            except VirtError as exc:
                raise MigrationError(hook, side, exc) from exc
    offer: MigrationOffer = _phase(
        "begin",
        "source",
        src._call,
        hook="virtkit_migrate_begin",
        change=True,
        flags=flags,
        params=params,
    )
    try:
        target: MigrationTarget = _phase(
            "prepare",
            "destination",
            dest._call,
            hook="virtkit_migrate_prepare",
            change=True,
            offer=offer,
            flags=flags,
            params=params,
        )
        cookie: bytes = _phase(
            "perform",
            "source",
            src._call,
            hook="virtkit_migrate_perform",
            change=True,
            target=target,
            flags=flags,
            params=params,
            progress=progress,
        )
        record = _phase(
            "finish",
            "destination",
            dest._call,
            hook="virtkit_migrate_finish",
            change=True,
            name=name,
            cookie=cookie,
            flags=flags,
            params=params,
            cancelled=False,
        )
        if record is None:
            raise MigrationError(
                "finish",
                "destination",
                OperationFailedError(f"the destination did not take domain '{name}'"),
            )
    except MigrationError as exc:
        failures = _rollback(src, dest, name, flags, params)
        if failures:
            raise MigrationError(exc.phase, exc.side, exc.cause, failures) from exc.cause
        raise
    _phase(
        "confirm",
        "source",
        src._call,
        hook="virtkit_migrate_confirm",
        change=True,
        cookie=cookie,
        flags=flags,
        params=params,
        cancelled=False,
    )
    return dest._domain(record)
