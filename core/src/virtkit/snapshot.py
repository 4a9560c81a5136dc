"""Snapshot handles (libvirt's ``virDomainSnapshot``) and the tree walks shared by all drivers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from virtkit.constants import DomainSnapshotDeleteFlags as DeleteFlags
from virtkit.constants import DomainSnapshotListFlags as ListFlags
from virtkit.errors import InvalidArgumentError, NoSnapshotError
from virtkit.records import SnapshotRecord

if TYPE_CHECKING:
    from virtkit.domain import Domain

_CHILDREN = int(DeleteFlags.CHILDREN)
_CHILDREN_ONLY = int(DeleteFlags.CHILDREN_ONLY)
_METADATA_ONLY = int(DeleteFlags.METADATA_ONLY)
_ACTIVE_STATES = frozenset({"running", "paused", "blocked", "pmsuspended", "shutdown", "crashed"})


def _passes(record: SnapshotRecord, flags: int, is_leaf: bool) -> bool:
    def pair(yes: int, no: int, value: bool) -> bool:
        if not flags & (yes | no):
            return True
        return bool(flags & yes and value) or bool(flags & no and not value)

    states = ListFlags.INACTIVE | ListFlags.ACTIVE | ListFlags.DISK_ONLY
    state_ok = not flags & states or (
        (bool(flags & ListFlags.INACTIVE) and record.state == "shutoff")
        or (bool(flags & ListFlags.ACTIVE) and record.state in _ACTIVE_STATES)
        or (bool(flags & ListFlags.DISK_ONLY) and record.state == "disk-snapshot")
    )
    return (
        state_ok
        and pair(ListFlags.LEAVES, ListFlags.NO_LEAVES, is_leaf)
        and pair(ListFlags.METADATA, ListFlags.NO_METADATA, record.has_metadata)
        and pair(ListFlags.INTERNAL, ListFlags.EXTERNAL, record.location == "internal")
    )


def topological(records: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    """Records ordered so that every parent comes before its children (then by creation time)."""
    items = sorted(records, key=lambda r: (r.creation_time, r.name))
    children: dict[str | None, list[SnapshotRecord]] = {}
    names = {r.name for r in items}
    for r in items:
        children.setdefault(r.parent if r.parent in names else None, []).append(r)
    ordered: list[SnapshotRecord] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(children.get(node.name, [])))
    return ordered


def select_snapshots(
    records: Iterable[SnapshotRecord], *, parent: str | None, flags: int
) -> list[SnapshotRecord]:
    """Apply libvirt's snapshot list filters.

    With ``parent=None`` this is ``virDomainListAllSnapshots``: bit 1 means *roots only*.
    With a parent name it is ``virDomainSnapshotListAllChildren``: bit 1 means *all
    descendants* instead of direct children.
    """
    ordered = topological(records)
    by_parent: dict[str | None, list[SnapshotRecord]] = {}
    for r in ordered:
        by_parent.setdefault(r.parent, []).append(r)
    if parent is None:
        pool = by_parent.get(None, []) if flags & ListFlags.ROOTS else ordered
    elif flags & ListFlags.DESCENDANTS:
        pool = descendants(ordered, parent)
    else:
        pool = by_parent.get(parent, [])
    return [r for r in pool if _passes(r, flags, is_leaf=r.name not in by_parent)]


def descendants(records: Iterable[SnapshotRecord], name: str) -> list[SnapshotRecord]:
    """Every snapshot below ``name``, parents before children."""
    ordered = topological(records)
    below = {name}
    found = []
    for r in ordered:
        if r.parent in below:
            below.add(r.name)
            found.append(r)
    return found


class Snapshot:
    """One snapshot of a domain."""

    def __init__(self, domain: Domain, name: str) -> None:
        self._domain = domain
        self._name = name

    def __repr__(self) -> str:
        return f"<Snapshot {self._name} of {self._domain.name()}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Snapshot)
            and other._domain == self._domain
            and other._name == self._name
        )

    def __hash__(self) -> int:
        return hash((self._domain, self._name))

    def _record(self) -> SnapshotRecord:
        for record in self._domain._snapshot_records():
            if record.name == self._name:
                return record
        raise NoSnapshotError(
            f"domain snapshot not found: no domain snapshot with matching name '{self._name}'"
        )

    def get_name(self) -> str:
        return self._name

    def get_domain(self) -> Domain:
        return self._domain

    def get_parent(self) -> Snapshot:
        parent = self._record().parent
        if parent is None:
            raise NoSnapshotError(f"snapshot '{self._name}' does not have a parent")
        return Snapshot(self._domain, parent)

    def is_current(self, flags: int = 0) -> bool:
        return self._record().is_current

    def has_metadata(self, flags: int = 0) -> bool:
        return self._record().has_metadata

    def record(self) -> SnapshotRecord:
        return self._record()

    def list_all_children(self, flags: int = 0) -> list[Snapshot]:
        """Direct children, or with ``DESCENDANTS`` every snapshot below, filtered by ``flags``."""
        records = self._domain._snapshot_records()
        if not any(r.name == self._name for r in records):
            self._record()
        chosen = select_snapshots(records, parent=self._name, flags=flags)
        return [Snapshot(self._domain, r.name) for r in chosen]

    def num_children(self, flags: int = 0) -> int:
        return len(self.list_all_children(flags))

    def get_xml_desc(self, flags: int = 0) -> str:
        xml = self._domain._call(
            "virtkit_snapshot_get_xml", change=False, name=self._name, flags=flags
        )
        return str(xml)

    def delete(
        self,
        flags: int = 0,
        *,
        children: bool = False,
        children_only: bool = False,
        metadata_only: bool = False,
    ) -> None:
        # Plain ints: IntFlag arithmetic costs about a microsecond an operation.
        flags = int(flags)
        if children:
            flags |= _CHILDREN
        if children_only:
            flags |= _CHILDREN_ONLY
        if metadata_only:
            flags |= _METADATA_ONLY
        if flags & _CHILDREN and flags & _CHILDREN_ONLY:
            raise InvalidArgumentError(
                "delete flags 'children' and 'children_only' are mutually exclusive"
            )
        self._domain._call("virtkit_snapshot_delete", change=True, name=self._name, flags=flags)
