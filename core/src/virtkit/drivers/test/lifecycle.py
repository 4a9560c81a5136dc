"""Test driver hooks: define, undefine, start and stop, pause, info and XML."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import TYPE_CHECKING

from virtkit.constants import (
    DomainCreateFlags,
    DomainDestroyFlags,
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutdownFlags,
    DomainShutoffReason,
    DomainState,
    DomainUndefineFlags,
    DomainXMLFlags,
)
from virtkit.drivers.test.base import TestDriverBase, canonical_definition
from virtkit.drivers.test.state import TestDomain
from virtkit.errors import DomainExistsError, OperationInvalidError
from virtkit.flags import refuse_flags
from virtkit.hookspecs import hookimpl
from virtkit.records import DomainInfo, DomainRecord, DomainRef

if TYPE_CHECKING:
    from virtkit.xml import DomainDef


def domain_resources(definition: DomainDef) -> tuple[int, int, int]:
    """``(max memory KiB, current memory KiB, vCPUs)`` of a canonical definition."""
    memory = definition.memory_kib or 0
    return memory, definition.current_memory_kib or memory, definition.vcpus or 1


class LifecycleHooks(TestDriverBase):
    """Define, start, stop and inspect domains."""

    # ------------------------------------------------------------------ definitions

    def _claim(
        self, definition: DomainDef, *, live: bool
    ) -> tuple[TestDomain | None, DomainDef, DomainRef]:
        """The existing domain ``definition`` names (by UUID, then name), the definition in
        libvirt's canonical form (as a ``live`` or persistent config) with its UUID filled in,
        and its reference; refuses a name or UUID another domain has."""
        node = self.node
        name, uuid = definition.name, definition.uuid
        existing = node.by_uuid.get(uuid) if uuid else None
        if existing is not None and existing.ref.name != name:
            raise DomainExistsError(
                f"domain '{existing.ref.name}' is already defined with uuid {uuid}"
            )
        by_name = node.by_name.get(name)
        if existing is None and by_name is not None:
            raise DomainExistsError(f"domain '{name}' already exists with uuid {by_name.ref.uuid}")
        if uuid is None:
            uuid = uuidlib.uuid4()
            definition = definition.with_identity(uuid=uuid)
        definition = canonical_definition(definition, live=live)
        ref = existing.ref if existing is not None else DomainRef(name=name, uuid=uuid)
        return existing, definition, ref

    @hookimpl
    def virtkit_domain_define(self, definition: DomainDef, flags: int) -> DomainRecord:
        with self.node.lock:
            domain, definition, ref = self._claim(definition, live=False)
            if domain is None:
                domain = TestDomain(ref=ref, config=definition)
                self.node.add(domain)
                detail = DomainEventDefinedDetail.ADDED
            else:
                domain.config, domain.persistent = definition, True
                domain.refresh()
                detail = DomainEventDefinedDetail.UPDATED
            # Format the saved config now, as a real driver writes it to disk on define.
            domain.xml(DomainXMLFlags.INACTIVE)
            self.node.emit(domain, DomainEventType.DEFINED, detail)
            return domain.record

    @hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        with self.node.lock:
            domain, definition, ref = self._claim(definition, live=True)
            if domain is not None:
                self.require_inactive(domain)
            self.prepare_start(ref.name, definition)
            if domain is None:
                domain = TestDomain(ref=ref, config=definition, persistent=False)
                self.node.add(domain)
            self.commit_start(
                domain,
                definition,
                reason=DomainRunningReason.BOOTED,
                detail=DomainEventStartedDetail.BOOTED,
                paused=bool(flags & DomainCreateFlags.START_PAUSED),
            )
            if flags & DomainCreateFlags.START_AUTODESTROY:
                domain.autodestroy_owner = self
            return domain.record

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, flags: int) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            if not domain.persistent:
                raise OperationInvalidError(
                    f"Requested operation is not valid: cannot undefine transient domain "
                    f"'{dom.name}'"
                )
            if flags & DomainUndefineFlags.SNAPSHOTS_METADATA:
                domain.snapshots.clear()
                domain.current_snapshot = None
            if flags & DomainUndefineFlags.MANAGED_SAVE:
                domain.managed_save = None
            if domain.active:
                domain.persistent = False
                domain.autostart = False
                domain.refresh()
            else:
                self.node.remove(domain)
            self.node.emit(domain, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED)

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            if not domain.persistent:
                raise OperationInvalidError(
                    f"Requested operation is not valid: cannot set autostart for transient "
                    f"domain '{dom.name}'"
                )
            domain.autostart = autostart
            domain.refresh()

    @hookimpl
    def virtkit_domain_rename(self, dom: DomainRef, new_name: str, flags: int) -> None:
        refuse_flags(flags, 0, "rename", "test")
        with self.node.lock:
            domain = self.node.get(dom)
            if domain.active:
                raise OperationInvalidError(
                    "Requested operation is not valid: cannot rename active domain"
                )
            if not domain.persistent:
                raise OperationInvalidError(
                    "Requested operation is not valid: cannot rename a transient domain"
                )
            if new_name in self.node.by_name:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain with name '{new_name}' already "
                    "exists"
                )
            self.node.emit(domain, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.RENAMED)
            self.node.remove(domain)
            domain.ref = DomainRef(name=new_name, uuid=domain.ref.uuid)
            domain.config = domain.config.with_identity(name=new_name)
            self.node.add(domain)
            domain.refresh()
            self.node.emit(domain, DomainEventType.DEFINED, DomainEventDefinedDetail.RENAMED)

    # ------------------------------------------------------------------ start and stop

    @hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_inactive(domain)
            paused = bool(flags & DomainCreateFlags.START_PAUSED)
            if snapshot is not None:
                snap = domain.snapshot(snapshot)
                live = snap.domain or domain.config
                self.prepare_start(dom.name, live)
                self.commit_start(
                    domain,
                    live,
                    reason=DomainRunningReason.FROM_SNAPSHOT,
                    detail=DomainEventStartedDetail.FROM_SNAPSHOT,
                    paused=paused or snap.state == "paused",
                    paused_reason=DomainPausedReason.FROM_SNAPSHOT,
                    paused_detail=DomainEventSuspendedDetail.FROM_SNAPSHOT,
                )
                domain.current_snapshot = snapshot
            elif domain.managed_save is not None and not flags & DomainCreateFlags.START_FORCE_BOOT:
                image, was_paused = domain.managed_save, domain.managed_save_paused
                self.prepare_start(dom.name, image)
                domain.managed_save = None
                self.commit_start(
                    domain,
                    image,
                    reason=DomainRunningReason.RESTORED,
                    detail=DomainEventStartedDetail.RESTORED,
                    paused=paused or was_paused,
                    paused_detail=DomainEventSuspendedDetail.RESTORED,
                )
            else:
                self.prepare_start(dom.name, domain.config)
                domain.managed_save = None
                self.commit_start(
                    domain,
                    domain.config,
                    reason=DomainRunningReason.BOOTED,
                    detail=DomainEventStartedDetail.BOOTED,
                    paused=paused,
                )
            if flags & DomainCreateFlags.START_AUTODESTROY:
                domain.autodestroy_owner = self
            domain.refresh()

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        # The test guest obeys at once, so a timeout never has to power it off. As in libvirt's
        # test driver, it has no modes to choose.
        refuse_flags(flags, DomainShutdownFlags.DEFAULT, "shutdown", "test")
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            self.stop(domain, DomainShutoffReason.SHUTDOWN, DomainEventStoppedDetail.SHUTDOWN)

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.GRACEFUL, "destroy", "test")  # (it ends at once)
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            self.stop(domain, DomainShutoffReason.DESTROYED, DomainEventStoppedDetail.DESTROYED)

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, flags: int) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            domain.state, domain.reason = DomainState.RUNNING, DomainRunningReason.BOOTED
            domain.started_at = time.monotonic()
            domain.refresh()

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            domain.started_at = time.monotonic()

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            if domain.state == DomainState.PAUSED:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain '{dom.name}' is already paused"
                )
            self.pause(domain, DomainPausedReason.USER, DomainEventSuspendedDetail.PAUSED)

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            if domain.state != DomainState.PAUSED:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain '{dom.name}' is not paused"
                )
            domain.state, domain.reason = DomainState.RUNNING, DomainRunningReason.UNPAUSED
            domain.refresh()
            self.node.emit(domain, DomainEventType.RESUMED, DomainEventResumedDetail.UNPAUSED)

    # ------------------------------------------------------------------ inspection

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        with self.node.lock:
            domain = self.node.get(dom)
            definition, active, started = domain.definition, domain.active, domain.started_at
            state = domain.state
        memory, current, vcpus = domain_resources(definition)
        cpu_time = int((time.monotonic() - started) * 1e9) * vcpus if active else 0
        return DomainInfo(
            state=state,
            max_memory_kib=memory,
            memory_kib=current,
            vcpus=vcpus,
            cpu_time_ns=cpu_time,
        )

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        with self.node.lock:
            return self.node.get(dom).xml(flags)
