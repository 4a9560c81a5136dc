"""``<domainsnapshot>``: parse faithfully, apply libvirt's parse rules, format libvirt's form."""

from __future__ import annotations

import enum
import uuid as uuidlib
from typing import Any, ClassVar

import attrs
from lxml import etree

from virtkit.xml.canonical.order import insert_child, set_attrs_first, sort_children
from virtkit.xml.domain import DomainDef, Name, domain_from_tree
from virtkit.xml.node import Attr, Element, fail, text_element
from virtkit.xml.parser import parse_root
from virtkit.xml.serialize import drop_blank_text, to_string


class SnapshotState(enum.StrEnum):
    """The domain state a snapshot captured (``disk-snapshot``: disks only)."""

    NOSTATE = "nostate"
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    PMSUSPENDED = "pmsuspended"
    DISK_SNAPSHOT = "disk-snapshot"


class SnapshotLocation(enum.StrEnum):
    """Where a snapshot keeps memory or a disk: ``no``, ``internal``, ``external``, ``manual``."""

    NO = "no"
    INTERNAL = "internal"
    EXTERNAL = "external"
    MANUAL = "manual"


#: children of <domainsnapshot> in the order libvirt writes them
SNAPSHOT_ORDER = (
    "name",
    "description",
    "state",
    "parent",
    "creationTime",
    "memory",
    "disks",
    "domain",
    "inactiveDomain",
    "cookie",
    "active",
)

SnapshotDescription = text_element("description")
SnapshotStateElement = text_element("state", SnapshotState)
CreationTime = text_element("creationTime", int)
Active = text_element("active", int)


@attrs.frozen(kw_only=True)
class SnapshotParent(Element):
    """``<parent><name>..</name></parent>``."""

    TAG = "parent"
    CHILDREN: ClassVar[dict[str, type[Element]]] = {"name": Name}


@attrs.frozen(kw_only=True)
class SnapshotMemory(Element):
    """``<memory snapshot=... file=...>``: how the guest's memory is saved."""

    TAG = "memory"
    ATTRS = (Attr(xml="snapshot", type=SnapshotLocation), Attr(xml="file"))
    snapshot: SnapshotLocation | None = None
    file: str | None = None


@attrs.frozen(kw_only=True)
class SnapshotDisk(Element):
    """``<disk name=... snapshot=... type=...>`` with its new ``<source>`` and ``<driver>``."""

    TAG = "disk"
    ATTRS = (Attr(xml="name"), Attr(xml="snapshot", type=SnapshotLocation), Attr(xml="type"))
    name: str | None = None
    snapshot: SnapshotLocation | None = None
    type: str | None = None

    @classmethod
    def check(cls, el: etree._Element, values: dict[str, Any]) -> None:
        if not values.get("name"):
            raise fail(el, "missing name from disk snapshot element")


@attrs.frozen(kw_only=True)
class SnapshotDisks(Element):
    TAG = "disks"
    CHILDREN: ClassVar[dict[str, type[Element]]] = {"disk": SnapshotDisk}


@attrs.frozen(kw_only=True)
class SnapshotDef(Element):
    """A parsed snapshot definition; the embedded ``<domain>`` is kept as written."""

    TAG = "domainsnapshot"
    CHILDREN: ClassVar[dict[str, type[Element]]] = {
        "name": Name,
        "description": SnapshotDescription,
        "state": SnapshotStateElement,
        "parent": SnapshotParent,
        "creationTime": CreationTime,
        "memory": SnapshotMemory,
        "disks": SnapshotDisks,
        "active": Active,
    }

    @property
    def name(self) -> str | None:
        value = self.child_text(Name)
        return str(value).strip() if value is not None else None

    @property
    def description(self) -> str | None:
        value: str | None = self.child_text(SnapshotDescription)
        return value

    @property
    def state(self) -> SnapshotState | None:
        value: SnapshotState | None = self.child_text(SnapshotStateElement)
        return value

    @property
    def parent(self) -> str | None:
        parent = self.find(SnapshotParent)
        value = parent.child_text(Name) if parent is not None else None
        return str(value).strip() if value else None

    @property
    def creation_time(self) -> int | None:
        value: int | None = self.child_text(CreationTime)
        return value

    @property
    def memory(self) -> SnapshotLocation | None:
        found = self.find(SnapshotMemory)
        return found.snapshot if found is not None else None

    @property
    def memory_file(self) -> str | None:
        found = self.find(SnapshotMemory)
        return found.file if found is not None else None

    @property
    def disks(self) -> tuple[SnapshotDisk, ...]:
        found = self.find(SnapshotDisks)
        return tuple(found.iter(SnapshotDisk)) if found is not None else ()

    @property
    def active(self) -> bool:
        """The ``<active>1</active>`` marker of libvirt's internal (saved) form."""
        return bool(self.child_text(Active))

    @property
    def domain(self) -> DomainDef | None:
        """The embedded full ``<domain>`` (redefine form), or None when there is none."""
        found = self.unknown("domain")
        if found is None:
            return None
        el = found.element()
        return domain_from_tree(el) if el.get("type") and el.find("name") is not None else None

    @property
    def domain_uuid(self) -> uuidlib.UUID | None:
        """The UUID of the domain the snapshot belongs to, when the document names it."""
        found = self.unknown("domain")
        text = found.element().findtext("uuid") if found is not None else None
        return uuidlib.UUID(text.strip()) if text else None

    def tree(self) -> etree._Element:
        root = etree.Element(self.TAG)
        self.fill(root)
        return root

    def to_xml(self) -> str:
        """The faithful document as text, in libvirt's layout."""
        return to_string(self.tree())


def parse_snapshot(text: str | bytes) -> SnapshotDef:
    """Parse snapshot XML faithfully.

    Raises :class:`~virtkit.errors.XMLError` naming the element and line."""
    root = parse_root(text, "domainsnapshot")
    return SnapshotDef.from_xml(root)


def _canonical_disks(root: etree._Element) -> None:
    """A disk with a new source or format is an external snapshot (of a file unless said
    otherwise); empty ``<source/>`` and ``<driver/>`` say nothing and go; driver before source."""
    for disk in root.iterfind("disks/disk"):
        for tag in ("source", "driver"):
            for empty in disk.findall(tag):
                if not empty.attrib and len(empty) == 0:
                    disk.remove(empty)
        source = disk.find("source")
        has_format = disk.find("driver[@type]") is not None
        if disk.get("snapshot") is None and (source is not None or has_format):
            disk.set("snapshot", SnapshotLocation.EXTERNAL.value)
        if disk.get("snapshot") == SnapshotLocation.EXTERNAL.value and disk.get("type") is None:
            disk.set("type", "file")
        set_attrs_first(
            disk, {k: disk.get(k, "") for k in ("name", "snapshot", "type") if disk.get(k)}
        )
        sort_children(disk, ("driver", "source"))


def canonical_snapshot(
    definition: SnapshotDef,
    *,
    redefine: bool = False,
    internal: bool = False,
    creation_time: int | None = None,
    state: SnapshotState | None = None,
) -> SnapshotDef:
    """libvirt's parse rules: a new snapshot (not ``redefine``) ignores the state, parent,
    creation time and domain the document may carry; ``creation_time`` and ``state`` are then
    set by the caller (the driver), and an unnamed snapshot is named after its creation time.
    ``<active>`` is only read in libvirt's ``internal`` (saved) form."""
    root = definition.tree()
    if not redefine:
        for tag in ("state", "parent", "creationTime", "domain", "inactiveDomain", "cookie"):
            for el in root.findall(tag):
                root.remove(el)
    if not internal:
        for el in root.findall("active"):
            root.remove(el)
    if creation_time is not None:
        for el in root.findall("creationTime"):
            root.remove(el)
        insert_child(root, "creationTime", SNAPSHOT_ORDER).text = str(creation_time)
    if state is not None:
        found = root.find("state")
        if found is None:
            found = insert_child(root, "state", SNAPSHOT_ORDER)
        found.text = state.value
    name = root.find("name")
    created = root.findtext("creationTime")
    if (name is None or not (name.text or "").strip()) and created:
        if name is None:
            name = insert_child(root, "name", SNAPSHOT_ORDER)
        name.text = created.strip()
    _canonical_disks(root)
    sort_children(root, SNAPSHOT_ORDER)
    return SnapshotDef.from_xml(root)


def format_snapshot(
    definition: SnapshotDef,
    *,
    domain_uuid: uuidlib.UUID | str | None = None,
    internal: bool = False,
    current: bool | None = None,
    secure: bool = False,
) -> str:
    """``definition`` as libvirt writes it: ``domain_uuid`` names the domain when no full
    ``<domain>`` is embedded; ``internal`` writes the ``<active>`` marker of the current
    snapshot (``current`` overrides the one parsed); without ``secure`` the embedded domain
    loses its secrets."""
    from virtkit.xml.format import SECRET_ATTRIBUTES

    root = definition.tree()
    if domain_uuid is not None and root.find("domain") is None:
        domain = insert_child(root, "domain", SNAPSHOT_ORDER)
        etree.SubElement(domain, "uuid").text = str(domain_uuid)
    for el in root.findall("active"):
        root.remove(el)
    is_current = definition.active if current is None else current
    if internal:
        insert_child(root, "active", SNAPSHOT_ORDER).text = "1" if is_current else "0"
    if not secure:
        for tag in ("domain", "inactiveDomain"):
            for path, name in SECRET_ATTRIBUTES:
                for el in root.iterfind(f"{tag}/{path}"):
                    el.attrib.pop(name, None)
    return to_string(root, blank_free=drop_blank_text(root))
