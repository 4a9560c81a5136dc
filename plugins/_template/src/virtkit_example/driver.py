"""The example driver: domains kept in memory, one set per connection.

Replace the ``_Domain`` bookkeeping with calls to your hypervisor. Each method marked
``@virtkit.hookimpl`` implements one hook of :mod:`virtkit.hookspecs` (see virtkit's
``docs/hooks.md``); every operation left out is reported to users as "not supported by the
Example driver". The hooks here are the ones the shared driver contract requires of every
driver; add the optional ones (suspend, snapshots, save...) as your hypervisor allows.
"""

from __future__ import annotations

import platform
import socket
import threading
import uuid as uuidlib
from typing import ClassVar

import attrs
import virtkit
from virtkit.constants import (
    DomainCreateFlags,
    DomainDestroyFlags,
    DomainEventDefinedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutdownFlags,
    DomainShutoffReason,
    DomainState,
    DomainXMLFlags,
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
from virtkit.flags import refuse_flags
from virtkit.records import DomainInfo, DomainRecord, DomainRef
from virtkit.xml import DomainDef

CAPABILITIES = """\
<capabilities>
  <host>
    <uuid>{host_uuid}</uuid>
    <cpu><arch>{arch}</arch></cpu>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='{arch}'><domain type='test'/></arch>
  </guest>
</capabilities>
"""


@attrs.define
class _Domain:
    """One domain as the driver tracks it; ``id`` is -1 while it is shut off."""

    definition: DomainDef
    persistent: bool = True
    id: int = -1
    state: DomainState = DomainState.SHUTOFF
    reason: int = DomainShutoffReason.UNKNOWN

    @property
    def uuid(self) -> uuidlib.UUID:
        assert self.definition.uuid is not None  # define assigns one
        return self.definition.uuid

    @property
    def ref(self) -> DomainRef:
        return DomainRef(name=self.definition.name, uuid=self.uuid)

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

    # ------------------------------------------------------------------ helpers

    def _get(self, dom: DomainRef) -> _Domain:
        found = self._domains.get(dom.uuid)
        if found is None:
            raise NoDomainError(f"domain not found: no domain with matching uuid '{dom.uuid}'")
        return found

    def _checked(self, definition: DomainDef) -> _Domain:
        """A new domain for ``definition`` once the hypervisor can run it and nothing clashes."""
        if str(definition.type) not in self.domain_types:
            raise ConfigUnsupportedError(
                f"the Example driver cannot run <domain type='{definition.type}'>: "
                f"use one of {', '.join(sorted(self.domain_types))}"
            )
        if definition.uuid is None:
            definition = definition.with_identity(uuid=uuidlib.uuid4())
        new = _Domain(definition=definition)
        for other in self._domains.values():
            if (other.definition.name == new.definition.name) != (other.uuid == new.uuid):
                raise DomainExistsError(
                    f"domain '{other.definition.name}' already exists with uuid {other.uuid}"
                )
        return new

    def _boot(self, found: _Domain, flags: int) -> None:
        """Start ``found``; the extensions may veto before anything changes."""
        xml = found.definition.to_xml()
        self._ctx.run_domain_hook(HookEvent.PREPARE, found.definition.name, xml)
        self._ctx.run_domain_hook(HookEvent.START, found.definition.name, xml)
        # A real driver starts the hypervisor's process here, and undoes that if a later step
        # fails. Only once it runs does the driver record the new state.
        found.id, self._next_id = self._next_id, self._next_id + 1
        if flags & DomainCreateFlags.START_PAUSED:
            found.state, found.reason = DomainState.PAUSED, DomainPausedReason.USER
        else:
            found.state, found.reason = DomainState.RUNNING, DomainRunningReason.BOOTED
        self._domains[found.uuid] = found
        self._ctx.run_domain_hook(HookEvent.STARTED, found.definition.name, xml)
        self._ctx.emit_event(found.ref, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)

    def _stop(self, found: _Domain, reason: DomainShutoffReason) -> None:
        """Record that ``found`` stopped; a transient domain disappears."""
        found.id, found.state, found.reason = -1, DomainState.SHUTOFF, reason
        if not found.persistent:
            del self._domains[found.uuid]
        xml = found.definition.to_xml()
        self._ctx.run_domain_hook(HookEvent.STOPPED, found.definition.name, xml)
        self._ctx.run_domain_hook(HookEvent.RELEASE, found.definition.name, xml)
        detail = (
            DomainEventStoppedDetail.SHUTDOWN
            if reason == DomainShutoffReason.SHUTDOWN
            else DomainEventStoppedDetail.DESTROYED
        )
        self._ctx.emit_event(found.ref, DomainEventType.STOPPED, detail)

    def _running(self, dom: DomainRef) -> _Domain:
        found = self._get(dom)
        if found.id == -1:
            raise OperationInvalidError(f"domain '{dom.name}' is not running: start it first")
        return found

    # ------------------------------------------------------------------ connection

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @virtkit.hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        host_uuid = uuidlib.uuid5(uuidlib.NAMESPACE_DNS, socket.gethostname())
        return CAPABILITIES.format(host_uuid=host_uuid, arch=platform.machine())

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
        return None  # the public API raises NoDomainError

    # ------------------------------------------------------------------ definitions

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef) -> DomainRecord:
        # An implementation may take fewer arguments than the spec: this one ignores ``flags``.
        with self._lock:
            new = self._checked(definition)
            found = self._domains.setdefault(new.uuid, new)
            if found is new:
                detail = DomainEventDefinedDetail.ADDED
            else:
                # The next start uses the new definition; this in-memory hypervisor keeps no
                # separate live copy, so it applies at once.
                found.definition, found.persistent = new.definition, True
                detail = DomainEventDefinedDetail.UPDATED
            record = found.record()
        self._ctx.emit_event(found.ref, DomainEventType.DEFINED, detail)
        return record

    @virtkit.hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        with self._lock:
            new = self._checked(definition)
            if new.uuid in self._domains:
                raise DomainExistsError(f"domain '{new.definition.name}' is already defined")
            new.persistent = False
            self._boot(new, flags)
            return new.record()

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef) -> None:
        with self._lock:
            found = self._get(dom)
            if found.id == -1:
                del self._domains[found.uuid]
            else:
                found.persistent = False  # a running domain lives on as a transient one
        self._ctx.emit_event(dom, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED)

    # ------------------------------------------------------------------ lifecycle

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int) -> None:
        with self._lock:
            found = self._get(dom)
            if found.id != -1:
                raise OperationInvalidError(f"domain '{dom.name}' is already running")
            self._boot(found, flags)

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        # The in-memory guest obeys at once, so ``timeout`` never needs to force it off; it
        # has no shutdown modes to choose.
        refuse_flags(flags, DomainShutdownFlags.DEFAULT, "shutdown", "example")
        with self._lock:
            self._stop(self._running(dom), DomainShutoffReason.SHUTDOWN)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", "example")
        with self._lock:
            self._stop(self._running(dom), DomainShutoffReason.DESTROYED)

    @virtkit.hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        with self._lock:
            found = self._get(dom)
            memory = found.definition.memory_kib or 0
            return DomainInfo(
                state=found.state,
                max_memory_kib=memory,
                memory_kib=memory if found.id != -1 else 0,
                vcpus=found.definition.vcpus or 1,
                cpu_time_ns=0,
            )

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        with self._lock:
            found = self._get(dom)
            if found.id == -1 or flags & DomainXMLFlags.INACTIVE:
                return found.definition.to_xml()
            return attrs.evolve(found.definition, id=found.id).to_xml()  # live XML names its id
