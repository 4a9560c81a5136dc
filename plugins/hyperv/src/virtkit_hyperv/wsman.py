"""WS-Management messages for WMI (DMTF DSP0226 with Microsoft's WMI binding, MS-WSMV), built
and read with lxml: WQL enumeration (Enumerate, Pull) and method invocation on CIM instances.

pywinrm (:mod:`virtkit_hyperv.client`) only carries the messages; every envelope, selector set,
endpoint reference and embedded instance is built here, so it can be checked without a host.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence

from lxml import etree
from virtkit.errors import ErrorDomain, OperationFailedError
from virtkit.xml.parser import PARSER

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"s": SOAP, "a": ADDRESSING, "n": ENUMERATION, "w": WSMAN}
ANONYMOUS = f"{ADDRESSING}/role/anonymous"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
NAMESPACE = "root/virtualization/v2"
WMI_BASE = f"http://schemas.microsoft.com/wbem/wsman/1/wmi/{NAMESPACE}"
ALL_CLASSES = f"{WMI_BASE}/*"
ENUMERATE = f"{ENUMERATION}/Enumerate"
PULL = f"{ENUMERATION}/Pull"
MAX_ELEMENTS = 512
MAX_ENVELOPE = 512000

Value = str | int | bool | None


def class_uri(cim_class: str) -> str:
    """The resource URI of a class of the virtualization v2 namespace."""
    return f"{WMI_BASE}/{cim_class}"


class Reference:
    """A CIM object reference: its class and key properties (a WS-Addressing EPR on the wire)."""

    def __init__(self, cim_class: str, keys: Mapping[str, str]) -> None:
        self.cim_class = cim_class
        self.keys = dict(keys)

    def __repr__(self) -> str:
        return f"Reference({self.cim_class!r}, {self.keys!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and (self.cim_class, self.keys) == (
            other.cim_class,
            other.keys,
        )

    def __hash__(self) -> int:
        return hash((self.cim_class, tuple(sorted(self.keys.items()))))


Param = Value | list[str] | Reference
"""A method parameter: a scalar, a string array, a reference, or None (``xsi:nil``)."""


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _q(ns, tag))
    if text is not None:
        el.text = text
    return el


def _selectors(parent: etree._Element, keys: Mapping[str, str]) -> None:
    selector_set = _sub(parent, WSMAN, "SelectorSet")
    for name, value in keys.items():
        _sub(selector_set, WSMAN, "Selector", value).set("Name", name)


def envelope(
    endpoint: str,
    action: str,
    resource_uri: str,
    selectors: Mapping[str, str] | None = None,
    timeout_s: int = 60,
) -> tuple[etree._Element, etree._Element]:
    """A SOAP 1.2 envelope with the WS-Management header; returns ``(envelope, body)``."""
    env = etree.Element(_q(SOAP, "Envelope"), nsmap=NSMAP)
    header = _sub(env, SOAP, "Header")
    _sub(header, ADDRESSING, "To", endpoint)
    _sub(header, WSMAN, "ResourceURI", resource_uri).set(_q(SOAP, "mustUnderstand"), "true")
    reply = _sub(header, ADDRESSING, "ReplyTo")
    _sub(reply, ADDRESSING, "Address", ANONYMOUS).set(_q(SOAP, "mustUnderstand"), "true")
    _sub(header, ADDRESSING, "Action", action).set(_q(SOAP, "mustUnderstand"), "true")
    _sub(header, ADDRESSING, "MessageID", f"uuid:{uuidlib.uuid4()}")
    _sub(header, WSMAN, "MaxEnvelopeSize", str(MAX_ENVELOPE)).set(
        _q(SOAP, "mustUnderstand"), "true"
    )
    _sub(header, WSMAN, "OperationTimeout", f"PT{timeout_s}S")
    if selectors:
        _selectors(header, selectors)
    return env, _sub(env, SOAP, "Body")


def to_text(env: etree._Element) -> str:
    return str(etree.tostring(env, encoding="unicode"))


def wql_string(value: str) -> str:
    """``value`` as a WQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def settings_query(vssd_id: str, cim_class: str) -> str:
    """WQL for the ``cim_class`` settings that belong to the settings ``vssd_id``."""
    escaped = vssd_id.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'ASSOCIATORS OF {{Msvm_VirtualSystemSettingData.InstanceID="{escaped}"}} '
        f"WHERE AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = {cim_class}"
    )


def enumerate_message(endpoint: str, wql: str) -> str:
    """Enumerate the instances a WQL query selects (first batch in the response)."""
    env, body = envelope(endpoint, ENUMERATE, ALL_CLASSES)
    enum = _sub(body, ENUMERATION, "Enumerate")
    _sub(enum, WSMAN, "OptimizeEnumeration")
    _sub(enum, WSMAN, "MaxElements", str(MAX_ELEMENTS))
    _sub(enum, WSMAN, "Filter", wql).set("Dialect", WQL)
    return to_text(env)


def pull_message(endpoint: str, context: str) -> str:
    env, body = envelope(endpoint, PULL, ALL_CLASSES)
    pull = _sub(body, ENUMERATION, "Pull")
    _sub(pull, ENUMERATION, "EnumerationContext", context)
    _sub(pull, ENUMERATION, "MaxElements", str(MAX_ELEMENTS))
    return to_text(env)


def invoke_message(
    endpoint: str, target: Reference, method: str, params: Sequence[tuple[str, Param]]
) -> str:
    """Invoke ``method`` on the instance ``target`` with ``params`` in the method's order
    (strings, numbers, booleans, string arrays, references)."""
    uri = class_uri(target.cim_class)
    env, body = envelope(endpoint, f"{uri}/{method}", uri, target.keys)
    call = etree.SubElement(body, f"{{{uri}}}{method}_INPUT", nsmap={"p": uri})
    for name, value in params:
        if isinstance(value, Reference):
            _reference(etree.SubElement(call, f"{{{uri}}}{name}"), value)
        elif isinstance(value, list):
            for item in value:
                etree.SubElement(call, f"{{{uri}}}{name}").text = item
        elif value is None:
            etree.SubElement(call, f"{{{uri}}}{name}").set(_q(XSI, "nil"), "true")
        else:
            etree.SubElement(call, f"{{{uri}}}{name}").text = _text(value)
    return to_text(env)


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reference(parent: etree._Element, ref: Reference) -> None:
    _sub(parent, ADDRESSING, "Address", ANONYMOUS)
    params = _sub(parent, ADDRESSING, "ReferenceParameters")
    _sub(params, WSMAN, "ResourceURI", class_uri(ref.cim_class))
    _selectors(params, {"__cimnamespace": NAMESPACE, **ref.keys})


# ------------------------------------------------------------------ responses

Instance = dict[str, str | list[str | Reference | None] | Reference | None]


def _parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise OperationFailedError(
            f"unreadable WS-Management response: {exc.msg}", domain=ErrorDomain.HYPERV
        ) from None


def text(value: object) -> str:
    """A property value as text: ``""`` for nil, references and arrays."""
    return value if isinstance(value, str) else ""


def instance_id_of(path: str) -> str:
    """The ``InstanceID`` key of a WMI object path (``...InstanceID="Microsoft:X\\\\Y"``)."""
    _, sep, rest = path.partition('InstanceID="')
    return rest.split('"', 1)[0].replace("\\\\", "\\") if sep else ""


BACKSLASH, QUOTE = "\\", '"'
WMI_NAMESPACE_PATH = NAMESPACE.replace("/", BACKSLASH)


def object_path(host: str, ref: Reference) -> str:
    """The WMI object path of ``ref`` on ``host``
    (``\\\\HOST\\root\\virtualization\\v2:Class.Key="value",...``, backslashes and quotes
    in values escaped): how a setting's ``Parent`` and ``HostResource`` name other objects."""
    keys = ",".join(
        f'{name}="{value.replace(BACKSLASH, BACKSLASH * 2).replace(QUOTE, BACKSLASH + QUOTE)}"'
        for name, value in ref.keys.items()
    )
    return f"{BACKSLASH * 2}{host}{BACKSLASH}{WMI_NAMESPACE_PATH}:{ref.cim_class}.{keys}"


def read_reference(el: etree._Element) -> Reference:
    """A reference from an EPR element (``a:ReferenceParameters`` with its selector set)."""
    uri = el.findtext("a:ReferenceParameters/w:ResourceURI", namespaces=NSMAP) or ""
    keys = {
        s.get("Name", ""): s.text or ""
        for s in el.iterfind("a:ReferenceParameters/w:SelectorSet/w:Selector", NSMAP)
        if s.get("Name") != "__cimnamespace"
    }
    return Reference(uri.rsplit("/", 1)[-1], keys)


def read_instance(el: etree._Element) -> Instance:
    """Property name -> text (``None`` when ``xsi:nil``), list for repeated properties,
    :class:`Reference` for endpoint references."""
    props: Instance = {}
    for prop in el:
        if not isinstance(prop.tag, str):
            continue
        name = etree.QName(prop).localname
        value: str | Reference | None
        if prop.find("a:ReferenceParameters", NSMAP) is not None:
            value = read_reference(prop)
        elif prop.get(_q(XSI, "nil")) == "true":
            value = None
        else:
            value = prop.text or ""
        if name in props:
            existing = props[name]
            props[name] = [*(existing if isinstance(existing, list) else [existing]), value]
        else:
            props[name] = value
    return props


def read_enumeration(data: bytes) -> tuple[list[Instance], str | None]:
    """The instances of an Enumerate or Pull response and the context to pull more (or None)."""
    root = _parse(data)
    body = root.find("s:Body", NSMAP)
    response = body[0] if body is not None and len(body) else None
    if response is None:
        raise OperationFailedError(
            "empty WS-Management enumeration response", domain=ErrorDomain.HYPERV
        )
    items = response.find("w:Items", NSMAP)
    if items is None:
        items = response.find("n:Items", NSMAP)
    found = [read_instance(i) for i in items if isinstance(i.tag, str)] if items is not None else []
    ended = (
        response.find("w:EndOfSequence", NSMAP) is not None
        or response.find("n:EndOfSequence", NSMAP) is not None
    )
    context = response.findtext("n:EnumerationContext", namespaces=NSMAP)
    return found, None if ended else context


def read_output(data: bytes, method: str) -> Instance:
    """The output parameters of a ``<method>_OUTPUT`` response (``ReturnValue`` included)."""
    root = _parse(data)
    out = next(
        (
            el
            for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).localname == f"{method}_OUTPUT"
        ),
        None,
    )
    if out is None:
        raise OperationFailedError(
            f"WS-Management response to {method} has no {method}_OUTPUT", domain=ErrorDomain.HYPERV
        )
    return read_instance(out)
