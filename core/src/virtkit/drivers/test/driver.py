"""The test driver (``test:///default``, ``test:///path/to/node.xml``): libvirt's in-memory
reference driver, with the same semantics as the real ones.

``test:///default`` is one node shared by every connection to it in the process (as libvirt
does); each connection to a node file gets a node of its own. One lock per node serialises
every call.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
import weakref
from typing import ClassVar

from virtkit.constants import DomainEventStoppedDetail, DomainShutoffReason
from virtkit.driver import DriverContext
from virtkit.drivers.test import content
from virtkit.drivers.test.migration import MigrationHooks
from virtkit.drivers.test.nodefile import default_node, load_node
from virtkit.drivers.test.state import Node
from virtkit.errors import NoConnectError
from virtkit.hookspecs import hookimpl
from virtkit.records import DomainRecord
from virtkit.uri import ConnectURI

_default: Node | None = None
_default_lock = threading.Lock()


def _shared_default_node() -> Node:
    global _default
    with _default_lock:
        if _default is None:
            _default = default_node()
        return _default


def _node_for(uri: ConnectURI) -> Node:
    if not uri.is_local:
        raise NoConnectError(
            f"the test driver serves only local URIs (test:///default or test:///PATH), not '{uri}'"
        )
    if uri.path == "/default":
        return _shared_default_node()
    if not uri.path.startswith("/") or uri.path == "/":
        raise NoConnectError(
            f"test driver URI '{uri}' names no node: use test:///default or test:///PATH/node.xml"
        )
    return load_node(uri.path)


class TestDriver(MigrationHooks):
    """In-memory driver for tests, demos and as the reference for the driver contract."""

    name: ClassVar[str] = "Test"
    __test__ = False  # not a pytest test class despite its name

    def __init__(self, ctx: DriverContext) -> None:
        super().__init__(ctx, _node_for(ctx.uri))
        with self.node.lock:
            self.node.sinks[id(self)] = weakref.WeakMethod(ctx.emit_event)

    @classmethod
    def probe(cls) -> str:
        """The URI to use when nothing else is installed: the default test node."""
        return "test:///default"

    @hookimpl
    def virtkit_connect_close(self) -> None:
        with self.node.lock:
            self.node.sinks.pop(id(self), None)
            for domain in [d for d in self.node.by_uuid.values() if d.autodestroy_owner is self]:
                self.stop(domain, DomainShutoffReason.DESTROYED, DomainEventStoppedDetail.DESTROYED)

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return content.hostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        return content.HYPERVISOR_VERSION

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        return content.capabilities()

    @hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        with self.node.lock:
            return [domain.record for domain in self.node.by_uuid.values()]

    @hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        node = self.node
        with node.lock:
            if name is not None:
                domain = node.by_name.get(name)
            elif uuid is not None:
                domain = node.by_uuid.get(uuid)
            else:
                domain = node.by_id.get(id) if id is not None else None
            return domain.record if domain is not None else None
