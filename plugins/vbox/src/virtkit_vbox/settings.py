"""VirtualBox machine settings files (``.vbox``): the machine, its media registry and its
snapshot tree, loaded and saved with the rules libvirt's vbox driver follows.

What the snapshot code works on is modelled (machine and snapshot identity, the hard disk
tree of the media registry, the snapshot tree); the rest of each machine or snapshot
(``Hardware``, ``ExtraData``, ``StorageControllers``, other media) is kept as serialized XML and
written back unchanged. Attributes the model does not name are kept too, after the named ones.
Files are written in VirtualBox's layout: ISO-8859-1, two-space indentation, the settings
namespace on the root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import attrs
from lxml import etree
from virtkit.errors import XMLError
from virtkit.state.files import fsync_folder, write_new_file
from virtkit.state.lock import FileLock
from virtkit.xml.parser import PARSER

NS = "http://www.innotek.de/VirtualBox-settings"
ENCODING = "ISO-8859-1"
HEADER = (
    f'<?xml version="1.0" encoding="{ENCODING}"?>\n'
    "<!--WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
    "OVERWRITTEN AND LOST.\n"
    "Changes to this xml configuration should be made using Virtualbox\n"
    "or other application using the libvirt API-->\n"
)
Attrs = tuple[tuple[str, str], ...]


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _fail(el: etree._Element, message: str) -> XMLError:
    path = el.getroottree().getpath(el)
    return XMLError(f".vbox {path} (line {el.sourceline}): {message}")


def _split(el: etree._Element, known: tuple[str, ...], required: tuple[str, ...]) -> Attrs:
    """Check ``required`` attributes are present; return the ones not in ``known``."""
    for name in required:
        if el.get(name) is None:
            raise _fail(el, f"missing attribute '{name}'")
    return tuple((k, v) for k, v in el.attrib.items() if k not in known)


def _raw(el: etree._Element) -> bytes:
    return bytes(etree.tostring(el, encoding="utf-8"))


def _set(el: etree._Element, pairs: list[tuple[str, str | None]], extra: Attrs) -> None:
    for name, value in [*pairs, *extra]:
        if value is not None:
            el.set(name, value)


def _append_raw(parent: etree._Element, data: bytes) -> None:
    parent.append(etree.fromstring(data, PARSER))


@attrs.frozen(kw_only=True)
class HardDisk:
    """One hard disk of the media registry; ``children`` are its differencing images."""

    uuid: str
    location: str
    format: str
    type: str | None = None
    children: tuple[HardDisk, ...] = ()
    extra: Attrs = ()

    KNOWN = ("uuid", "location", "format", "type")

    @classmethod
    def from_xml(cls, el: etree._Element) -> HardDisk:
        return cls(
            uuid=el.get("uuid", ""),
            location=el.get("location", ""),
            format=el.get("format", ""),
            type=el.get("type"),
            children=tuple(cls.from_xml(c) for c in el if c.tag == _q("HardDisk")),
            extra=_split(el, cls.KNOWN, ("uuid", "location", "format")),
        )

    def to_xml(self, parent: etree._Element) -> None:
        el = etree.SubElement(parent, _q("HardDisk"))
        pairs = [("uuid", self.uuid), ("location", self.location), ("format", self.format)]
        _set(el, [*pairs, ("type", self.type)], self.extra)
        for child in self.children:
            child.to_xml(el)

    def walk(self) -> Iterator[HardDisk]:
        yield self
        for child in self.children:
            yield from child.walk()


@attrs.frozen(kw_only=True)
class MediaRegistry:
    """The hard disk trees, and the other media lists (DVD, floppy) kept verbatim."""

    hard_disks: tuple[HardDisk, ...] = ()
    other_media: tuple[bytes, ...] = ()

    @classmethod
    def from_xml(cls, el: etree._Element) -> MediaRegistry:
        disks: list[HardDisk] = []
        other: list[bytes] = []
        for child in el:
            if child.tag == _q("HardDisks"):
                disks.extend(HardDisk.from_xml(d) for d in child if d.tag == _q("HardDisk"))
            elif isinstance(child.tag, str):
                other.append(_raw(child))
        return cls(hard_disks=tuple(disks), other_media=tuple(other))

    def to_xml(self, parent: etree._Element) -> None:
        el = etree.SubElement(parent, _q("MediaRegistry"))
        for data in self.other_media:
            _append_raw(el, data)
        disks = etree.SubElement(el, _q("HardDisks"))
        for disk in self.hard_disks:
            disk.to_xml(disks)

    def disks(self) -> Iterator[HardDisk]:
        """Every hard disk, parents before their children."""
        for disk in self.hard_disks:
            yield from disk.walk()


@attrs.frozen(kw_only=True)
class Snapshot:
    """One snapshot: identity, description, saved state file, the machine's hardware and
    storage controllers as they were (verbatim), and the snapshots taken from it."""

    uuid: str
    name: str
    time_stamp: str
    state_file: str | None = None
    description: str | None = None
    hardware: bytes | None = None
    storage_controllers: bytes | None = None
    children: tuple[Snapshot, ...] = ()
    extra: Attrs = ()

    KNOWN = ("uuid", "name", "timeStamp", "stateFile")

    @classmethod
    def from_xml(cls, el: etree._Element) -> Snapshot:
        values: dict[str, bytes | None] = {"hardware": None, "storage_controllers": None}
        description: str | None = None
        children: tuple[Snapshot, ...] = ()
        for child in el:
            if child.tag == _q("Description"):
                description = child.text or ""
            elif child.tag == _q("Hardware"):
                values["hardware"] = _raw(child)
            elif child.tag == _q("StorageControllers"):
                values["storage_controllers"] = _raw(child)
            elif child.tag == _q("Snapshots"):
                children = tuple(cls.from_xml(s) for s in child if s.tag == _q("Snapshot"))
            elif isinstance(child.tag, str):
                raise _fail(child, f"unexpected element <{etree.QName(child).localname}>")
        return cls(
            uuid=el.get("uuid", ""),
            name=el.get("name", ""),
            time_stamp=el.get("timeStamp", ""),
            state_file=el.get("stateFile"),
            description=description,
            children=children,
            extra=_split(el, cls.KNOWN, ("uuid", "name", "timeStamp")),
            **values,
        )

    def to_xml(self, parent: etree._Element) -> None:
        el = etree.SubElement(parent, _q("Snapshot"))
        pairs = [("uuid", self.uuid), ("name", self.name), ("timeStamp", self.time_stamp)]
        _set(el, [*pairs, ("stateFile", self.state_file)], self.extra)
        if self.description is not None:
            etree.SubElement(el, _q("Description")).text = self.description
        for data in (self.hardware, self.storage_controllers):
            if data is not None:
                _append_raw(el, data)
        if self.children:
            snapshots = etree.SubElement(el, _q("Snapshots"))
            for child in self.children:
                child.to_xml(snapshots)

    def walk(self, parent: Snapshot | None = None) -> Iterator[tuple[Snapshot, Snapshot | None]]:
        """``(snapshot, parent)`` for this snapshot and its descendants, depth first."""
        yield self, parent
        for child in self.children:
            yield from child.walk(self)


@attrs.frozen(kw_only=True)
class Machine:
    """The ``<Machine>`` element: identity, state, media registry, the current hardware
    (verbatim) and the root of the snapshot tree."""

    uuid: str
    name: str
    snapshot_folder: str
    os_type: str
    last_state_change: str
    current_state_modified: bool = False
    current_snapshot: str | None = None
    state_file: str | None = None
    media_registry: MediaRegistry = MediaRegistry()
    hardware: bytes | None = None
    extra_data: bytes | None = None
    storage_controllers: bytes | None = None
    snapshot: Snapshot | None = None
    extra: Attrs = ()

    KNOWN = (
        "uuid",
        "name",
        "currentSnapshot",
        "snapshotFolder",
        "currentStateModified",
        "OSType",
        "stateFile",
        "lastStateChange",
    )

    @classmethod
    def from_xml(cls, el: etree._Element) -> Machine:
        found: dict[str, bytes | None] = {}
        registry = MediaRegistry()
        snapshot: Snapshot | None = None
        verbatim = {"Hardware": "hardware", "ExtraData": "extra_data"}
        verbatim["StorageControllers"] = "storage_controllers"
        for child in el:
            if not isinstance(child.tag, str):
                continue
            local = etree.QName(child).localname
            if child.tag == _q("MediaRegistry"):
                registry = MediaRegistry.from_xml(child)
            elif child.tag == _q("Snapshot"):
                snapshot = Snapshot.from_xml(child)
            elif local in verbatim and etree.QName(child).namespace == NS:
                found[verbatim[local]] = _raw(child)
            else:
                raise _fail(child, f"unexpected element <{local}> in <Machine>")
        modified = el.get("currentStateModified", "false")
        if modified not in ("true", "false"):
            raise _fail(el, f"currentStateModified must be true or false, not '{modified}'")
        return cls(
            uuid=el.get("uuid", ""),
            name=el.get("name", ""),
            snapshot_folder=el.get("snapshotFolder", ""),
            os_type=el.get("OSType", ""),
            last_state_change=el.get("lastStateChange", ""),
            current_state_modified=modified == "true",
            current_snapshot=el.get("currentSnapshot"),
            state_file=el.get("stateFile"),
            media_registry=registry,
            snapshot=snapshot,
            extra=_split(el, cls.KNOWN, ("uuid", "name", "OSType", "lastStateChange")),
            **found,
        )

    def to_xml(self, parent: etree._Element) -> None:
        el = etree.SubElement(parent, _q("Machine"))
        _set(
            el,
            [
                ("uuid", self.uuid),
                ("name", self.name),
                ("currentSnapshot", self.current_snapshot),
                ("snapshotFolder", self.snapshot_folder),
                ("currentStateModified", "true" if self.current_state_modified else "false"),
                ("OSType", self.os_type),
                ("stateFile", self.state_file),
                ("lastStateChange", self.last_state_change),
            ],
            self.extra,
        )
        self.media_registry.to_xml(el)
        for data in (self.hardware, self.extra_data, self.storage_controllers):
            if data is not None:
                _append_raw(el, data)
        if self.snapshot is not None:
            self.snapshot.to_xml(el)

    def snapshots(self) -> Iterator[tuple[Snapshot, Snapshot | None]]:
        """Every snapshot with its parent, depth first from the root."""
        if self.snapshot is not None:
            yield from self.snapshot.walk()

    def find_snapshot(self, name_or_uuid: str) -> Snapshot | None:
        return next(
            (
                s
                for s, _ in self.snapshots()
                if name_or_uuid in (s.name, s.uuid.strip("{}"), s.uuid)
            ),
            None,
        )


@attrs.frozen(kw_only=True)
class SettingsFile:
    """A whole ``.vbox`` document: the settings ``version`` and the machine."""

    version: str
    machine: Machine
    extra: Attrs = ()

    def to_bytes(self) -> bytes:
        root = etree.Element(_q("VirtualBox"), nsmap={None: NS})
        _set(root, [("version", self.version)], self.extra)
        self.machine.to_xml(root)
        body = etree.tostring(root, encoding=ENCODING, pretty_print=True, xml_declaration=False)
        # lxml writes namespace declarations first; VirtualBox writes version first
        start = etree.Element("VirtualBox")
        _set(start, [("version", self.version), ("xmlns", NS)], self.extra)
        tag = (
            etree.tostring(start, encoding=ENCODING, xml_declaration=False).removesuffix(b"/>")
            + b">"
        )
        rest = bytes(body[body.index(b">") + 1 :]).rstrip(b"\n")
        return HEADER.encode(ENCODING) + bytes(tag) + rest + b"\n"

    def save(self, path: Path) -> None:
        """Write atomically (a new file renamed over the old one), locked across processes."""
        data = self.to_bytes()
        lock = FileLock(path.parent / f".{path.name}.lock")
        lock.acquire()
        try:
            tmp = path.parent / f".{path.name}.new"
            tmp.unlink(missing_ok=True)
            write_new_file(tmp, data)
            os.replace(tmp, path)
            fsync_folder(path.parent)
        finally:
            lock.release()


def _drop_layout(root: etree._Element) -> None:
    """Remove indentation (whitespace-only text between elements), so saving re-indents."""
    for el in root.iter():
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None


def parse_settings(data: bytes) -> SettingsFile:
    """Parse a ``.vbox`` document; :class:`XMLError` names what is wrong and where."""
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        raise XMLError(f"malformed .vbox file at line {line}: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise XMLError(f"line {root.sourceline}: DOCTYPE declarations are not accepted")
    _drop_layout(root)
    if root.tag != _q("VirtualBox"):
        raise XMLError(
            f'line {root.sourceline}: expected <VirtualBox xmlns="{NS}">, found <{root.tag}>'
        )
    machines = [c for c in root if c.tag == _q("Machine")]
    if len(machines) != 1:
        raise _fail(root, f"expected one <Machine>, found {len(machines)}")
    return SettingsFile(
        version=root.get("version", ""),
        machine=Machine.from_xml(machines[0]),
        extra=_split(root, ("version",), ("version",)),
    )


def load_settings(path: Path) -> SettingsFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise XMLError(f"cannot read VirtualBox settings file {path}: {exc.strerror}") from None
    try:
        return parse_settings(data)
    except XMLError as exc:
        raise XMLError(f"{path}: {exc.message}") from None
