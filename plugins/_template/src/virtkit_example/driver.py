"""The example driver: domains kept in memory, one set per connection.

Replace the dictionary and the ``_Domain`` bookkeeping with calls to your hypervisor. Each
method marked ``@virtkit.hookimpl`` implements one hook of :mod:`virtkit.hookspecs`; every
operation you leave out is reported to users as "not supported by the Example driver".
"""

from __future__ import annotations

import socket
import threading
import uuid as uuidlib
from typing import ClassVar

import attrs
import virtkit
from virtkit.constants import (
    DomainCreateFlags,
    DomainEventDefinedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    InvalidArgumentError,
    NoDomainError,
    OperationInvalidError,
)
from virtkit.records import DomainRecord, DomainRef
from virtkit.xml import DomainDef


@attrs.define
class _Domain:
    """One domain as the driver tracks it."""

    definition: DomainDef
    persistent: bool = True
    id: int = -1
    state: DomainState = DomainState.SHUTOFF
    reason: int = DomainShutoffReason.UNKNOWN

    @property
    def ref(self) -> DomainRef:
        return DomainRef(name=self.definition.name, uuid=self.uuid)

    @property
    def uuid(self) -> uuidlib.UUID:
        assert self.definition.uuid is not None  # define assigns one
        return self.definition.uuid

    def record(self) -> DomainRecord:
        return DomainRecord(
            name=self.definition.name,
            uuid=self.uuid,
            id=self.id,
            state=self.state,
            reason=self.reason,
            persistent=self.persistent,
        )


class ExampleDriver:
    """Serves ``example:///``. Connections are independent: each starts with no domain."""

    name: ClassVar[str] = "Example"
    """What ``conn.get_type()`` reports and error messages name."""

    domain_types: ClassVar[frozenset[str]] = frozenset({"test"})
    """The ``<domain type=...>`` values this hypervisor runs."""

    def __init__(self, ctx: DriverContext) -> None:
        if ctx.uri.path not in ("", "/") or not ctx.uri.is_local:
            raise InvalidArgumentError(
                f"unexpected connection URI '{ctx.uri}': the Example driver accepts example:///"
            )
        self._ctx = ctx
        # Hooks may be called from several threads at once; re-entrant because the extension
        # hooks run under it and may call back into the connection.
        self._lock = threading.RLock()
        self._domains: dict[uuidlib.UUID, _Domain] = {}
        self._next_id = 1

    def _get(self, dom: DomainRef) -> _Domain:
        found = self._domains.get(dom.uuid)
        if found is None:
            raise NoDomainError(f"domain not found: no domain with matching uuid '{dom.uuid}'")
        return found

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @virtkit.hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        with self._lock:
            return [d.record() for d in self._domains.values()]

    @virtkit.hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        with self._lock:
            for d in self._domains.values():
                if d.definition.name == name or d.uuid == uuid or (id is not None and d.id == id):
                    return d.record()
        return None  # the facade raises NoDomainError

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef) -> DomainRecord:
        # An implementation may take fewer arguments than the spec: this one ignores ``flags``.
        if str(definition.type) not in self.domain_types:
            raise ConfigUnsupportedError(
                f"the Example driver cannot run <domain type='{definition.type}'>: "
                f"use one of {', '.join(sorted(self.domain_types))}"
            )
        if definition.uuid is None:
            definition = definition.with_identity(uuid=uuidlib.uuid4())
        new = _Domain(definition=definition)
        with self._lock:
            for other in self._domains.values():
                if (other.definition.name == new.definition.name) != (other.uuid == new.uuid):
                    raise DomainExistsError(
                        f"domain '{other.definition.name}' already exists with uuid {other.uuid}"
                    )
            existing = self._domains.setdefault(new.uuid, new)
            if existing is new:
                detail = DomainEventDefinedDetail.ADDED
            else:
                existing.definition, existing.persistent = definition, True
                detail = DomainEventDefinedDetail.UPDATED
            record = existing.record()
        self._ctx.emit_event(existing.ref, DomainEventType.DEFINED, detail)
        return record

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef) -> None:
        with self._lock:
            found = self._get(dom)
            if found.id == -1:
                del self._domains[found.uuid]
            else:
                found.persistent = False  # a running domain lives on as a transient one
        self._ctx.emit_event(dom, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED)

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int) -> None:
        with self._lock:
            found = self._get(dom)
            if found.id != -1:
                raise OperationInvalidError(f"domain '{dom.name}' is already running")
            # Extensions may veto here (libvirt's prepare and start hook scripts): nothing
            # has changed yet, so their exception leaves everything as it was.
            xml = found.definition.to_xml()
            self._ctx.run_domain_hook(HookEvent.PREPARE, dom.name, xml)
            self._ctx.run_domain_hook(HookEvent.START, dom.name, xml)
            # A real driver starts the hypervisor process here, and undoes it on failure.
            found.id, self._next_id = self._next_id, self._next_id + 1
            if flags & DomainCreateFlags.START_PAUSED:
                found.state, found.reason = DomainState.PAUSED, DomainPausedReason.USER
            else:
                found.state, found.reason = DomainState.RUNNING, DomainRunningReason.BOOTED
        self._ctx.run_domain_hook(HookEvent.STARTED, dom.name, xml)
        self._ctx.emit_event(dom, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef) -> None:
        with self._lock:
            found = self._get(dom)
            if found.id == -1:
                raise OperationInvalidError(f"domain '{dom.name}' is not running")
            found.id, found.state = -1, DomainState.SHUTOFF
            found.reason = DomainShutoffReason.DESTROYED
            if not found.persistent:
                del self._domains[found.uuid]
            xml = found.definition.to_xml()
        self._ctx.run_domain_hook(HookEvent.STOPPED, dom.name, xml)
        self._ctx.run_domain_hook(HookEvent.RELEASE, dom.name, xml)
        self._ctx.emit_event(dom, DomainEventType.STOPPED, DomainEventStoppedDetail.DESTROYED)

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef) -> str:
        with self._lock:
            return self._get(dom).definition.to_xml()
