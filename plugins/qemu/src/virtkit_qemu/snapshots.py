"""Snapshots of QEMU domains: create, list, dump, revert, delete (see DESIGN.md).

- With memory, of a running domain: an internal snapshot (``savevm``) in every qcow2 disk.
- Of a shut-off domain: an internal disk snapshot (``qemu-img snapshot -c``) of every disk.
- Disk-only (``DISK_ONLY``): external qcow2 overlays, live on a running domain
  (``blockdev-snapshot-sync`` in one QMP transaction); the domain goes on writing the overlays.

Reverting never leaves a half-done state. Loading a snapshot into a new QEMU goes through
:func:`start_from_snapshot`, the start routine's snapshot path: the images' content is marked
first (:class:`~virtkit_qemu.snapshot_disks.DiskGuard`), the new QEMU loads the snapshot, and
only once it runs do the saved config and the current snapshot change; if anything fails, the
images are put back and the error says what failed. A running domain whose config is the
snapshot's is reverted in place (``loadvm`` in its QEMU, after checking every disk has it); one
whose QEMU must be replaced is first kept as a temporary internal snapshot
(:class:`_RunningGuard`), from which it is started again if the revert fails.

Metadata: :mod:`virtkit_qemu.snapshot_store`; disks and block jobs:
:mod:`virtkit_qemu.snapshot_disks`.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid as uuidlib
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from lxml import etree
from virtkit import hookimpl
from virtkit.constants import (
    DomainCreateFlags,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from virtkit.constants import DomainEventStartedDetail as Started
from virtkit.constants import DomainSnapshotCreateFlags as Create
from virtkit.constants import DomainSnapshotDeleteFlags as Delete
from virtkit.constants import DomainSnapshotRevertFlags as Revert
from virtkit.errors import (
    ConfigUnsupportedError,
    ErrorCode,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
    XMLError,
)
from virtkit.records import DomainRef, SnapshotRecord
from virtkit.xml import (
    SnapshotDef,
    SnapshotLocation,
    SnapshotState,
    canonical_snapshot,
    format_snapshot,
    parse_domain,
    parse_snapshot,
)
from virtkit.xml.parser import parse_root

from virtkit_qemu import lifecycle
from virtkit_qemu.snapshot_disks import (
    Disk,
    DiskGuard,
    apply_internal_offline,
    create_internal_offline,
    create_overlay,
    delete_internal_offline,
    domain_disks,
    human,
    image_snapshots,
    open_image_snapshots,
    qemu_img,
    require_qcow2,
    require_snapshot,
    run_job,
    top_nodes,
    top_nodes_or_none,
    with_disk_sources,
)
from virtkit_qemu.snapshot_store import KEEP, SnapshotTree, check_name, has_memory, is_external

if TYPE_CHECKING:
    from virtkit_qemu.host import DomainEntry, QemuHost
    from virtkit_qemu.qmp import Monitor
    from virtkit_qemu.status import DomainStatus

log = logging.getLogger(__name__)

_UNSUPPORTED_CREATE = {
    Create.QUIESCE: "quiesce (needs a guest agent)",
    Create.REUSE_EXT: "reuse_ext (existing overlay files)",
}


def tree(host: QemuHost, name: str) -> SnapshotTree:
    return SnapshotTree(host.store.state, name)


def snapshot_count(host: QemuHost, name: str) -> int:
    return len(tree(host, name).names())


def remove_metadata(host: QemuHost, name: str) -> None:
    tree(host, name).remove_all()


def _same_config(one: str, other: str) -> bool:
    return parse_domain(one).to_xml() == parse_domain(other).to_xml()


def _with_parent(definition: SnapshotDef, parent: str | None, domain_xml: str | None = None) -> str:
    """The snapshot XML to store: ``definition`` with ``parent`` (and the domain definition
    ``domain_xml`` embedded, when given), in libvirt's element order."""
    root = definition.tree()
    for old in root.findall("parent"):
        root.remove(old)
    if parent is not None:
        etree.SubElement(etree.SubElement(root, "parent"), "name").text = parent
    if domain_xml is not None:
        for old in root.findall("domain"):
            root.remove(old)
        root.append(parse_root(domain_xml, "domain"))
    return canonical_snapshot(parse_snapshot(etree.tostring(root)), redefine=True).to_xml()


# --------------------------------------------------------------------------- start from one


def start_from_snapshot(host: QemuHost, entry: DomainEntry, snapshot: str, flags: int) -> None:
    """Start the inactive domain in the snapshot's state (the start routine's snapshot path);
    a transient ``entry`` (a running one whose QEMU a revert replaces) starts transient again.

    The new QEMU loads the snapshot before its CPUs run (a disk-only snapshot boots from its
    disks). The images are guarded, so a failure anywhere puts them back; the saved config
    and the current snapshot change only once the new QEMU runs. The caller holds the job lock.
    """
    snapshots = tree(host, entry.name)
    snap = snapshots.get(snapshot)
    config = _snapshot_config(entry, snap, force=True)
    disks = domain_disks(config)
    created: list[Path] = []
    if is_external(snap):
        config, created = _fresh_overlays(snap, config)
        disks = domain_disks(config)
        steps = []
    else:
        require_qcow2(disks, f"reverting to snapshot '{snapshot}'")
        require_snapshot(disks, snapshot)
        steps = [lambda mon: human(mon, f"loadvm {snapshot}")] if has_memory(snap) else []
    guard = DiskGuard(disks)
    guard.mark()
    try:
        if not steps and not is_external(snap):
            apply_internal_offline(disks, snapshot)
        status = lifecycle.start_domain(
            host,
            entry.name,
            entry.uuid,
            lifecycle.StartRequest(
                xml=config,
                paused=bool(flags & DomainCreateFlags.START_PAUSED),
                transient=entry.config is None,
                steps=steps,
                reason=DomainRunningReason.FROM_SNAPSHOT,
                event=Started.FROM_SNAPSHOT,
                new_genid=True,
            ),
        )
    except BaseException as exc:
        _undo(guard, exc)
        for path in created:
            path.unlink(missing_ok=True)
        raise
    try:
        with lifecycle.monitor(host, status) as mon:
            guard.release(mon, top_nodes(mon, disks))
    except VirtError as exc:  # the revert is done; a leftover mark is only untidy
        log.warning("could not delete the temporary snapshot %s: %s", guard.name, exc)
    _record_revert(host, entry, snapshots, snapshot, config)


def _undo(guard: DiskGuard, failure: BaseException) -> None:
    """Put the disks back after ``failure``; if that fails too, say both and where the
    content is kept."""
    try:
        guard.undo()
    except VirtError as exc:
        raise OperationFailedError(
            f"{failure}; and putting the disks back failed: {exc} (their content before the "
            f"revert is kept as internal snapshot '{guard.name}')"
        ) from failure


def _record_revert(
    host: QemuHost, entry: DomainEntry, snapshots: SnapshotTree, snapshot: str, config: str
) -> None:
    if entry.config is not None:
        host.store.write_config(entry.name, config)
    snapshots.commit(current=snapshot)


def _snapshot_config(entry: DomainEntry, snap: SnapshotDef, *, force: bool) -> str:
    embedded = snap.unknown("domain")
    if embedded is not None and embedded.element().find("name") is not None:
        return str(etree.tostring(embedded.element(), encoding="unicode"))
    if not force:
        raise VirtError(
            f"revert requires force: snapshot '{snap.name}' lacks domain '{entry.name}' "
            "rollback info",
            code=ErrorCode.SNAPSHOT_REVERT_RISKY,
        )
    if entry.config is None:
        raise OperationInvalidError(f"snapshot '{snap.name}' holds no domain definition")
    return entry.config


def _fresh_overlays(snap: SnapshotDef, config: str) -> tuple[str, list[Path]]:
    """New overlays on the images an external snapshot froze; the config moved onto them."""
    frozen = {d.target: d for d in domain_disks(config)}
    sources: dict[str, tuple[Path, str]] = {}
    created: list[Path] = []
    stamp = uuidlib.uuid4().hex[:8]
    try:
        for disk in frozen.values():
            overlay = disk.path.with_name(f"{disk.path.stem}.revert-{snap.name}-{stamp}.qcow2")
            create_overlay(disk, overlay)
            created.append(overlay)
            sources[disk.target] = (overlay, "qcow2")
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return with_disk_sources(config, sources), created


class _RunningGuard:
    """Lets a revert replace a running QEMU and still fail without a trace: the running guest
    is first saved as a temporary internal snapshot (``savevm``, when its disks are qcow2); if
    the revert fails, the domain is started again from it, as it was. Without qcow2 disks the
    old guest cannot be kept, and a failed revert leaves the domain shut off."""

    def __init__(self, host: QemuHost, entry: DomainEntry, status: DomainStatus) -> None:
        self.host, self.entry, self.status = host, entry, status
        self.xml = host.xml(entry)
        disks = domain_disks(self.xml)
        self.usable = bool(disks) and all(d.format == "qcow2" for d in disks)
        self.name = f"virtkit-guard-{uuidlib.uuid4().hex[:12]}"

    def __enter__(self) -> _RunningGuard:
        if self.usable:
            with lifecycle.monitor(self.host, self.status) as mon:
                human(mon, f"savevm {self.name}")
        return self

    def __exit__(self, kind: object, failure: BaseException | None, tb: object) -> None:
        if not self.usable:
            return
        if failure is None:
            self._forget()
            return
        try:
            lifecycle.start_domain(
                self.host,
                self.entry.name,
                self.entry.uuid,
                lifecycle.StartRequest(
                    xml=self.xml,
                    paused=self.status.state == DomainState.PAUSED,
                    steps=[lambda mon: human(mon, f"loadvm {self.name}")],
                    autodestroy=self.status.autodestroy is not None,
                    transient=self.status.transient,
                ),
            )
        except VirtError as exc:
            raise OperationFailedError(
                f"{failure}; and restarting the domain as it was failed: {exc} (its state is "
                f"kept as internal snapshot '{self.name}')"
            ) from failure
        self._forget()

    def _forget(self) -> None:
        """Delete the temporary snapshot, through the domain's QEMU if one holds the images.
        The revert is done by now: a failure here is only logged."""
        disks = domain_disks(self.xml)
        try:
            entry = self.host.get(self.entry.ref)
            if entry.active and entry.status is not None:
                with lifecycle.monitor(self.host, entry.status) as mon:
                    if top_nodes_or_none(mon, disks) is not None:
                        human(mon, f"delvm {self.name}")
                        return
            delete_internal_offline(disks, self.name)
        except VirtError as exc:
            log.warning("could not delete the temporary snapshot %s: %s", self.name, exc)


def _guest_state(mon: Monitor) -> SnapshotState:
    """Running or paused, asked of QEMU (the status file may lag behind its events)."""
    running = mon.execute("query-status")["running"]
    return SnapshotState.RUNNING if running else SnapshotState.PAUSED


# --------------------------------------------------------------------------- the hooks


class SnapshotHooks:
    """The snapshot hooks, mixed into :class:`virtkit_qemu.driver.QemuDriver`."""

    host: QemuHost

    # ------------------------------------------------------------------ create

    @hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        for flag, what in _UNSUPPORTED_CREATE.items():
            if flags & flag:
                raise ConfigUnsupportedError(f"snapshot flag {what} is not supported by QEMU")
        with self.host.store.job_lock(dom.uuid):
            entry = self.host.get(dom)
            snapshots = tree(self.host, entry.name)
            if flags & Create.REDEFINE:
                return self._redefine(entry, snapshots, definition, flags)
            now = int(time.time())
            active = entry.active and entry.status is not None
            disk_only = bool(flags & Create.DISK_ONLY)
            live = entry.status if active and not disk_only else None
            # One monitor session for the whole internal snapshot of a running domain.
            with (
                self.host.quick_monitor(live) if live is not None else contextlib.nullcontext()
            ) as mon:
                state = (
                    SnapshotState.DISK_SNAPSHOT
                    if disk_only
                    else _guest_state(mon)
                    if mon is not None
                    else SnapshotState.SHUTOFF
                )
                definition = canonical_snapshot(definition, creation_time=now, state=state)
                name = definition.name or str(now)
                check_name(name)
                if snapshots.find(name) is not None:
                    raise OperationInvalidError(f"domain snapshot '{name}' already exists")
                if flags & Create.HALT and entry.config is None:
                    raise OperationInvalidError("transient domain needs to remain running")
                config = self.host.xml(entry, inactive=True)
                if disk_only:
                    taken = self._take_external(entry, definition, name)
                else:
                    taken = self._take_internal(entry, definition, name, mon)
            memory = "internal" if mon is not None else "no"
            definition = _with_taken_disks(definition, memory, taken)
            if not flags & Create.NO_METADATA:
                xml = _with_parent(definition, snapshots.current(), config)
                snapshots.add(name, xml)
            if flags & Create.HALT and active and entry.status is not None:
                self.host.stop_and_record(entry.status, DomainShutoffReason.FROM_SNAPSHOT)
            return name

    def _take_internal(
        self, entry: DomainEntry, definition: SnapshotDef, name: str, mon: Monitor | None
    ) -> dict[str, Path | None]:
        """``savevm`` through ``mon`` (the running domain's monitor), else ``qemu-img``."""
        if any(d.snapshot == SnapshotLocation.EXTERNAL for d in definition.disks):
            raise ConfigUnsupportedError(
                "external disk snapshots are disk-only here: pass disk_only (--disk-only)"
            )
        disks = domain_disks(self.host.xml(entry))
        require_qcow2(disks, f"internal snapshot '{name}'")
        held = open_image_snapshots(mon, disks) if mon is not None else {}
        for disk in disks:
            names = held.get(disk.target)
            if name in (names if names is not None else image_snapshots(disk.path)):
                raise OperationInvalidError(
                    f"disk '{disk.target}' ({disk.path}) already holds a snapshot named '{name}'"
                )
        if mon is not None:
            human(mon, f"savevm {name}")
        else:
            create_internal_offline(disks, name)
        return {disk.target: None for disk in disks}

    def _take_external(
        self, entry: DomainEntry, definition: SnapshotDef, name: str
    ) -> dict[str, Path | None]:
        """Put every snapshotted disk on a new overlay (the saved config follows); return
        target -> overlay."""
        wanted = {d.name: d for d in definition.disks}
        current = domain_disks(self.host.xml(entry))
        plan: dict[str, tuple[Disk, Path]] = {}
        for disk in current:
            spec = wanted.get(disk.target)
            if spec is not None and spec.snapshot == SnapshotLocation.NO:
                continue
            source = spec.unknown("source") if spec is not None else None
            given = source.element().get("file") if source is not None else None
            plan[disk.target] = (disk, Path(given) if given else disk.path.with_suffix(f".{name}"))
        unknown = {str(n) for n in wanted} - {d.target for d in current}
        if unknown:
            raise InvalidArgumentError(f"no disk '{sorted(unknown)[0]}' to snapshot")
        for disk, overlay in plan.values():
            if overlay.exists():
                raise OperationFailedError(f"overlay {overlay} for disk '{disk.target}' exists")
        sources = {t: (overlay, "qcow2") for t, (_, overlay) in plan.items()}
        if entry.active and entry.status is not None:
            self._live_overlays(entry.status, plan)
        else:
            made: list[Path] = []
            try:
                for disk, overlay in plan.values():
                    create_overlay(disk, overlay)
                    made.append(overlay)
            except BaseException:
                for path in made:
                    path.unlink(missing_ok=True)
                raise
        if entry.config is not None:
            config = with_disk_sources(self.host.xml(entry, inactive=True), sources)
            self.host.store.write_config(entry.name, config)
        return {target: overlay for target, (_, overlay) in plan.items()}

    def _live_overlays(self, status: DomainStatus, plan: dict[str, tuple[Disk, Path]]) -> None:
        host = self.host
        with host.store.lock(), lifecycle.monitor(host, status) as mon:
            nodes = top_nodes(mon, [disk for disk, _ in plan.values()])
            stamp = int(time.time() * 1000) % 10**9
            actions = [
                {
                    "type": "blockdev-snapshot-sync",
                    "data": {
                        "node-name": nodes[target],
                        "snapshot-file": str(overlay),
                        "snapshot-node-name": f"ov-{target}-{stamp}",
                        "format": "qcow2",
                    },
                }
                for target, (_, overlay) in plan.items()
            ]
            mon.execute("transaction", actions=actions)
            live = host.store.live_xml(status.name) or host.xml(host.get(_ref(status)))
            sources = {t: (overlay, "qcow2") for t, (_, overlay) in plan.items()}
            host.store.write_status(status, with_disk_sources(live, sources))

    def _redefine(
        self, entry: DomainEntry, snapshots: SnapshotTree, definition: SnapshotDef, flags: int
    ) -> str:
        definition = canonical_snapshot(definition, redefine=True)
        name = definition.name
        if not name:
            raise XMLError("a redefined snapshot must have a <name>")
        check_name(name)
        if definition.state is None:
            raise XMLError(f"snapshot '{name}': a redefined snapshot must have a <state>")
        parent = definition.parent
        if parent is not None:
            if snapshots.find(parent) is None:
                raise InvalidArgumentError(f"parent '{parent}' for snapshot '{name}' not found")
            ancestor: str | None = parent
            while ancestor is not None:
                if ancestor == name:
                    raise InvalidArgumentError(
                        f"parent '{parent}' would create a cycle to '{name}'"
                    )
                found = snapshots.find(ancestor)
                ancestor = found.parent if found is not None else None
        if definition.domain_uuid not in (None, entry.uuid):
            raise InvalidArgumentError(
                f"definition for snapshot '{name}' must use uuid {entry.uuid}"
            )
        if definition.creation_time is None:
            definition = canonical_snapshot(
                definition, redefine=True, creation_time=int(time.time())
            )
        current = name if flags & Create.CURRENT else KEEP
        snapshots.commit(write={name: definition.to_xml()}, current=current)
        return name

    # ------------------------------------------------------------------ read

    @hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        return tree(self.host, self.host.get(dom).name).records()

    @hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, flags: int) -> str:
        snapshots = tree(self.host, self.host.get(dom).name)
        snap = snapshots.get(name)
        return format_snapshot(snap, domain_uuid=dom.uuid, secure=bool(flags & 1))

    # ------------------------------------------------------------------ revert

    @hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        host = self.host
        with host.store.job_lock(dom.uuid):
            entry = host.get(dom)
            snapshots = tree(host, entry.name)
            snap = snapshots.get(name)
            force = bool(flags & Revert.FORCE)
            config = _snapshot_config(entry, snap, force=force)
            run = has_memory(snap) or bool(flags & (Revert.RUNNING | Revert.PAUSED))
            paused = bool(flags & Revert.PAUSED) or (
                snap.state == SnapshotState.PAUSED and not flags & Revert.RUNNING
            )
            if entry.config is None and not run:
                raise OperationInvalidError(
                    "transient domain needs to have a running snapshot to revert to"
                )
            status = entry.status if entry.active else None
            if run and status is not None and has_memory(snap):
                live = host.store.live_xml(entry.name) or config
                if _same_config(live, config) or _same_config(entry.config or "", config):
                    self._revert_in_place(entry, status, snapshots, name, config, paused=paused)
                    return
                if not force:
                    raise VirtError(
                        f"revert requires force: the configuration of snapshot '{name}' "
                        f"differs from the running domain '{entry.name}'",
                        code=ErrorCode.SNAPSHOT_REVERT_RISKY,
                    )
            if status is None:
                self._revert_stopped(entry, snap, config, run=run, paused=paused)
                return
            with _RunningGuard(host, entry, status):
                host.stop_and_record(status, DomainShutoffReason.FROM_SNAPSHOT, restarting=True)
                self._revert_stopped(entry, snap, config, run=run, paused=paused)

    def _revert_stopped(
        self, entry: DomainEntry, snap: SnapshotDef, config: str, *, run: bool, paused: bool
    ) -> None:
        """Revert the shut-off domain ``entry`` (as it was before its QEMU stopped, if it ran:
        a transient one exists only in it then): start it from the snapshot, or revert only
        its disks. The caller holds the job lock."""
        assert snap.name is not None
        if run:
            start_flags = DomainCreateFlags.START_PAUSED if paused else DomainCreateFlags.NONE
            start_from_snapshot(self.host, entry, snap.name, int(start_flags))
            return
        entry = self.host.get(entry.ref)
        self._revert_offline(entry, tree(self.host, entry.name), snap, config)

    def _revert_in_place(
        self,
        entry: DomainEntry,
        status: DomainStatus,
        snapshots: SnapshotTree,
        name: str,
        config: str,
        *,
        paused: bool,
    ) -> None:
        host = self.host
        disks = domain_disks(host.store.live_xml(entry.name) or config)
        require_snapshot(disks, name)
        # Each QMP state change is recorded with it under the store lock, so the event
        # watcher finds its STOP and RESUME already recorded.
        stopped = attrs.evolve(
            status, state=DomainState.PAUSED, reason=int(DomainPausedReason.FROM_SNAPSHOT)
        )
        with lifecycle.monitor(host, status) as mon:
            with host.store.lock():
                mon.execute("stop")
                host.store.write_status(stopped)
            human(mon, f"loadvm {name}")
            if not paused:
                with host.store.lock():
                    mon.execute("cont")
                    host.store.write_status(
                        attrs.evolve(
                            status,
                            state=DomainState.RUNNING,
                            reason=int(DomainRunningReason.FROM_SNAPSHOT),
                        )
                    )
        _record_revert(host, entry, snapshots, name, config)

    def _revert_offline(
        self, entry: DomainEntry, snapshots: SnapshotTree, snap: SnapshotDef, config: str
    ) -> None:
        """Revert the disks of a shut-off domain; it stays shut off."""
        assert snap.name is not None
        if is_external(snap):
            config, created = _fresh_overlays(snap, config)
            try:
                _record_revert(self.host, entry, snapshots, snap.name, config)
            except BaseException:
                for path in created:
                    path.unlink(missing_ok=True)
                raise
            return
        disks = domain_disks(config)
        require_snapshot(disks, snap.name)
        guard = DiskGuard(disks)
        guard.mark()
        try:
            apply_internal_offline(disks, snap.name)
            _record_revert(self.host, entry, snapshots, snap.name, config)
        except BaseException as exc:
            _undo(guard, exc)
            raise
        guard.release(None, {})

    # ------------------------------------------------------------------ delete

    @hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        host = self.host
        with host.store.job_lock(dom.uuid):
            entry = host.get(dom)
            snapshots = tree(host, entry.name)
            snap = snapshots.get(name)
            doomed = []
            if flags & (Delete.CHILDREN | Delete.CHILDREN_ONLY):
                doomed = snapshots.descendants(name)
            if not flags & Delete.CHILDREN_ONLY:
                doomed.append(name)
            if not flags & Delete.METADATA_ONLY:
                for victim in reversed(doomed):  # children first
                    self._delete_data(entry, snapshots.get(victim))
                    entry = host.get(dom)
            survivors = {n: s for n, s in snapshots.all().items() if n not in doomed}
            rewrites = {}
            for child, child_snap in survivors.items():
                parent = child_snap.parent
                while parent in doomed:
                    parent = snapshots.get(parent).parent
                if parent != child_snap.parent:
                    rewrites[child] = _with_parent(child_snap, parent)
            current = snapshots.current()
            new_current: object = KEEP
            if current in doomed:
                new_current = name if flags & Delete.CHILDREN_ONLY else snap.parent
            snapshots.commit(write=rewrites, remove=tuple(doomed), current=new_current)

    def _delete_data(self, entry: DomainEntry, snap: SnapshotDef) -> None:
        assert snap.name is not None
        if is_external(snap):
            self._merge_overlays(entry, snap)
            return
        host = self.host
        if entry.active and entry.status is not None:
            with lifecycle.monitor(host, entry.status) as mon:
                human(mon, f"delvm {snap.name}")
            return
        disks = domain_disks(_snapshot_config(entry, snap, force=True))
        disks += domain_disks(host.xml(entry, inactive=True))
        delete_internal_offline({d.path: d for d in disks}.values(), snap.name)

    def _merge_overlays(self, entry: DomainEntry, snap: SnapshotDef) -> None:
        """Merge an external snapshot's overlays into the images they froze (block commit),
        when they are what the domain writes to now; the domain goes back to those images."""
        host = self.host
        frozen = {d.target: d for d in domain_disks(_snapshot_config(entry, snap, force=True))}
        current = {d.target: d for d in domain_disks(host.xml(entry))}
        overlays = {}
        for spec in snap.disks:
            if spec.snapshot != SnapshotLocation.EXTERNAL or spec.name not in frozen:
                continue
            source = spec.unknown("source")
            overlay = source.element().get("file") if source is not None else None
            disk = current.get(spec.name)
            if disk is None or overlay is None or str(disk.path) != overlay:
                raise OperationInvalidError(
                    f"cannot delete external snapshot '{snap.name}': its overlay of disk "
                    f"'{spec.name}' is not the image the domain writes to; delete it with "
                    "metadata_only (--metadata)"
                )
            overlays[spec.name] = disk
        base_sources = {t: (frozen[t].path, frozen[t].format) for t in overlays}
        if entry.active and entry.status is not None:
            status = entry.status
            with lifecycle.monitor(host, status) as mon:
                nodes = top_nodes(mon, overlays.values())
                for target in overlays:
                    job = f"commit-{target}"
                    args = {"job-id": job, "device": nodes[target], "auto-dismiss": False}
                    mon.call("block-commit", args)
                    run_job(mon, job, f"merging overlay of '{target}'", complete_when_ready=True)
            with host.store.lock():
                live = host.store.live_xml(status.name) or ""
                host.store.write_status(status, with_disk_sources(live, base_sources))
        else:
            for target, disk in overlays.items():
                qemu_img("commit", "-q", str(disk.path), what=f"merge overlay of '{target}'")
        if entry.config is not None:
            host.store.write_config(
                entry.name, with_disk_sources(host.xml(entry, inactive=True), base_sources)
            )
        for disk in overlays.values():
            disk.path.unlink(missing_ok=True)


def _with_taken_disks(
    definition: SnapshotDef, memory: str, taken: dict[str, Path | None]
) -> SnapshotDef:
    """``definition`` with ``<memory>`` and a ``<disks>`` entry per disk: internal, or external
    with the overlay (``taken[target]``) that now holds the domain's writes."""
    root = definition.tree()
    for tag in ("memory", "disks"):
        for old in root.findall(tag):
            root.remove(old)
    etree.SubElement(root, "memory", snapshot=memory)
    disks = etree.SubElement(root, "disks")
    for target, overlay in taken.items():
        if overlay is None:
            etree.SubElement(disks, "disk", name=target, snapshot="internal")
            continue
        disk = etree.SubElement(disks, "disk", name=target, snapshot="external", type="file")
        etree.SubElement(disk, "driver", type="qcow2")
        etree.SubElement(disk, "source", file=str(overlay))
    return canonical_snapshot(parse_snapshot(etree.tostring(root)), redefine=True)


def _ref(status: DomainStatus) -> DomainRef:
    return DomainRef(name=status.name, uuid=status.uuid)
