"""Snapshots of Xen domains (libvirt's Xen driver has none).

A snapshot is a copy of every file-backed disk (``disk-snapshot`` when taken alone) plus, for a
running domain, its memory as an ``xl save -c`` checkpoint image. Data and metadata live in
virtkit's store on the dom0: ``snapshots/<domain>/<name>.xml`` (the snapshot with its domain
definition), ``<name>.data/`` (``memory.save``, ``disk-<target>``) and ``.current``.

Revert follows the rule every virtkit driver keeps: the snapshot is passed down to
:meth:`start_from_snapshot`, which first puts the running domain and its disks aside, then
restores the snapshot, and only once the domain runs commits (current snapshot, definition);
if anything fails, the domain and its disks are brought back as they were.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import virtkit
from lxml import etree
from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainSnapshotCreateFlags,
    DomainSnapshotDeleteFlags,
    DomainSnapshotRevertFlags,
    DomainState,
)
from virtkit.errors import (
    ConfigUnsupportedError,
    ErrorDomain,
    InvalidArgumentError,
    NoSnapshotError,
    OperationInvalidError,
)
from virtkit.records import DomainRef, SnapshotRecord
from virtkit.xml import (
    SnapshotDef,
    SnapshotState,
    canonical_snapshot,
    format_snapshot,
    parse_domain,
    parse_snapshot,
)

from virtkit_xen.base import XenBase, definition_files
from virtkit_xen.remote import CommandError, quote
from virtkit_xen.store import locked, remove, write_file

if TYPE_CHECKING:
    from virtkit_xen.base import HostView


def file_disks(domain_xml: str) -> dict[str, str]:
    """Target device -> source file of the domain's file-backed disks."""
    root = parse_domain(domain_xml.encode()).tree()
    disks = {}
    for disk in root.iterfind("devices/disk[@device='disk']"):
        source, target = disk.find("source"), disk.find("target")
        if disk.get("type") == "file" and source is not None and target is not None:
            disks[target.get("dev", "")] = source.get("file", "")
    return disks


def _folder(dom: str) -> str:
    return f'"$S"/snapshots/{quote(dom)}'


def _copy_disks_script(dom: str, snap: str, disks: dict[str, str], *, back: bool) -> str:
    """Copy the disks into the snapshot (or, with ``back``, from it onto the disks)."""
    data = f"{_folder(dom)}/{quote(snap)}.data"
    lines = []
    for target, path in disks.items():
        copy = f"{data}/disk-{quote(target)}"
        src, dst = (copy, quote(path)) if back else (quote(path), copy)
        lines.append(f"cp --sparse=always {src} {dst}.vktmp && mv -f {dst}.vktmp {dst}")
    return "\n".join(lines) + "\n"


class SnapshotMixin(XenBase):
    """The snapshot hooks of :class:`virtkit_xen.driver.XenDriver`."""

    def _snapshots(self, dom: str) -> tuple[dict[str, SnapshotDef], str | None]:
        out = self.dom0.run(
            locked(
                f"cd {_folder(dom)} 2>/dev/null || exit 0\ncat .current 2>/dev/null; echo\n"
                'for f in *.xml; do [ -e "$f" ] || continue; printf "\\0"; cat "$f"; done'
            )
        )
        current, *docs = out.split("\0")
        snaps = {}
        for doc in docs:
            snap = parse_snapshot(doc)
            snaps[snap.name or ""] = snap
        return snaps, current.strip() or None

    def _snapshot(
        self, dom: str, name: str
    ) -> tuple[dict[str, SnapshotDef], str | None, SnapshotDef]:
        snaps, current = self._snapshots(dom)
        if name not in snaps:
            raise NoSnapshotError(
                f"no domain snapshot with matching name '{name}'", domain=ErrorDomain.XEN
            )
        return snaps, current, snaps[name]

    @virtkit.hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        if flags & DomainSnapshotCreateFlags.REDEFINE:
            raise ConfigUnsupportedError(
                "xen: redefining snapshot metadata is not supported", domain=ErrorDomain.XEN
            )
        view, record = self._find(dom)
        if not record.persistent:
            raise OperationInvalidError(
                "cannot snapshot a transient domain", domain=ErrorDomain.XEN
            )
        disk_only = bool(flags & DomainSnapshotCreateFlags.DISK_ONLY)
        active = record.state != DomainState.SHUTOFF
        if active:
            state = (
                SnapshotState.DISK_SNAPSHOT
                if disk_only
                else (
                    SnapshotState.PAUSED
                    if record.state == DomainState.PAUSED
                    else SnapshotState.RUNNING
                )
            )
        else:
            state = SnapshotState.DISK_SNAPSHOT if disk_only else SnapshotState.SHUTOFF
        snap = canonical_snapshot(definition, creation_time=int(time.time()), state=state)
        name = snap.name or ""
        snaps, current = self._snapshots(dom.name)
        if name in snaps:
            raise InvalidArgumentError(f"snapshot '{name}' already exists", domain=ErrorDomain.XEN)
        domain_xml = view.defined[dom.name]
        disks = file_disks(domain_xml)
        root = snap.tree()
        for tag in ("parent", "domain"):
            for el in root.findall(tag):
                root.remove(el)
        if current:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = current
        root.append(parse_domain(domain_xml.encode()).tree())
        doc = format_snapshot(SnapshotDef.from_xml(root), secure=True)
        data = f"{_folder(dom.name)}/{quote(name)}.data"
        vm = quote(dom.name)
        capture = f"mkdir -p {data}\n"
        if active:
            # the guest must run to suspend itself for the memory image; `-c -p` leaves it
            # paused right after, so the disks are copied at the same instant
            resume = (
                f"trap 'xl unpause {vm} 2>/dev/null' EXIT\n"
                if record.state != DomainState.PAUSED
                else ""
            )
            if disk_only:
                capture += f"xl pause {vm}\n{resume}" if resume else ""
            else:
                capture += "" if resume else f"xl unpause {vm}\n"
                capture += f"xl save -c -p {vm} {data}/memory.save >/dev/null 9>&-\n{resume}"
            capture += _copy_disks_script(dom.name, name, disks, back=False)
        else:
            capture += _copy_disks_script(dom.name, name, disks, back=False)
        commit = write_file(f"snapshots/{dom.name}/{name}.xml", doc) + write_file(
            f"snapshots/{dom.name}/.current", name + "\n"
        )
        try:
            self.dom0.run(locked(f"{capture}{commit}"))
        except CommandError:
            self.dom0.run(locked(f"rm -rf {data}"), check=False)
            raise
        return name

    @virtkit.hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        self._find(dom)
        snaps, current = self._snapshots(dom.name)
        return [
            SnapshotRecord(
                name=name,
                parent=snap.parent,
                creation_time=snap.creation_time or 0,
                state=str(snap.state or "nostate"),
                location="external",
                is_current=name == current,
            )
            for name, snap in snaps.items()
        ]

    @virtkit.hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, flags: int) -> str:
        self._find(dom)
        _, _, snap = self._snapshot(dom.name, name)
        return format_snapshot(snap, secure=bool(flags & 1))

    @virtkit.hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        view, record = self._find(dom)
        _, _, snap = self._snapshot(dom.name, name)
        with_memory = snap.state in (SnapshotState.RUNNING, SnapshotState.PAUSED)
        start = with_memory or bool(
            flags & (DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED)
        )
        paused = bool(flags & DomainSnapshotRevertFlags.PAUSED) or (
            snap.state == SnapshotState.PAUSED and not flags & DomainSnapshotRevertFlags.RUNNING
        )
        self.start_from_snapshot(view, dom.name, name, paused=paused, start=start)
        if record.state != DomainState.SHUTOFF:
            self._emit(
                dom.name,
                record.uuid,
                DomainEventType.STOPPED,
                DomainEventStoppedDetail.FROM_SNAPSHOT,
            )
        if start:
            self._emit(
                dom.name,
                record.uuid,
                DomainEventType.STARTED,
                DomainEventStartedDetail.FROM_SNAPSHOT,
            )

    def start_from_snapshot(
        self, view: HostView, dom: str, name: str, *, paused: bool, start: bool = True
    ) -> None:
        """Bring ``dom`` to snapshot ``name``: disks copied back, memory restored (when the
        snapshot has it, else a fresh boot if ``start``). The running domain is saved aside
        first; on failure it and its disks come back. Commits current snapshot and definition
        only after the domain runs."""
        _, _, snap = self._snapshot(dom, name)
        domain_el = snap.tree().find("domain")
        if domain_el is None:
            raise OperationInvalidError(
                f"snapshot '{name}' holds no domain definition", domain=ErrorDomain.XEN
            )
        snap_xml = etree.tostring(domain_el, encoding="unicode")
        disks = file_disks(snap_xml)
        folder, vm = _folder(dom), quote(dom)
        data = f"{folder}/{quote(name)}.data"
        rollback = f"{folder}/.rollback"
        was_running = dom in view.running
        # 1. put the present aside: the running domain's memory and the current disks
        aside = f"rm -rf {rollback}; mkdir -p {rollback}\n"
        if was_running:
            aside += f"xl save {vm} {rollback}/memory.save >/dev/null 9>&-\n"
        for target, path in disks.items():
            aside += f"cp --sparse=always {quote(path)} {rollback}/disk-{quote(target)}\n"
        self.dom0.run(locked(aside))
        try:
            # 2. the snapshot: disks back, then the domain restored or booted
            restore = _copy_disks_script(dom, name, disks, back=True)
            commit = (
                definition_files(dom, snap_xml)
                + write_file(f"snapshots/{dom}/.current", name + "\n")
                + f"rm -rf {rollback}\n"
            )
            if snap.state in (SnapshotState.RUNNING, SnapshotState.PAUSED):
                restore += self._start_script(dom, snap_xml, paused, f"{data}/memory.save")
            elif start:
                restore += self._start_script(dom, snap_xml, paused, None)
            self.dom0.run(locked(restore + commit))
        except Exception:
            undo = "".join(
                f"cp --sparse=always {rollback}/disk-{quote(t)} {quote(p)}\n"
                for t, p in disks.items()
            )
            undo += f"xl destroy {vm} 2>/dev/null || true\n"
            if was_running:
                undo += (
                    f"xl restore {'-p ' if view.running[dom].state == DomainState.PAUSED else ''}"
                    f"{rollback}/memory.save >/dev/null 9>&-\n"
                )
            self.dom0.run(locked(undo + f"rm -rf {rollback}\n"), check=False)
            raise

    @virtkit.hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        self._find(dom)
        snaps, current, _ = self._snapshot(dom.name, name)
        children: dict[str | None, list[str]] = {}
        for other, s in snaps.items():
            children.setdefault(s.parent, []).append(other)

        def below(n: str) -> list[str]:
            out = []
            for child in children.get(n, []):
                out += [child, *below(child)]
            return out

        if flags & DomainSnapshotDeleteFlags.CHILDREN_ONLY:
            doomed = below(name)
        elif flags & DomainSnapshotDeleteFlags.CHILDREN:
            doomed = [name, *below(name)]
        else:
            doomed = [name]
        script = ""
        metadata_only = bool(flags & DomainSnapshotDeleteFlags.METADATA_ONLY)
        for gone in doomed:
            script += remove(f"snapshots/{dom.name}/{gone}.xml")
            if not metadata_only:
                script += remove(f"snapshots/{dom.name}/{gone}.data")
        # children of a deleted snapshot move to its parent
        for gone in doomed:
            new_parent = snaps[gone].parent
            while new_parent in doomed:
                new_parent = snaps[new_parent].parent
            for child in children.get(gone, []):
                if child in doomed:
                    continue
                root = snaps[child].tree()
                for el in root.findall("parent"):
                    root.remove(el)
                if new_parent:
                    parent = etree.Element("parent")
                    etree.SubElement(parent, "name").text = new_parent
                    root.find("creationTime").addprevious(parent)
                script += write_file(
                    f"snapshots/{dom.name}/{child}.xml",
                    format_snapshot(SnapshotDef.from_xml(root), secure=True),
                )
        if current in doomed:
            new_current = snaps[current].parent
            while new_current in doomed:
                new_current = snaps[new_current].parent
            script += (
                write_file(f"snapshots/{dom.name}/.current", new_current + "\n")
                if new_current
                else remove(f"snapshots/{dom.name}/.current")
            )
        self.dom0.run(locked(script))
