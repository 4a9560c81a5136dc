"""CIM-XML embedded instances (DMTF DSP0201 ``<INSTANCE>``), the form WMI methods take for
settings parameters such as ``DefineSystem``'s ``SystemSettings``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree


class UInt16(int):
    """An integer property the class declares ``uint16`` (``ResourceType``); plain ints are
    ``uint64``."""


PropValue = str | int | bool | Sequence[str]


def cim_type(value: PropValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, UInt16):
        return "uint16"
    if isinstance(value, int):
        return "uint64"
    return "string"


def embedded_instance(cim_class: str, props: Mapping[str, PropValue]) -> str:
    """``<INSTANCE CLASSNAME=...>`` with one ``PROPERTY`` (or ``PROPERTY.ARRAY``) per value,
    as a string to pass as a method parameter (escaped by the envelope)."""
    instance = etree.Element("INSTANCE", CLASSNAME=cim_class)
    for name, value in props.items():
        if isinstance(value, list | tuple):
            prop = etree.SubElement(instance, "PROPERTY.ARRAY", NAME=name, TYPE="string")
            values = etree.SubElement(prop, "VALUE.ARRAY")
            for item in value:
                etree.SubElement(values, "VALUE").text = item
            continue
        prop = etree.SubElement(instance, "PROPERTY", NAME=name, TYPE=cim_type(value))
        text = ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)
        etree.SubElement(prop, "VALUE").text = text
    return str(etree.tostring(instance, encoding="unicode"))
