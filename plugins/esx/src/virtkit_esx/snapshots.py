"""A VM's snapshot tree as vSphere reports it, in libvirt's terms."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any, ClassVar

import attrs
from lxml import etree
from virtkit.records import SnapshotRecord
from virtkit.xml.serialize import to_string

SNAPSHOT_STATES = {"poweredOn": "running", "poweredOff": "shutoff", "suspended": "paused"}


@attrs.frozen
class Node:
    name: str
    snapshot: Any
    parent: str | None
    state: str
    created: int
    description: str
    children: tuple[Any, ...]


@attrs.frozen
class SnapshotTree:
    nodes: tuple[Node, ...]
    current: Any

    PATHS: ClassVar[tuple[str, str]] = ("snapshot.rootSnapshotList", "snapshot.currentSnapshot")
    """The VM properties :meth:`from_props` reads."""

    @classmethod
    def from_props(cls, p: dict[str, Any]) -> SnapshotTree:
        nodes: list[Node] = []

        def walk(trees: Any, parent: str | None) -> None:
            for t in trees or []:
                nodes.append(
                    Node(
                        name=t.name,
                        snapshot=t.snapshot,
                        parent=parent,
                        state=SNAPSHOT_STATES.get(str(t.state), "shutoff"),
                        created=int(t.createTime.timestamp()),
                        description=t.description or "",
                        children=tuple(t.childSnapshotList or ()),
                    )
                )
                walk(t.childSnapshotList, t.name)

        walk(p.get("snapshot.rootSnapshotList"), None)
        return cls(nodes=tuple(nodes), current=p.get("snapshot.currentSnapshot"))

    def find(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def descendants(self, name: str) -> list[Node]:
        """The snapshots below ``name``, deepest first (each a leaf when its turn comes)."""
        out: list[Node] = []
        for child in (n for n in self.nodes if n.parent == name):
            out += self.descendants(child.name)
            out.append(child)
        return out

    def records(self) -> list[SnapshotRecord]:
        return [
            SnapshotRecord(
                name=n.name,
                parent=n.parent,
                creation_time=n.created,
                state=n.state,
                is_current=n.snapshot == self.current,
            )
            for n in self.nodes
        ]


def snapshot_xml(tree: SnapshotTree, node: Node, domain_uuid: uuidlib.UUID) -> str:
    """libvirt's ``<domainsnapshot>`` for ``node``, as its esx driver describes one."""
    root = etree.Element("domainsnapshot")
    etree.SubElement(root, "name").text = node.name
    if node.description:
        etree.SubElement(root, "description").text = node.description
    etree.SubElement(root, "state").text = node.state
    if node.parent:
        etree.SubElement(etree.SubElement(root, "parent"), "name").text = node.parent
    etree.SubElement(root, "creationTime").text = str(node.created)
    etree.SubElement(etree.SubElement(root, "domain"), "uuid").text = str(domain_uuid)
    if node.snapshot == tree.current:
        etree.SubElement(root, "active").text = "1"
    return to_string(root)
