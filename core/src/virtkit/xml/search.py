"""Path searches for the hot paths (checks, canonical steps): lxml's ``find`` and ``iterfind``
parse their path anew on every call, an XPath compiled once per path costs less."""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from lxml import etree


def find_all(parent: etree._Element, path: str) -> list[etree._Element]:
    """``parent.findall(path)`` for a path of plain tags, ``//``, ``[@name]`` and
    ``[@name='value']`` tests, or several such paths joined by ``|`` (matches in document
    order)."""
    return cast("list[etree._Element]", _compiled(path)(parent))


def has_element(root: etree._Element, *tags: str) -> bool:
    """Whether ``root`` or an element under it is named one of ``tags``: one walk of the tree in
    C, which tells that the elements a step or check concerns are absent (as most are in most
    domains) for less than it costs to look for them where they would be."""
    return next(root.iter(*tags), None) is not None


def find_first(parent: etree._Element, path: str) -> etree._Element | None:
    """``parent.find(path)``, for a path :func:`find_all` takes."""
    found = find_all(parent, path)
    return found[0] if found else None


@lru_cache(maxsize=128)
def _compiled(path: str) -> etree.XPath:
    return etree.XPath(path)
