"""libvirt's output of a domain: live or inactive form, with or without secrets."""

from __future__ import annotations

from lxml import etree

from virtkit.xml.domain import DomainDef
from virtkit.xml.search import find_all
from virtkit.xml.serialize import drop_blank_text, to_string

#: attributes holding secrets, dropped unless the caller may see them (``secure``)
SECRET_ATTRIBUTES = (("devices/graphics", "passwd"),)

#: interface target names libvirt generates, which an inactive definition does not keep
_GENERATED_TARGETS = ("vnet", "macvtap", "macvlan", "vif")


#: the elements :func:`_drop_live_values` may change, found in one search
_LIVE_VALUE_HOLDERS = " | ".join(
    (
        "devices/graphics",
        "devices//alias",
        "devices/disk/mirror",
        "devices/disk//source[@index]",
        "devices/disk//backingStore[@index]",
        "devices/interface/target[@dev]",
    )
)


def _drop_live_values(root: etree._Element) -> None:
    """What only a running domain has: allocated ports, device aliases, generated tap names,
    block job mirrors and the indexes of the backing chain."""
    for el in find_all(root, _LIVE_VALUE_HOLDERS):
        tag = el.tag
        if tag == "graphics":
            _drop_allocated_listen(el)
        elif tag == "alias":
            if not (el.get("name") or "").startswith("ua-"):
                _remove(el)
        elif tag == "mirror":
            _remove(el)
        elif tag == "target":
            if el.get("dev", "").startswith(_GENERATED_TARGETS):
                _remove(el)
        else:  # a <source> or <backingStore> of the backing chain
            del el.attrib["index"]


def _drop_allocated_listen(graphics: etree._Element) -> None:
    """A graphics device's ports allocated at start and the addresses of networks it listens on."""
    if graphics.get("autoport") == "yes":
        if graphics.get("type") == "vnc":
            graphics.set("port", "-1")
        else:
            graphics.attrib.pop("port", None)
            graphics.attrib.pop("tlsPort", None)
    first = next(graphics.iterchildren("listen"), None)
    if first is not None and first.get("type") == "network":
        graphics.attrib.pop("listen", None)
    for network in find_all(graphics, "listen[@type='network']"):
        network.attrib.pop("address", None)


def _remove(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is not None:
        parent.remove(el)


def format_domain(
    definition: DomainDef,
    *,
    inactive: bool = False,
    secure: bool = False,
    migratable: bool = False,
    id: int | None = None,
) -> str:
    """``definition`` as libvirt writes it (give it a :func:`canonical` definition).

    ``id``: the running domain's id, written as ``<domain id='N'>`` in the live form
    (default: the definition's own ``id``, as a live parse keeps it).
    ``inactive``: the persistent configuration, without live-only values.
    ``secure``: keep secrets such as ``<graphics passwd=...>``.
    ``migratable``: the form sent to a migration destination: no live-only values either.
    """
    if id is None:
        id = definition.id
    written_id = str(id) if id is not None and id >= 0 and not inactive else None
    drop_live = inactive or migratable
    stored = definition._built
    if (
        stored is not None
        and written_id is None
        and stored.get("id") is None
        and not (drop_live and find_all(stored, _LIVE_VALUE_HOLDERS))
        and (secure or not _secrets(stored))
    ):
        return definition.to_xml()  # nothing to change: written as it is, without a copy
    root = definition.tree()
    root.attrib.pop("id", None)
    if written_id is not None:
        attrib = dict(root.attrib)
        root.attrib.clear()
        root.set("type", attrib.pop("type", ""))
        root.set("id", written_id)
        root.attrib.update(attrib)
    if drop_live:
        _drop_live_values(root)
    if not secure:
        for el, name in _secrets(root):
            del el.attrib[name]
    return to_string(root, blank_free=drop_blank_text(root))


def _secrets(root: etree._Element) -> list[tuple[etree._Element, str]]:
    """The elements of ``root`` holding a secret, each with the attribute that holds it."""
    return [
        (el, name)
        for path, name in SECRET_ATTRIBUTES
        for el in find_all(root, path)
        if el.get(name) is not None
    ]
