"""Reading one value out of XML a driver returned, through virtkit's one safe parser."""

from __future__ import annotations


def element_text(xml: str, root: str, path: str) -> str | None:
    """The stripped text of ``path`` under root element ``<root>``, ``None`` when absent."""
    from virtkit.xml.parser import parse_root

    element = parse_root(xml, root).find(path)
    if element is None:
        return None
    return (element.text or "").strip()


def domain_text(xml: str, path: str) -> str:
    """The text of ``path`` in a domain XML, ``""`` when absent."""
    return element_text(xml, "domain", path) or ""
