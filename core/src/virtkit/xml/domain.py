"""``<domain>``: the parts virtkit reads, and the whole document kept for a faithful round trip."""

from __future__ import annotations

import uuid as uuidlib

import attrs
from lxml import etree

from virtkit.errors import XMLError
from virtkit.xml.parser import PARSER, parse_root


@attrs.frozen(kw_only=True)
class DomainDef:
    """A parsed domain definition.

    ``name``, ``uuid`` (``None`` when absent) and ``type`` are read from the document; the
    document itself is kept as serialized bytes so that :meth:`to_xml` reproduces it.
    """

    name: str
    uuid: uuidlib.UUID | None
    type: str
    source: bytes = attrs.field(repr=False)

    def tree(self) -> etree._Element:
        """A fresh, mutable copy of the document's root element."""
        return etree.fromstring(self.source, PARSER)

    def to_xml(self) -> str:
        return etree.tostring(self.tree(), encoding="unicode") + "\n"

    def with_identity(self, *, name: str | None = None, uuid: uuidlib.UUID | None = None) -> DomainDef:
        """A copy with another name and/or UUID written into the document."""
        root = self.tree()
        for tag, value in (("name", name), ("uuid", str(uuid) if uuid else None)):
            if value is None:
                continue
            el = root.find(tag)
            if el is None:
                el = etree.SubElement(root, tag)
            el.text = value
        return parse_domain(etree.tostring(root))


def parse_domain(text: str | bytes) -> DomainDef:
    """Parse domain XML; raise :class:`XMLError` naming the element and line."""
    root = parse_root(text, "domain")
    dom_type = root.get("type")
    if not dom_type:
        raise XMLError(f"line {root.sourceline}: <domain> is missing attribute 'type'")
    name_el = root.find("name")
    if name_el is None or not (name_el.text or "").strip():
        raise XMLError(f"line {root.sourceline}: <domain> has no <name>")
    uuid_el = root.find("uuid")
    uuid = None
    if uuid_el is not None:
        try:
            uuid = uuidlib.UUID((uuid_el.text or "").strip())
        except ValueError:
            raise XMLError(
                f"line {uuid_el.sourceline}: <uuid> '{uuid_el.text}' is not a valid UUID"
            ) from None
    return DomainDef(
        name=name_el.text.strip(), uuid=uuid, type=dom_type, source=etree.tostring(root)
    )
