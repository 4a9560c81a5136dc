"""Domain and snapshot XML.

Two modes: the faithful round trip (:func:`parse_domain` then ``DomainDef.to_xml()`` gives
back every element, attribute and text as written, unknown ones included), and libvirt's
canonical form (:func:`canonical` fills in defaults, normalises units and orders elements;
:func:`format_domain` writes the live or inactive form). Parsing uses one safe parser
(no entities, no DTD, no network); errors name the element and its line.
"""

from virtkit.xml.canonical import GENERIC_STEPS, Context, Step, canonical
from virtkit.xml.domain import DomainDef, DomainType, parse_domain
from virtkit.xml.format import format_domain
from virtkit.xml.snapshot import (
    SnapshotDef,
    SnapshotLocation,
    SnapshotState,
    canonical_snapshot,
    format_snapshot,
    parse_snapshot,
)
from virtkit.xml.validate import validate

__all__ = [
    "GENERIC_STEPS",
    "Context",
    "DomainDef",
    "DomainType",
    "SnapshotDef",
    "SnapshotLocation",
    "SnapshotState",
    "Step",
    "canonical",
    "canonical_snapshot",
    "format_domain",
    "format_snapshot",
    "parse_domain",
    "parse_snapshot",
    "validate",
]
