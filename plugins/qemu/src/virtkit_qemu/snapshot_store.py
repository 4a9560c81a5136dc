"""Snapshot metadata of the QEMU driver, on the root's state store.

One domain's snapshots live in ``snapshots/<domain>/``: ``tree/<snapshot>.xml`` holds each
snapshot as libvirt-style ``<domainsnapshot>`` XML (name, description, state, parent, creation
time, memory, disks, and the domain definition it was taken with), ``current`` names the
current snapshot. Every change goes through :meth:`SnapshotTree.commit`, one transaction, so
the tree and the current pointer always agree, across crashes too; a new snapshot goes through
:meth:`SnapshotTree.add`, whose two steps are each consistent on their own.
"""

from __future__ import annotations

import attrs
from virtkit.errors import InvalidArgumentError, NoSnapshotError
from virtkit.records import SnapshotRecord
from virtkit.state import StateStore
from virtkit.xml import SnapshotDef, SnapshotLocation, SnapshotState, parse_snapshot

KEEP = object()
"""``commit(current=KEEP)`` leaves the current snapshot as it is."""


def check_name(name: str) -> None:
    """Snapshot names become file names: refuse the ones that cannot."""
    if not name or "/" in name or name.startswith(".") or "\0" in name:
        raise InvalidArgumentError(
            f"invalid snapshot name '{name}': it must not be empty, contain '/' or start with '.'"
        )


def is_external(definition: SnapshotDef) -> bool:
    return any(d.snapshot == SnapshotLocation.EXTERNAL for d in definition.disks)


def has_memory(definition: SnapshotDef) -> bool:
    """The snapshot holds the guest's memory (an internal snapshot of a running domain)."""
    return definition.memory == SnapshotLocation.INTERNAL and definition.state in (
        SnapshotState.RUNNING,
        SnapshotState.PAUSED,
    )


@attrs.frozen
class SnapshotTree:
    """The snapshots of the domain ``domain`` in ``state``."""

    state: StateStore
    domain: str

    @property
    def folder(self) -> str:
        return f"snapshots/{self.domain}"

    def _file(self, name: str) -> str:
        return f"{self.folder}/tree/{name}.xml"

    def names(self) -> list[str]:
        return self.state.list(f"{self.folder}/tree", ".xml")

    def find(self, name: str) -> SnapshotDef | None:
        text = self.state.read_text(self._file(name))
        return parse_snapshot(text) if text is not None else None

    def get(self, name: str) -> SnapshotDef:
        found = self.find(name)
        if found is None:
            raise NoSnapshotError(
                f"domain snapshot not found: no domain snapshot with matching name '{name}'"
            )
        return found

    def all(self) -> dict[str, SnapshotDef]:
        return {name: self.get(name) for name in self.names()}

    def current(self) -> str | None:
        text = self.state.read_text(f"{self.folder}/current")
        return text.strip() or None if text is not None else None

    def records(self) -> list[SnapshotRecord]:
        current = self.current()
        return [
            SnapshotRecord(
                name=name,
                parent=snap.parent,
                creation_time=snap.creation_time or 0,
                state=str(snap.state or SnapshotState.NOSTATE),
                location="external" if is_external(snap) else "internal",
                is_current=name == current,
            )
            for name, snap in self.all().items()
        ]

    def descendants(self, name: str) -> list[str]:
        """Every snapshot below ``name``, parents before children."""
        parents = {n: s.parent for n, s in self.all().items()}
        below: list[str] = []
        frontier = [name]
        while frontier:
            children = sorted(n for n, p in parents.items() if p in frontier)
            below += children
            frontier = children
        return below

    def commit(
        self,
        *,
        write: dict[str, str] | None = None,
        remove: tuple[str, ...] = (),
        current: object = KEEP,
    ) -> None:
        """Write and remove snapshot XML and move the current pointer, all at once."""
        with self.state.transaction() as batch:
            for name, xml in (write or {}).items():
                batch.write_text(self._file(name), xml)
            for name in remove:
                batch.remove(self._file(name))
            if current is not KEEP:
                batch.write_text(f"{self.folder}/current", str(current or ""))

    def add(self, name: str, xml: str) -> None:
        """Write a new snapshot and make it current, as two single-file writes instead of a
        journaled batch (3 fsyncs, not 8): a crash between them leaves the new snapshot in the
        tree with its parent still current, a state as valid as the one after. For that reason
        the pointer's folder is not synced either: a power loss may undo the move, as a crash
        before it would (the snapshot file, folder synced, is on disk before it)."""
        with self.state.lock():
            self.state.write_text(self._file(name), xml)
            with self.state.transaction(sync_folders=False) as batch:
                batch.write_text(f"{self.folder}/current", name)

    def remove_all(self) -> None:
        if self.state.exists(self.folder):
            self.state.remove_tree(self.folder)
