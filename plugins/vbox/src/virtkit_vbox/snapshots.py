"""The snapshot tree as ``VBoxManage snapshot <vm> list --machinereadable`` prints it.

Keys name each node by its path from the root: ``SnapshotName`` is the root,
``SnapshotName-1`` its first child, ``SnapshotName-1-2`` that child's second child; the same
suffixes go with ``SnapshotUUID`` and ``SnapshotDescription``. ``CurrentSnapshotUUID`` names
the current snapshot.

Snapshots whose name starts with :data:`TEMPORARY_PREFIX` are virtkit's own, kept only while a
revert runs (:mod:`virtkit_vbox.revert`): they are left out of every list.
"""

from __future__ import annotations

import attrs

TEMPORARY_PREFIX = "virtkit-revert-"


@attrs.frozen(kw_only=True)
class ListedSnapshot:
    name: str
    uuid: str
    parent: str | None
    description: str = ""
    current: bool = False


def parse_snapshot_list(values: dict[str, str]) -> list[ListedSnapshot]:
    """The snapshots, parents before children, from parsed machine-readable output
    (virtkit's temporary ones left out)."""
    current = values.get("CurrentSnapshotUUID")
    nodes = {
        key[len("SnapshotName") :]: value
        for key, value in values.items()
        if key.startswith("SnapshotName") and (key == "SnapshotName" or key[12] == "-")
    }

    def depth_key(suffix: str) -> list[int]:
        return [int(p) for p in suffix.split("-")[1:]]

    found = []
    for suffix in sorted(nodes, key=depth_key):
        if nodes[suffix].startswith(TEMPORARY_PREFIX):
            continue
        parent_suffix = suffix.rsplit("-", 1)[0] if suffix else None
        uuid = values.get(f"SnapshotUUID{suffix}", "")
        found.append(
            ListedSnapshot(
                name=nodes[suffix],
                uuid=uuid,
                parent=nodes.get(parent_suffix) if parent_suffix is not None else None,
                description=values.get(f"SnapshotDescription{suffix}", ""),
                current=bool(current) and uuid == current,
            )
        )
    return found
