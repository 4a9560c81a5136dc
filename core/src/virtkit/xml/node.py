"""The building blocks of the XML model: typed elements, unknown elements, attribute specs.

Every modelled element is a frozen, keyword-only attrs class derived from :class:`Element`.
It declares the attributes it understands (:class:`Attr`), whether it carries text, and which
child tags it models; everything else is kept: unknown attributes in ``extra_attrs`` and
unknown children as :class:`Unknown` (serialized bytes, so objects stay hashable). Children
keep the order of the input, so :meth:`Element.to_xml` reproduces what was parsed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import attrs
from lxml import etree

from virtkit.errors import XMLError
from virtkit.xml.parser import PARSER

E = TypeVar("E", bound="Element")

TEXT = "text()"
"""The name of an element's text among its attributes (:class:`Attr`)."""


def where(el: etree._Element) -> str:
    """``<path> (line N)`` of an element, for error messages."""
    path = el.getroottree().getpath(el)
    return f"{path} (line {el.sourceline})" if el.sourceline else path


def fail(el: etree._Element, message: str) -> XMLError:
    """An :class:`XMLError` naming the element path and line."""
    return XMLError(f"{where(el)}: {message}")


@attrs.frozen(kw_only=True)
class Attr:
    """One XML attribute of a modelled element: its name, the attrs field, the value type."""

    xml: str
    type: Callable[[str], Any] = str
    field: str = ""
    #: the members of an enum ``type`` by value: looking one up costs less than calling the enum
    _members: Mapping[str, enum.Enum] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if not self.field:
            object.__setattr__(self, "field", self.xml.replace("-", "_"))
        if isinstance(self.type, type) and issubclass(self.type, enum.Enum):
            object.__setattr__(self, "_members", {str(m.value): m for m in self.type})

    def parse(self, value: str, el: etree._Element) -> Any:
        if self._members is not None:
            member = self._members.get(value)
            if member is None:
                allowed = ", ".join(self._members)
                message = f"unknown value '{value}' for {self._what()}"
                raise fail(el, f"{message} (expected one of: {allowed})")
            return member
        try:
            return self.type(value)
        except ValueError:
            raise fail(el, f"invalid value '{value}' for {self._what()}") from None

    def _what(self) -> str:
        """How errors name this value."""
        return "the element's text" if self.xml == TEXT else f"attribute '{self.xml}'"

    def adopted(self, value: str, el: etree._Element, adopt: bool) -> Any:
        """``value`` of ``el`` parsed; ``adopt``: rewritten in ``el`` as it is written, in
        place (the attribute keeps its position)."""
        typed = self.parse(value, el)
        if adopt and (written := self.rewritten(value, typed)) is not None:
            el.set(self.xml, written)
        return typed

    def rewritten(self, value: str, typed: Any) -> str | None:
        """The text ``typed`` (parsed from ``value``) is written as, when that is not ``value``
        (``010`` -> ``10``, `` hvm `` -> ``hvm``); None when it is (an enum member looked up by
        ``value`` itself is, without formatting it)."""
        if self._members is not None and self._members.get(value) is typed:
            return None
        text = dump(typed)
        return None if text == value else text


def dump(value: Any) -> str:
    """The XML text of a typed value (enums by value, the rest by ``str``)."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


@attrs.frozen(kw_only=True)
class Unknown:
    """An element the model does not interpret, kept verbatim as serialized bytes."""

    xml: bytes
    #: the element of an adopted tree (see :meth:`Element.from_xml`) this was read from, which
    #: nothing changes afterwards: ``xml`` is serialized from it when first read
    _source: etree._Element | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        # only reached for a field not set yet: the bytes of an Unknown made with a source
        if name == "xml" and self._source is not None:
            xml = etree.tostring(self._source, with_tail=False)
            object.__setattr__(self, "xml", xml)
            return xml
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def tag(self) -> str:
        return str(self.element().tag)

    def element(self) -> etree._Element:
        return etree.fromstring(self.xml, PARSER)

    @classmethod
    def from_xml(cls, el: etree._Element, *, adopt: bool = False) -> Unknown:
        """``el`` kept verbatim; ``adopt``: ``el`` belongs to an adopted tree, so its bytes
        are made only when first read."""
        if not adopt:
            return cls(xml=etree.tostring(el, with_tail=False))
        unknown = object.__new__(cls)
        object.__setattr__(unknown, "_source", el)
        return unknown

    def to_element(self, parent: etree._Element) -> etree._Element:
        el = self.element()
        parent.append(el)
        return el


@attrs.frozen(kw_only=True)
class Element:
    """Base of every modelled element.

    Subclasses declare ``TAG``, ``ATTRS``, ``TEXT`` and ``CHILDREN``, and may override
    :meth:`check` for rules beyond syntax."""

    TAG: ClassVar[str] = ""
    ATTRS: ClassVar[tuple[Attr, ...]] = ()
    #: converter of the element's text, or None when the element has no text of its own
    TEXT: ClassVar[Callable[[str], Any] | None] = None
    #: child tag -> modelled class; other children are kept as :class:`Unknown`
    CHILDREN: ClassVar[Mapping[str, type[Element]]] = {}
    # derived from the declarations above when a subclass is created
    _ATTR_INDEX: ClassVar[dict[str, Attr]] = {}
    _TEXT_SPEC: ClassVar[Attr | None] = None
    _TYPED_ATTRS: ClassVar[tuple[Attr, ...]] = ()
    _HAS_CHECK: ClassVar[bool] = False

    extra_attrs: tuple[tuple[str, str], ...] = ()
    children: tuple[Element | Unknown, ...] = ()
    #: attribute names in input order, so output keeps it (typed ones not listed come first)
    attr_order: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._ATTR_INDEX = {spec.xml: spec for spec in cls.ATTRS}
        cls._TYPED_ATTRS = tuple(spec for spec in cls.ATTRS if spec.type is not str)
        text = cls.TEXT
        cls._TEXT_SPEC = None if text is None or text is str else Attr(xml=TEXT, type=text)
        cls._HAS_CHECK = cls.check.__func__ is not Element.check.__func__  # type: ignore[attr-defined]

    # -- parse -------------------------------------------------------------------------------

    @classmethod
    def from_xml(cls: type[E], el: etree._Element, *, adopt: bool = False) -> E:
        """The model of ``el``.

        ``adopt``: also make ``el`` exactly what :meth:`fill` writes into a new element (typed
        values in their written form, no text the model does not keep, no tails; unknown
        children stay as parsed, equal to the copies made from their bytes but keeping their
        lines in the input), so that it can stand for the model's tree. Only for an element
        whose subtree declares no namespace and holds no comment or processing instruction
        (those :meth:`fill` writes otherwise)."""
        kwargs = cls.own_values(el, adopt=adopt)
        if len(el):
            models = cls.CHILDREN
            children = []
            for child in el:
                tag = child.tag
                if not isinstance(tag, str):
                    continue  # comments and processing instructions, ignored as libvirt does
                if adopt and child.tail is not None:
                    child.tail = None
                model = models.get(tag)
                children.append(
                    model.from_xml(child, adopt=adopt)
                    if model
                    else Unknown.from_xml(child, adopt=adopt)
                )
            if children:
                kwargs["children"] = tuple(children)
        if cls._HAS_CHECK:
            cls.check(el, kwargs)
        return cls(**kwargs)

    @classmethod
    def validate(cls, el: etree._Element, *, adopt: bool = False) -> None:
        """Raise the errors :meth:`from_xml` raises for ``el`` and, with ``adopt``, make ``el``
        what it makes of it, without building the model (so :meth:`check` must not read the
        children in its values). The loop is :meth:`from_xml`'s, kept apart for speed."""
        if cls._HAS_CHECK:
            values = cls.own_values(el, adopt=adopt)
        else:  # only typed values can be wrong: parse those alone
            for spec in cls._TYPED_ATTRS:
                value = el.get(spec.xml)
                if value is not None:
                    spec.adopted(value, el, adopt)
            cls._own_text(el, adopt)
        if len(el):
            models = cls.CHILDREN
            for child in el:
                tag = child.tag
                if not isinstance(tag, str):
                    continue
                if adopt and child.tail is not None:
                    child.tail = None
                model = models.get(tag)
                if model:
                    model.validate(child, adopt=adopt)
        if cls._HAS_CHECK:
            cls.check(el, values)

    @classmethod
    def own_values(cls, el: etree._Element, *, adopt: bool = False) -> dict[str, Any]:
        """The field values of ``el``'s attributes and text (not its children), typed;
        ``adopt``: as :meth:`from_xml` says, for these."""
        known = cls._ATTR_INDEX
        kwargs: dict[str, Any] = {}
        items = el.items()
        if items:
            extra = []
            for name, value in items:
                spec = known.get(name)
                if spec is None:
                    extra.append((name, value))
                elif spec.type is str:
                    kwargs[spec.field] = value
                else:
                    kwargs[spec.field] = spec.adopted(value, el, adopt)
            if extra:
                kwargs["extra_attrs"] = tuple(extra)
            if len(items) > 1:
                kwargs["attr_order"] = tuple(el.keys())
        text = cls._own_text(el, adopt)
        if text is not None:
            kwargs["text"] = text
        return kwargs

    @classmethod
    def _own_text(cls, el: etree._Element, adopt: bool) -> Any:
        """The (typed) value of ``el``'s text, None when it has none; ``adopt``: as
        :meth:`from_xml` says, for the text."""
        text = el.text
        if cls.TEXT is None:
            if adopt and text is not None:
                el.text = None
            return None
        if text is None:
            return None
        raw = text if cls.TEXT is str else text.strip()
        spec = cls._TEXT_SPEC
        if spec is None:
            return raw
        value = spec.parse(raw, el)
        if adopt and (written := spec.rewritten(text, value)) is not None:
            el.text = written
        return value

    @classmethod
    def check(cls, el: etree._Element, values: dict[str, Any]) -> None:
        """Reject values that are well-formed but invalid; raise :func:`fail` errors."""

    # -- format ------------------------------------------------------------------------------

    def to_element(self, parent: etree._Element | None = None) -> etree._Element:
        """This element (and its children) as lxml, appended to ``parent`` when given."""
        el = etree.Element(self.TAG) if parent is None else etree.SubElement(parent, self.TAG)
        self.fill(el)
        return el

    def fill(self, el: etree._Element) -> None:
        """Write this element's attributes, text and children into ``el``."""
        values = {}
        for spec in self.ATTRS:
            value = getattr(self, spec.field)
            if value is not None:
                values[spec.xml] = dump(value)
        values.update(self.extra_attrs)
        if values:
            ordered = [(name, values.pop(name)) for name in self.attr_order if name in values]
            for name, value in (*ordered, *values.items()):
                el.set(name, value)
        if type(self).TEXT is not None:
            text = getattr(self, "text", None)  # noqa: B009 - only text elements have the field
            if text is not None:
                el.text = dump(text)
        for child in self.children:
            child.to_element(el)

    # -- queries -----------------------------------------------------------------------------

    def find(self, kind: type[E]) -> E | None:
        """The first modelled child of class ``kind``."""
        return next(self.iter(kind), None)

    def iter(self, kind: type[E]) -> Iterator[E]:
        """The modelled children of class ``kind`` in document order."""
        return (c for c in self.children if isinstance(c, kind))

    def child_text(self, kind: type[Element]) -> Any:
        """The (typed) text of the first modelled child of class ``kind``, None when absent."""
        found = self.find(kind)
        return getattr(found, "text", None) if found is not None else None

    def unknown(self, tag: str) -> Unknown | None:
        """The first unmodelled child named ``tag``."""
        return next((c for c in self.children if isinstance(c, Unknown) and c.tag == tag), None)

    def replace_child(self: E, old: Element | Unknown | None, new: Element | Unknown) -> E:
        """A copy with ``old`` replaced by ``new`` (``new`` appended when ``old`` is None)."""
        if old is None:
            return attrs.evolve(self, children=(*self.children, new))
        return attrs.evolve(self, children=tuple(new if c is old else c for c in self.children))


@attrs.frozen(kw_only=True)
class TextElement(Element):
    """Base of the elements that hold only text; see :func:`text_element`."""

    TEXT: ClassVar[Callable[[str], Any] | None] = str
    text: Any = None


def text_element(tag: str, converter: Callable[[str], Any] = str) -> type[TextElement]:
    """A modelled element that holds only text (``<name>``, ``<on_reboot>``, ...)."""

    @attrs.frozen(kw_only=True)
    class _Text(TextElement):
        TAG = tag
        TEXT = converter

    _Text.__name__ = _Text.__qualname__ = "".join(p.title() for p in tag.split("_")) + "Element"
    return _Text
