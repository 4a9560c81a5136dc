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


def _drop_live_values(root: etree._Element) -> None:
    """What only a running domain has: allocated ports, device aliases, generated tap names,
    block job mirrors and the indexes of the backing chain."""
    for devices in root.iterchildren("devices"):
        for graphics in devices.iterchildren("graphics"):
            if graphics.get("autoport") == "yes":
                if graphics.get("type") == "vnc":
                    graphics.set("port", "-1")
                else:
                    graphics.attrib.pop("port", None)
                    graphics.attrib.pop("tlsPort", None)
            first = next(graphics.iterchildren("listen"), None)
            if first is not None and first.get("type") == "network":
                graphics.attrib.pop("listen", None)
            for network in graphics.iterfind("listen[@type='network']"):
                network.attrib.pop("address", None)
        for alias in list(devices.iterdescendants("alias")):
            if not (alias.get("name") or "").startswith("ua-"):
                parent = alias.getparent()
                if parent is not None:
                    parent.remove(alias)
        for disk in devices.iterchildren("disk"):
            for mirror in list(disk.iterchildren("mirror")):
                disk.remove(mirror)
            for source in (*disk.iterdescendants("source"), *disk.iterdescendants("backingStore")):
                source.attrib.pop("index", None)
        for interface in devices.iterchildren("interface"):
            for target in list(interface.iterchildren("target")):
                if (target.get("dev") or "").startswith(_GENERATED_TARGETS):
                    interface.remove(target)


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
    root = definition.tree()
    id = definition.id if id is None else id
    root.attrib.pop("id", None)
    if id is not None and id >= 0 and not inactive:
        attrib = dict(root.attrib)
        root.attrib.clear()
        root.set("type", attrib.pop("type", ""))
        root.set("id", str(id))
        root.attrib.update(attrib)
    if inactive or migratable:
        _drop_live_values(root)
    if not secure:
        for path, name in SECRET_ATTRIBUTES:
            for el in find_all(root, path):
                el.attrib.pop(name, None)
    return to_string(root, blank_free=drop_blank_text(root))
