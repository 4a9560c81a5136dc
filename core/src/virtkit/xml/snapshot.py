"""``<domainsnapshot>``: name, parent, state, description, and the whole document."""

from __future__ import annotations

import attrs
from lxml import etree

from virtkit.xml.parser import PARSER, parse_root


@attrs.frozen(kw_only=True)
class SnapshotDef:
    name: str | None
    description: str | None
    state: str | None
    parent: str | None
    creation_time: int | None
    memory: str | None
    source: bytes = attrs.field(repr=False)

    def tree(self) -> etree._Element:
        return etree.fromstring(self.source, PARSER)

    def to_xml(self) -> str:
        return etree.tostring(self.tree(), encoding="unicode") + "\n"


def _text(root: etree._Element, path: str) -> str | None:
    el = root.find(path)
    return el.text.strip() if el is not None and el.text else None


def parse_snapshot(text: str | bytes) -> SnapshotDef:
    root = parse_root(text, "domainsnapshot")
    created = _text(root, "creationTime")
    memory = root.find("memory")
    return SnapshotDef(
        name=_text(root, "name"),
        description=_text(root, "description"),
        state=_text(root, "state"),
        parent=_text(root, "parent/name"),
        creation_time=int(created) if created else None,
        memory=memory.get("snapshot") if memory is not None else None,
        source=etree.tostring(root),
    )
