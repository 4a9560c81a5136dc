"""Test driver hooks: snapshots with libvirt's tree, current-snapshot and revert rules."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from virtkit.constants import (
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.constants import DomainEventStoppedDetail as Stopped
from virtkit.constants import DomainEventSuspendedDetail as Suspended
from virtkit.constants import DomainSnapshotCreateFlags as Create
from virtkit.constants import DomainSnapshotDeleteFlags as Delete
from virtkit.constants import DomainSnapshotRevertFlags as Revert
from virtkit.drivers.test.base import SNAPSHOT_STATE_NAMES, canonical_definition
from virtkit.drivers.test.saving import SavingHooks
from virtkit.drivers.test.state import TestDomain, TestSnapshot
from virtkit.errors import (
    ErrorCode,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
    XMLError,
)
from virtkit.hookspecs import hookimpl
from virtkit.records import DomainRef, SnapshotRecord

if TYPE_CHECKING:
    from virtkit.xml import DomainDef, SnapshotDef

_RUNNING_STATES = frozenset({"running", "paused"})

# Plain ints: testing an IntFlag costs a microsecond, and these run on every call.
_REDEFINE, _CURRENT, _NO_METADATA, _HALT, _DISK_ONLY, _LIVE = (
    int(flag)
    for flag in (
        Create.REDEFINE,
        Create.CURRENT,
        Create.NO_METADATA,
        Create.HALT,
        Create.DISK_ONLY,
        Create.LIVE,
    )
)
_RUNNING, _PAUSED, _FORCE = int(Revert.RUNNING), int(Revert.PAUSED), int(Revert.FORCE)
_CHILDREN, _CHILDREN_ONLY = int(Delete.CHILDREN), int(Delete.CHILDREN_ONLY)


def _descendants(domain: TestDomain, name: str) -> list[str]:
    children: dict[str | None, list[str]] = {}
    for snap in domain.snapshots.values():
        children.setdefault(snap.parent, []).append(snap.name)
    found, stack = [], list(children.get(name, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def _same(one: DomainDef, other: DomainDef) -> bool:
    return one is other or one.to_xml() == other.to_xml()


def _disks(definition: SnapshotDef) -> bytes | None:
    from lxml import etree

    disks = definition.tree().find("disks")
    return etree.tostring(disks) if disks is not None else None


class SnapshotHooks(SavingHooks):
    """Create, list, dump, revert and delete snapshots."""

    @hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        with self.node.lock:
            domain = self.node.get(dom)
            if flags & _REDEFINE:
                return self._redefine(domain, definition, flags)
            if flags & _HALT and not domain.persistent:
                raise OperationInvalidError(
                    "Requested operation is not valid: transient domain needs to remain running"
                )
            if flags & _LIVE and not domain.active:
                raise OperationInvalidError(
                    f"Requested operation is not valid: a live snapshot needs domain "
                    f"'{dom.name}' to be running"
                )
            disk_only = bool(flags & _DISK_ONLY)
            state = "disk-snapshot" if disk_only else SNAPSHOT_STATE_NAMES[domain.state]
            from virtkit.xml import SnapshotState, canonical_snapshot

            now = int(time.time())
            definition = canonical_snapshot(
                definition, creation_time=now, state=SnapshotState(state)
            )
            name = definition.name or str(now)
            if name in domain.snapshots:
                raise OperationFailedError(f"domain snapshot '{name}' already exists")
            snap = TestSnapshot(
                name=name,
                parent=domain.current_snapshot,
                creation_time=now,
                state=state,
                description=definition.description,
                memory="internal" if domain.active and not disk_only else "no",
                domain=domain.definition,
                disks=_disks(definition),
            )
            if not flags & _NO_METADATA:
                domain.snapshots[name] = snap
                domain.current_snapshot = name
            if flags & _HALT and domain.active:
                self.stop(domain, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT)
            domain.refresh()
            return name

    def _redefine(self, domain: TestDomain, definition: SnapshotDef, flags: int) -> str:
        """Import a snapshot's metadata as written (libvirt's ``REDEFINE``)."""
        from virtkit.xml import canonical_snapshot

        definition = canonical_snapshot(definition, redefine=True)
        name, state = definition.name, definition.state
        if not name:
            raise XMLError("a redefined snapshot must have a <name>")
        if state is None:
            raise XMLError(f"snapshot '{name}': a redefined snapshot must have a <state>")
        parent = definition.parent
        if parent is not None:
            if parent not in domain.snapshots:
                raise InvalidArgumentError(f"parent '{parent}' for snapshot '{name}' not found")
            if name in self._ancestors(domain, parent):
                raise InvalidArgumentError(f"parent '{parent}' would create a cycle to '{name}'")
        saved = definition.domain
        if saved is not None:
            saved = canonical_definition(saved, live=state in _RUNNING_STATES)
        if definition.domain_uuid not in (None, domain.ref.uuid):
            raise InvalidArgumentError(
                f"definition for snapshot '{name}' must use uuid {domain.ref.uuid}"
            )
        domain.snapshots[name] = TestSnapshot(
            name=name,
            parent=parent,
            creation_time=definition.creation_time or int(time.time()),
            state=str(state),
            description=definition.description,
            memory=str(definition.memory or ("internal" if state in _RUNNING_STATES else "no")),
            domain=saved,
            disks=_disks(definition),
        )
        if flags & _CURRENT:
            domain.current_snapshot = name
        domain.refresh()
        return name

    @staticmethod
    def _ancestors(domain: TestDomain, name: str | None) -> list[str]:
        found = []
        while name is not None and name in domain.snapshots and name not in found:
            found.append(name)
            name = domain.snapshots[name].parent
        return found

    @hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        with self.node.lock:
            return self.node.get(dom).snapshot_records()

    @hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, flags: int) -> str:
        with self.node.lock:
            snap = self.node.get(dom).snapshot(name)
        return snap.to_xml(secure=bool(flags & 1))

    # ------------------------------------------------------------------ revert

    @hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            snap = domain.snapshot(name)
            force = bool(flags & _FORCE)
            run = snap.state in _RUNNING_STATES or bool(flags & (_RUNNING | _PAUSED))
            if not domain.persistent and not run:
                raise OperationInvalidError(
                    "Requested operation is not valid: transient domain needs to have a running "
                    "snapshot to revert to"
                )
            if snap.domain is None and not force:
                raise VirtError(
                    f"revert requires force: snapshot '{name}' lacks domain '{dom.name}' "
                    "rollback info",
                    code=ErrorCode.SNAPSHOT_REVERT_RISKY,
                )
            config = snap.domain or domain.definition
            paused = not flags & _RUNNING and (snap.state == "paused" or bool(flags & _PAUSED))
            if run:
                self._revert_to_running(domain, snap, config, paused=paused, force=force)
            elif domain.active:
                self.stop(domain, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT)
            if domain.persistent:
                domain.config = config
            domain.current_snapshot = name
            domain.refresh()

    def _revert_to_running(
        self,
        domain: TestDomain,
        snap: TestSnapshot,
        config: DomainDef,
        *,
        paused: bool,
        force: bool,
    ) -> None:
        """Bring ``domain`` to the snapshot's running (or paused) state from ``config``."""
        if domain.active and not _same(domain.definition, config):
            if not force:
                raise VirtError(
                    f"revert requires force: the configuration of snapshot '{snap.name}' differs "
                    f"from the running domain '{domain.ref.name}'",
                    code=ErrorCode.SNAPSHOT_REVERT_RISKY,
                )
            restart = True
        else:
            restart = not domain.active
        if restart:
            self.prepare_start(domain.ref.name, config)
            if domain.active:  # a forced revert: the old instance goes, a new one starts
                old = domain.definition
                self.node.by_id.pop(domain.id, None)
                domain.id, domain.live = -1, None
                self.node.emit(domain, DomainEventType.STOPPED, Stopped.FROM_SNAPSHOT)
                self.hook(HookEvent.STOPPED, domain.ref.name, old)
                self.hook(HookEvent.RELEASE, domain.ref.name, old)
            self.commit_start(
                domain,
                config,
                reason=DomainRunningReason.FROM_SNAPSHOT,
                detail=DomainEventStartedDetail.FROM_SNAPSHOT,
                paused=paused,
                paused_reason=DomainPausedReason.FROM_SNAPSHOT,
                paused_detail=Suspended.FROM_SNAPSHOT,
            )
            return
        domain.live = config
        was_paused = domain.state == DomainState.PAUSED
        if paused:
            domain.state, domain.reason = DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT
            if not was_paused:
                self.node.emit(domain, DomainEventType.SUSPENDED, Suspended.FROM_SNAPSHOT)
        else:
            domain.state, domain.reason = DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT
            self.node.emit(domain, DomainEventType.RESUMED, DomainEventResumedDetail.FROM_SNAPSHOT)
        domain.started_at = time.monotonic()

    # ------------------------------------------------------------------ delete

    @hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            snap = domain.snapshot(name)
            if flags & (_CHILDREN | _CHILDREN_ONLY):
                doomed = _descendants(domain, name)
                if domain.current_snapshot in doomed:
                    domain.current_snapshot = name
                for child in doomed:
                    del domain.snapshots[child]
            else:
                for child, other in domain.snapshots.items():
                    if other.parent == name:
                        domain.snapshots[child] = other._replace(parent=snap.parent)
            if not flags & _CHILDREN_ONLY:
                if domain.current_snapshot == name:
                    domain.current_snapshot = snap.parent
                del domain.snapshots[name]
            domain.refresh()
