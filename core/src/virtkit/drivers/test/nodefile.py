"""Building a test node: libvirt's default content, or a node file (``test:///path/node.xml``).

A node file is libvirt's test-driver format: a ``<node>`` root holding ``<domain>`` elements,
written inline or as ``<domain file='other.xml'/>`` (relative to the node file). Inside a
domain, elements of libvirt's test namespace set its starting point:
``<test:runstate>`` (a :class:`~virtkit.constants.DomainState` number, running by default),
``<test:transient/>`` and ``<test:hasmanagedsave/>``. Other node content (CPU, memory, networks,
pools) is not modelled and is ignored.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

from virtkit.constants import DomainPausedReason, DomainRunningReason, DomainState
from virtkit.drivers.test.base import canonical_definition
from virtkit.drivers.test.content import DEFAULT_DOMAIN_XML, DEFAULT_NAME, DEFAULT_UUID
from virtkit.drivers.test.state import Node, TestDomain, parse_definition
from virtkit.errors import DomainExistsError, NoConnectError, VirtError, XMLError
from virtkit.records import DomainRef

if TYPE_CHECKING:
    from lxml import etree

    from virtkit.xml import DomainDef

TEST_NAMESPACE = "http://libvirt.org/schemas/domain/test/1.0"

_START_REASONS = {
    DomainState.RUNNING: DomainRunningReason.BOOTED,
    DomainState.PAUSED: DomainPausedReason.USER,
}


def default_node() -> Node:
    """libvirt's default test node: the running persistent domain ``test`` with id 1.

    Its XML is already canonical and is parsed only when first needed.
    """
    node = Node()
    domain = TestDomain(
        ref=DomainRef(name=DEFAULT_NAME, uuid=uuid.UUID(DEFAULT_UUID)),
        config_xml=DEFAULT_DOMAIN_XML,
    )
    node.add(domain)
    node.activate(domain, None, DomainState.RUNNING, DomainRunningReason.BOOTED)
    return node


def load_node(path: str) -> Node:
    """A node built from the node file at ``path``; errors name the file and line."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise NoConnectError(
            f"cannot open test node file '{path}': {exc.strerror or exc}"
        ) from None
    from virtkit.xml.parser import parse_root

    try:
        root = parse_root(data, "node")
        node = Node()
        for element in root.iterchildren("domain"):
            _add_element(node, element, os.path.dirname(os.path.abspath(path)))
    except VirtError as exc:
        raise type(exc)(f"test node file '{path}': {exc.message}", code=exc.code) from None
    return node


def _add_element(node: Node, element: etree._Element, folder: str) -> None:
    from lxml import etree

    from virtkit.xml.parser import parse_root

    if (file := element.get("file")) is not None:
        target = os.path.join(folder, file)
        try:
            with open(target, "rb") as fh:
                element = parse_root(fh.read(), "domain")
        except OSError as exc:
            raise XMLError(
                f"line {element.sourceline}: cannot read domain file '{target}': "
                f"{exc.strerror or exc}"
            ) from None
    runstate = element.findtext(f"{{{TEST_NAMESPACE}}}runstate")
    transient = element.find(f"{{{TEST_NAMESPACE}}}transient") is not None
    managed = element.find(f"{{{TEST_NAMESPACE}}}hasmanagedsave") is not None
    try:
        state = DomainState(int(runstate)) if runstate else DomainState.RUNNING
    except ValueError:
        raise XMLError(
            f"line {element.sourceline}: <test:runstate> '{runstate}' is not a domain state number"
        ) from None
    for extra in element.findall(f"{{{TEST_NAMESPACE}}}*"):
        element.remove(extra)
    etree.cleanup_namespaces(element)
    definition = parse_definition(etree.tostring(element))
    if transient and state == DomainState.SHUTOFF:
        raise XMLError(f"line {element.sourceline}: a transient domain cannot be shut off")
    _add(node, definition, state, persistent=not transient, managed=managed)


def _add(
    node: Node, definition: DomainDef, state: DomainState, *, persistent: bool, managed: bool
) -> None:
    if definition.name in node.by_name or (definition.uuid and definition.uuid in node.by_uuid):
        raise DomainExistsError(f"domain '{definition.name}' is defined twice")
    if definition.uuid is None:
        definition = definition.with_identity(uuid=uuid.uuid4())
    definition = canonical_definition(definition, live=state != DomainState.SHUTOFF)
    assert definition.uuid is not None
    domain = TestDomain(
        ref=DomainRef(name=definition.name, uuid=definition.uuid),
        config=definition,
        persistent=persistent,
        managed_save=definition if managed else None,
    )
    node.add(domain)
    if state != DomainState.SHUTOFF:
        node.activate(domain, definition, state, _START_REASONS.get(state, 0))
