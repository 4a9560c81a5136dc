"""Write an lxml tree the way libvirt formats XML: two-space indent, single-quoted attributes."""

from __future__ import annotations

import re

from lxml import etree

_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "'": "&apos;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)
_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"}
)
#: libxml2's escapes, used inside <metadata> whose content libvirt writes with libxml2
_LIBXML_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)
_LIBXML_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_XML_NS = "http://www.w3.org/XML/1998/namespace"

#: elements libvirt always writes with an open and a close tag, even when empty (``<hyperv>``:
#: its formatter opens the enlightenments' list before it knows whether any is on, as with
#: ``mode='passthrough'``, which lists none)
ALWAYS_OPEN = frozenset({"devices", "hyperv"})


#: what lxml's serializer writes differently from libvirt's layout, found in the tree: text
#: beside child elements (lxml stops indenting there), comments and processing instructions
#: (libvirt leaves them out)
_UNLIKE_LIBVIRT = etree.XPath("boolean(//*[*]/text() | //comment() | //processing-instruction())")
#: whether a document holds comments or processing instructions
HAS_COMMENTS = etree.XPath("boolean(//comment() | //processing-instruction())")
_ATTRIBUTE_COUNT = etree.XPath("count(//@*)")
#: ... and in lxml's text: apostrophes and carriage returns (escaped otherwise), empty text
#: (``<a></a>``), namespaces and ``<metadata>`` (libvirt declares and quotes them its own way),
#: entity references, the elements libvirt never writes empty, and comments and processing
#: instructions (text holding ``<`` is escaped, so these marks come only from such nodes)
_UNLIKE_LIBVIRT_MARKS = (
    "'",
    "<!--",
    "<?",
    "&#13;",
    "></",
    "xmlns",
    "<metadata",
    *(f"<{name}{end}" for name in sorted(ALWAYS_OPEN) for end in " /"),
)
_ENTITY_REFERENCE = re.compile("&(?!amp;|lt;|gt;|quot;|#)")


def to_string(root: etree._Element, *, blank_free: bool = False) -> str:
    """``root`` as libvirt-style text, ending in a newline.

    ``blank_free``: no text stands beside child elements (as :func:`drop_blank_text` says),
    which spares looking for it."""
    text = _by_lxml(root, blank_free)
    if text is not None:
        return text
    out: list[str] = []
    _write(root, "", {}, out, False)
    return "".join(out)


def drop_blank_text(root: etree._Element) -> bool:
    """Remove the whitespace between child elements (the input's indentation), which
    :func:`to_string` replaces with its own: it writes the same text afterwards, faster.

    Leaves the tree as it is when any element mixes text with child elements; returns
    whether no text is left beside child elements."""
    blanks = _BLANKS(root)
    if not all(text.isspace() for text in blanks):
        return False
    for text in blanks:
        parent = text.getparent()
        if text.is_tail:
            parent.tail = None
        else:
            parent.text = None
    return True


_BLANKS = etree.XPath("//*[*]/text()")


def is_blank_free(root: etree._Element) -> bool:
    """Whether no text at all stands beside child elements (what :func:`drop_blank_text`
    leaves), looked at without changing the tree."""
    return not _BLANKS(root)


def _by_lxml(root: etree._Element, blank_free: bool) -> str | None:
    """``root`` written by lxml's serializer, when that gives exactly libvirt's layout once its
    double quotes are single ones; None when the tree holds anything it would write otherwise."""
    if not blank_free and _UNLIKE_LIBVIRT(root):
        return None  # (comments and processing instructions show in the text, see the marks)
    text: str = etree.tostring(root, encoding="unicode", pretty_print=True, with_tail=False)
    if any(mark in text for mark in _UNLIKE_LIBVIRT_MARKS):
        return None
    if "&" in text and _ENTITY_REFERENCE.search(text):
        return None
    if text.count('"') != 2 * int(_ATTRIBUTE_COUNT(root)):
        return None  # a double quote in text, which libvirt escapes
    return text.replace('"', "'")


def _name(qname: str, nsmap: dict[str | None, str]) -> str:
    if qname[0] != "{":
        return qname
    uri, local = qname[1:].split("}", 1)
    if uri == _XML_NS:
        return "xml:" + local
    for prefix, value in nsmap.items():
        if value == uri:
            return f"{prefix}:{local}" if prefix else local
    return local


def _write(
    el: etree._Element, pad: str, parent_ns: dict[str | None, str], out: list[str], libxml: bool
) -> None:
    """Append ``el`` to ``out``; ``libxml``: double quotes and libxml2's escapes (metadata)."""
    nsmap = el.nsmap
    name = _name(el.tag, nsmap)
    q = '"' if libxml else "'"
    attr_escapes = _LIBXML_ATTR_ESCAPES if libxml else _ATTR_ESCAPES
    text_escapes = _LIBXML_TEXT_ESCAPES if libxml else _TEXT_ESCAPES
    declarations = [
        f" xmlns:{prefix}={q}{uri}{q}" if prefix else f" xmlns={q}{uri}{q}"
        for prefix, uri in nsmap.items()
        if parent_ns.get(prefix) != uri
    ]
    attributes = [
        f" {_name(key, nsmap)}={q}{value.translate(attr_escapes)}{q}"
        for key, value in el.attrib.items()
    ]
    # libxml2 (metadata) declares namespaces first; libvirt writes them after its attributes
    head = [pad, "<", name, *(declarations + attributes if libxml else attributes + declarations)]
    children = [c for c in el if isinstance(c.tag, str)]
    text = el.text
    if not children:
        if text:
            out.append(f"{''.join(head)}>{text.translate(text_escapes)}</{name}>\n")
        elif name in ALWAYS_OPEN:
            out.append(f"{''.join(head)}>\n{pad}</{name}>\n")
        else:
            out.append(f"{''.join(head)}/>\n")
        return
    if text and text.strip():  # mixed content: keep it exactly as it is
        raw = etree.tostring(el, encoding="unicode", with_tail=False)
        out.append(pad + raw + "\n")
        return
    out.append("".join(head) + ">\n")
    inner = pad + "  "
    libxml = libxml or name == "metadata"
    for child in children:
        _write(child, inner, nsmap, out, libxml)
    out.append(f"{pad}</{name}>\n")
