"""The one safe XML parser: no entities, no DTD loading, no network."""

from __future__ import annotations

from lxml import etree

from virtkit.errors import XMLError

PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=False,
    remove_blank_text=True,
)


def parse_root(text: str | bytes, expected: str) -> etree._Element:
    """Parse a document whose root must be ``<expected>``; errors name the line."""
    data = text.encode() if isinstance(text, str) else text
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        raise XMLError(f"malformed XML at line {line}: {exc.msg}") from None
    if root is None:
        raise XMLError("empty XML document")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise XMLError(f"line {root.sourceline}: DOCTYPE declarations are not accepted")
    if root.tag != expected:  # another name, or a namespace ("{uri}name")
        raise XMLError(
            f"line {root.sourceline}: expected root element <{expected}>, "
            f"found <{etree.QName(root).localname}>"
        )
    return root
