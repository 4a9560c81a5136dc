"""``<domain>``: the root element and the general elements read by the rest of virtkit."""

from __future__ import annotations

import builtins
import enum
import uuid as uuidlib
from typing import Any, ClassVar

import attrs
from lxml import etree

from virtkit.xml.devices import Devices
from virtkit.xml.node import Attr, Element, Unknown, fail, text_element
from virtkit.xml.os import OS
from virtkit.xml.parser import parse_root
from virtkit.xml.serialize import HAS_COMMENTS, drop_blank_text, is_blank_free, to_string
from virtkit.xml.units import to_kib


class DomainType(enum.StrEnum):
    """The hypervisor a definition is meant for (``<domain type=...>``)."""

    NONE = "none"
    QEMU = "qemu"
    KQEMU = "kqemu"
    KVM = "kvm"
    XEN = "xen"
    LXC = "lxc"
    UML = "uml"
    OPENVZ = "openvz"
    TEST = "test"
    VMWARE = "vmware"
    HYPERV = "hyperv"
    VBOX = "vbox"
    PHYP = "phyp"
    PARALLELS = "parallels"
    BHYVE = "bhyve"
    VZ = "vz"
    HVF = "hvf"


def _uuid(text: str) -> uuidlib.UUID:
    return uuidlib.UUID(text.strip())


def _genid(text: str) -> uuidlib.UUID | None:
    """A VM generation ID; empty asks for a random one (see ``canonical``)."""
    return _uuid(text) if text.strip() else None


Name = text_element("name")
Uuid = text_element("uuid", _uuid)
Genid = text_element("genid", _genid)
Title = text_element("title")
Description = text_element("description")


@attrs.frozen(kw_only=True)
class ScaledMemory(Element):
    """An amount of memory with a ``unit`` (default KiB)."""

    TEXT = int
    ATTRS = (Attr(xml="slots", type=int), Attr(xml="dumpCore", field="dump_core"), Attr(xml="unit"))
    text: int | None = None
    slots: int | None = None
    dump_core: str | None = None
    unit: str | None = None

    @classmethod
    def check(cls, el: etree._Element, values: dict[str, Any]) -> None:
        if values.get("text") is None:
            raise fail(el, "missing amount")
        try:
            to_kib(values["text"], values.get("unit"))
        except ValueError as exc:
            raise fail(el, str(exc)) from None

    @property
    def kib(self) -> int:
        """The amount in KiB."""
        return to_kib(self.text or 0, self.unit)


@attrs.frozen(kw_only=True)
class Memory(ScaledMemory):
    """``<memory>``: the maximum memory at boot."""

    TAG = "memory"


@attrs.frozen(kw_only=True)
class CurrentMemory(ScaledMemory):
    """``<currentMemory>``: the memory given to the guest now (balloon)."""

    TAG = "currentMemory"


@attrs.frozen(kw_only=True)
class MaxMemory(ScaledMemory):
    """``<maxMemory slots=...>``: the ceiling for memory hotplug."""

    TAG = "maxMemory"


class Placement(enum.StrEnum):
    STATIC = "static"
    AUTO = "auto"


@attrs.frozen(kw_only=True)
class Vcpu(Element):
    """``<vcpu>``: the maximum number of virtual CPUs; ``current`` of them online."""

    TAG = "vcpu"
    TEXT = int
    ATTRS = (
        Attr(xml="placement", type=Placement),
        Attr(xml="cpuset"),
        Attr(xml="current", type=int),
    )
    text: int | None = None
    placement: Placement | None = None
    cpuset: str | None = None
    current: int | None = None

    @classmethod
    def check(cls, el: etree._Element, values: dict[str, Any]) -> None:
        count = values.get("text")
        if count is None or count < 1:
            raise fail(el, "the number of vCPUs must be a positive integer")
        current = values.get("current")
        if current is not None and not 0 < current <= count:
            raise fail(el, f"current vCPUs {current} must be between 1 and {count}")


@attrs.frozen(kw_only=True)
class DomainDef(Element):
    """A parsed domain definition, faithful to its input.

    Children keep their input order; what the model does not know is kept verbatim.
    ``canonical()`` (in :mod:`virtkit.xml.canonical`) gives libvirt's post-parse form.
    """

    TAG = "domain"
    ATTRS = (Attr(xml="type", type=DomainType), Attr(xml="id", type=int, field="id"))
    CHILDREN: ClassVar[dict[str, type[Element]]] = {
        "name": Name,
        "uuid": Uuid,
        "genid": Genid,
        "title": Title,
        "description": Description,
        "memory": Memory,
        "currentMemory": CurrentMemory,
        "maxMemory": MaxMemory,
        "vcpu": Vcpu,
        "os": OS,
        "devices": Devices,
    }
    type: DomainType
    id: int | None = None
    #: namespace declarations of the root element, as (prefix, uri) pairs
    nsmap: tuple[tuple[str | None, str], ...] = ()
    #: the lxml tree this definition was made from, when it is exactly what :meth:`tree` would
    #: build (a parsed document without comments and namespaces, adopted by :meth:`validate`, or
    #: a :func:`canonical` result); copied instead of rebuilt. Such a definition models its
    #: ``children`` from it only when they are first read (see :func:`domain_from_tree`).
    _built: etree._Element | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        # only reached for a field not set yet: the children of a definition made by
        # domain_from_tree(built=True), modelled from its tree on first read
        if name == "children" and self._built is not None:
            children = DomainDef.from_xml(self._built).children
            object.__setattr__(self, "children", children)
            return children
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @classmethod
    def check(cls, el: etree._Element, values: dict[str, Any]) -> None:
        if "type" not in values:
            raise fail(el, "missing attribute 'type'")
        name = next(el.iterchildren("name"), None)
        if name is None or not (name.text or "").strip():
            raise fail(el, "missing <name>")
        values["nsmap"] = tuple(el.nsmap.items())  # declared on the root, written back there

    # -- the values the rest of virtkit reads --------------------------------------------------

    def child_text(self, kind: builtins.type[Element]) -> Any:
        """As :meth:`Element.child_text`, read from the tree while the children are not
        modelled (reading a name or UUID does not model the whole definition)."""
        if self._built is None or _children_modelled(self):
            return super().child_text(kind)
        found = next(self._built.iterchildren(kind.TAG), None)
        return None if found is None else kind.own_values(found).get("text")

    @property
    def name(self) -> str:
        return str(self.child_text(Name)).strip()

    @property
    def uuid(self) -> uuidlib.UUID | None:
        value: uuidlib.UUID | None = self.child_text(Uuid)
        return value

    @property
    def title(self) -> str | None:
        value: str | None = self.child_text(Title)
        return value

    @property
    def description(self) -> str | None:
        value: str | None = self.child_text(Description)
        return value

    @property
    def memory_kib(self) -> int | None:
        """``<memory>`` in KiB (the maximum memory at boot), None when absent."""
        return self._memory(Memory)

    def _memory(self, kind: builtins.type[ScaledMemory]) -> int | None:
        found = self.find(kind)
        return found.kib if found is not None else None

    @property
    def current_memory_kib(self) -> int | None:
        return self._memory(CurrentMemory)

    @property
    def vcpus(self) -> int | None:
        value: int | None = self.child_text(Vcpu)
        return value

    @property
    def os(self) -> OS | None:
        return self.find(OS)

    @property
    def devices(self) -> Devices | None:
        return self.find(Devices)

    # -- edits ---------------------------------------------------------------------------------

    def with_identity(
        self, *, name: str | None = None, uuid: uuidlib.UUID | None = None
    ) -> DomainDef:
        """A copy with another name and/or UUID (a missing ``<uuid>`` goes after ``<name>``)."""
        result = self
        if name is not None:
            result = result.replace_child(result.find(Name), Name(text=name))
        if uuid is not None:
            old = result.find(Uuid)
            if old is not None:
                result = result.replace_child(old, Uuid(text=uuid))
            else:
                children = list(result.children)
                at = next(i for i, c in enumerate(children) if isinstance(c, Name)) + 1
                children.insert(at, Uuid(text=uuid))
                result = attrs.evolve(result, children=tuple(children))
        return result

    # -- output --------------------------------------------------------------------------------

    def to_xml(self) -> str:
        """The faithful document as text, in libvirt's layout."""
        if self._built is not None and is_blank_free(self._built):
            return to_string(self._built, blank_free=True)  # nothing to drop: no copy to make
        root = self.tree()
        return to_string(root, blank_free=drop_blank_text(root))

    def tree(self) -> etree._Element:
        """A fresh, mutable lxml copy of the document's root element."""
        if self._built is not None:
            return self._built.__copy__()  # lxml's copy is deep; copy.deepcopy adds ~8 µs
        root = etree.Element(self.TAG, nsmap=dict(self.nsmap))
        self.fill(root)
        return root

    def read_tree(self) -> etree._Element:
        """The document's root element for reading only: the definition's own tree when it
        keeps one (which must not be changed), else one built as :meth:`tree` builds it."""
        return self._built if self._built is not None else self.tree()


def parse_domain(text: str | bytes) -> DomainDef:
    """Parse domain XML faithfully.

    Raises :class:`~virtkit.errors.XMLError` naming the element and line."""
    from virtkit.xml.checks import check_domain

    root = parse_root(text, "domain")
    if not _adoptable(text, root):
        definition = DomainDef.from_xml(root)
        check_domain(root)
        return definition
    # the parsed tree becomes the one tree() copies, its children modelled when first read
    DomainDef.validate(root, adopt=True)
    check_domain(root)
    return domain_from_tree(root, built=True)


def _adoptable(text: str | bytes, root: etree._Element) -> bool:
    """The document declares no namespace and has no comment or processing instruction
    (what ``from_xml(adopt=True)`` cannot make as the model writes it)."""
    declares = "xmlns" in text if isinstance(text, str) else b"xmlns" in text
    return not declares and not HAS_COMMENTS(root)


def _children_modelled(definition: DomainDef) -> bool:
    """Whether ``definition.children`` is set (reading it would otherwise model it)."""
    try:
        _CHILDREN_SLOT.__get__(definition, DomainDef)
    except AttributeError:
        return False
    return True


_CHILDREN_SLOT = Element.__dict__["children"]
"""The slot of :attr:`Element.children`; its ``__get__`` does not fall back to
:meth:`DomainDef.__getattr__`."""


def domain_from_tree(root: etree._Element, *, built: bool = False) -> DomainDef:
    """A :class:`DomainDef` from an lxml ``<domain>`` element (no semantic checks).

    ``built``: ``root`` holds only what :meth:`DomainDef.tree` writes (it was built from a
    model and changed by code, not parsed from input), so the definition keeps it as its tree
    and models its children only when they are first read; the caller must not change
    ``root`` afterwards."""
    if not built:
        return DomainDef.from_xml(root)
    definition = DomainDef(**DomainDef.own_values(root), nsmap=tuple(root.nsmap.items()))
    object.__delattr__(definition, "children")
    object.__setattr__(definition, "_built", root)
    return definition


__all__ = [
    "CurrentMemory",
    "Description",
    "DomainDef",
    "DomainType",
    "MaxMemory",
    "Memory",
    "Name",
    "Placement",
    "ScaledMemory",
    "Title",
    "Unknown",
    "Uuid",
    "Vcpu",
    "domain_from_tree",
    "parse_domain",
]
