"""The ESX driver's snapshot hooks: vSphere's snapshot tree with libvirt's semantics."""

from __future__ import annotations

import time
from typing import Any

import virtkit
from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainSnapshotCreateFlags,
    DomainSnapshotDeleteFlags,
    DomainSnapshotRevertFlags,
    DomainState,
)
from virtkit.errors import (
    ErrorDomain,
    NoSnapshotError,
    NoSupportError,
    OperationInvalidError,
)
from virtkit.records import DomainRef, SnapshotRecord
from virtkit.xml import SnapshotDef

from virtkit_esx.base import ESXBase
from virtkit_esx.snapshots import SnapshotTree, snapshot_xml


class SnapshotHooks(ESXBase):
    """Create, list, describe, revert and delete snapshots."""

    # ------------------------------------------------------------------ snapshots

    @virtkit.hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        unsupported = ~(DomainSnapshotCreateFlags.QUIESCE | DomainSnapshotCreateFlags.DISK_ONLY)
        if flags & unsupported:
            raise NoSupportError(
                f"the ESX driver does not support snapshot flags "
                f"{DomainSnapshotCreateFlags(flags & unsupported)!r}",
                domain=ErrorDomain.ESX,
            )
        with self._lock:
            vm, props = self._vm(dom, *SnapshotTree.PATHS)
            name = definition.name or str(int(time.time()))
            if SnapshotTree.from_props(props).find(name) is not None:
                raise OperationInvalidError(
                    f"domain '{dom.name}' already has a snapshot named '{name}'",
                    domain=ErrorDomain.ESX,
                )
            memory = (
                props["runtime.powerState"] == "poweredOn"
                and not flags & DomainSnapshotCreateFlags.DISK_ONLY
            )
            self.session.run(
                f"snapshot '{name}' of domain '{dom.name}'",
                vm.CreateSnapshot_Task,
                name=name,
                description=definition.description or "",
                memory=memory,
                quiesce=bool(flags & DomainSnapshotCreateFlags.QUIESCE),
            )
            return name

    def _snapshot(self, dom: DomainRef, name: str) -> tuple[Any, str, SnapshotTree, Any]:
        """The VM, its power state, its snapshot tree and the snapshot ``name``."""
        vm, props = self._vm(dom, *SnapshotTree.PATHS)
        tree = SnapshotTree.from_props(props)
        node = tree.find(name)
        if node is None:
            raise NoSnapshotError(
                f"domain '{dom.name}' has no snapshot named '{name}'", domain=ErrorDomain.ESX
            )
        return vm, props["runtime.powerState"], tree, node

    @virtkit.hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        return SnapshotTree.from_props(self._vm(dom, *SnapshotTree.PATHS)[1]).records()

    @virtkit.hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str) -> str:
        _, _, tree, node = self._snapshot(dom, name)
        return snapshot_xml(tree, node, dom.uuid)

    @virtkit.hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        with self._lock:
            vm, before, _, node = self._snapshot(dom, name)
            self.session.run(
                f"revert of domain '{dom.name}' to snapshot '{name}'",
                node.snapshot.RevertToSnapshot_Task,
            )
            wanted = {"running": "poweredOn", "paused": "suspended"}.get(node.state, "poweredOff")
            if flags & DomainSnapshotRevertFlags.RUNNING:
                wanted = "poweredOn"
            elif flags & DomainSnapshotRevertFlags.PAUSED:
                wanted = "suspended"
            self._settle(vm, dom, before, wanted, name)
            self._revert_events(dom, before, wanted)

    def _settle(self, vm: Any, dom: DomainRef, before: str, wanted: str, name: str) -> None:
        """Bring the VM to the power state the revert asks for. ESX restores the snapshot's
        own state itself; vcsim 0.24 keeps the state from before the revert. When both are the
        wanted state there is nothing to check."""
        action = f"revert of domain '{dom.name}' to snapshot '{name}'"
        power = before if before == wanted else self._power(vm)
        if wanted == "poweredOff":
            if power != "poweredOff":
                self.session.run(action, vm.PowerOffVM_Task)
            return
        if power == "poweredOff":
            self.session.run(action, vm.PowerOnVM_Task)
            power = "poweredOn"
        if wanted == "suspended" and power == "poweredOn":
            self.session.run(action, vm.SuspendVM_Task)
        elif wanted == "poweredOn" and power == "suspended":
            self.session.run(action, vm.PowerOnVM_Task)

    def _revert_events(self, dom: DomainRef, before: str, after: str) -> None:
        if after == "poweredOff":
            self._note(dom, DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT)
            if before != "poweredOff":
                self._emit(dom, DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT)
            return
        if after == "suspended":
            self._note(dom, DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT)
        else:
            self._note(dom, DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT)
        self._emit(dom, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT)
        if after == "suspended":
            self._emit(dom, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT)

    @virtkit.hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        if flags & DomainSnapshotDeleteFlags.METADATA_ONLY:
            raise NoSupportError(
                "vSphere keeps no snapshot metadata apart from the data: "
                "METADATA_ONLY is not supported",
                domain=ErrorDomain.ESX,
            )
        with self._lock:
            _, _, tree, node = self._snapshot(dom, name)
            doomed = (
                tree.descendants(name)
                if flags
                & (DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.CHILDREN_ONLY)
                else []
            )
            if not flags & DomainSnapshotDeleteFlags.CHILDREN_ONLY:
                doomed.append(node)
            # one snapshot at a time, leaves first: the current snapshot then moves to its
            # parent at each step, as libvirt's semantics want (vcsim leaves a removed
            # snapshot current when a whole subtree goes at once)
            for victim in doomed:
                self.session.run(
                    f"deletion of snapshot '{victim.name}' of domain '{dom.name}'",
                    victim.snapshot.RemoveSnapshot_Task,
                    removeChildren=False,
                )
