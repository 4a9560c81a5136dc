"""What a driver plugin receives when a connection opens it."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, NamedTuple, Protocol

import pluggy

from virtkit.constants import DomainEventType, HookEvent
from virtkit.records import DomainRef
from virtkit.uri import ConnectURI

EventSink = Callable[[DomainRef, DomainEventType, int], None]


class DriverContext(NamedTuple):  # a tuple class is built a few times faster than attrs'
    """Handed to a driver's constructor: the URI it serves and its way back into virtkit.

    :ivar uri: the parsed connection URI (the driver checks its path and parameters).
    :ivar read_only: the connection refuses changes (the facade enforces it; drivers may
        open their resources read-only).
    :ivar hook: the connection's hook relay, to call extension hooks.
    :ivar emit_event: report a lifecycle event ``(domain, event, detail)``; safe from any thread.
    """

    uri: ConnectURI
    read_only: bool
    hook: pluggy.HookRelay
    emit_event: EventSink

    def run_domain_hook(self, event: HookEvent, name: str, xml: str) -> str:
        """Consult the extensions at ``event``; return the XML they leave
        (see :mod:`virtkit.hooks`)."""
        from virtkit.hooks import run_domain_hook  # not needed to open or list

        return run_domain_hook(self.hook, event, name, xml)


class Driver(Protocol):
    """The shape of a driver class registered under entry-point group ``virtkit.drivers``.

    ``name`` is what ``get_type()`` reports (``"QEMU"``, ``"LXC"``, ``"Test"``...). The
    constructor raises :class:`virtkit.errors.VirtError` when the URI is not one it serves
    (wrong path, missing parameter, host unreachable). The hooks it implements are methods
    marked with :data:`virtkit.hookimpl`.
    """

    name: ClassVar[str]

    def __init__(self, ctx: DriverContext) -> None: ...
