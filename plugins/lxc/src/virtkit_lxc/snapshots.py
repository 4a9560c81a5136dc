"""Snapshots of a shut-off container's root filesystem: a full copy of the root folder
(``cp -a --reflink=auto``: a cheap clone where the filesystem can, a copy elsewhere), with
libvirt's snapshot metadata and tree semantics.

Layout in the driver's state folder: ``snapshots/<domain>/<snapshot>.xml`` (the
``<domainsnapshot>`` with the domain's inactive XML inside), ``snapshots/<domain>/current``
(the current snapshot's name) and ``snapshot-data/<domain>/<snapshot>/`` (the copy).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from lxml import etree
from virtkit.constants import DomainSnapshotCreateFlags as CreateFlags
from virtkit.constants import DomainSnapshotDeleteFlags as DeleteFlags
from virtkit.errors import (
    InvalidArgumentError,
    NoSnapshotError,
    OperationFailedError,
)
from virtkit.records import SnapshotRecord
from virtkit.snapshot import descendants
from virtkit.state import StateStore
from virtkit.xml import SnapshotDef, parse_snapshot
from virtkit.xml.parser import PARSER

UNSUPPORTED_CREATE = (
    CreateFlags.DISK_ONLY
    | CreateFlags.LIVE
    | CreateFlags.QUIESCE
    | CreateFlags.NO_METADATA
    | CreateFlags.REUSE_EXT
)


def copy_tree(source: str | Path, target: str | Path) -> None:
    """Copy a root filesystem with owners, modes, links and device nodes kept."""
    result = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", str(source), str(target)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise OperationFailedError(f"cannot copy {source} to {target}: {result.stderr.strip()}")


class RootSnapshots:
    """The snapshots of one domain; every method expects the caller to hold the domain lock."""

    def __init__(self, store: StateStore, domain: str) -> None:
        self.store = store
        self.domain = domain
        self.meta_dir = f"snapshots/{domain}"

    def data_path(self, name: str) -> Path:
        return self.store.path(f"snapshot-data/{self.domain}/{name}")

    def names(self) -> list[str]:
        return self.store.list(self.meta_dir, ".xml")

    def current(self) -> str | None:
        text = self.store.read_text(f"{self.meta_dir}/current")
        return text.strip() if text and text.strip() else None

    def definition(self, name: str) -> SnapshotDef:
        text = self.store.read_text(f"{self.meta_dir}/{name}.xml")
        if text is None:
            raise NoSnapshotError(
                f"domain snapshot not found: no snapshot named '{name}' for domain '{self.domain}'"
            )
        return parse_snapshot(text)

    def records(self) -> list[SnapshotRecord]:
        current = self.current()
        found = []
        for name in self.names():
            snap = self.definition(name)
            found.append(
                SnapshotRecord(
                    name=name,
                    parent=snap.parent,
                    creation_time=snap.creation_time or 0,
                    state=snap.state or "shutoff",
                    is_current=name == current,
                )
            )
        return found

    def get_xml(self, name: str) -> str:
        return self.definition(name).to_xml()

    # ------------------------------------------------------------------ create

    def create(self, definition: SnapshotDef, flags: int, root: str, domain_xml: str) -> str:
        """Copy ``root`` and record the snapshot (or, with ``REDEFINE``, only its metadata)."""
        if flags & UNSUPPORTED_CREATE:
            raise InvalidArgumentError(
                "LXC root-filesystem snapshots support only the REDEFINE, CURRENT and HALT flags"
            )
        name = definition.name or str(int(time.time()))
        if "/" in name or name.startswith("."):
            raise InvalidArgumentError(f"invalid snapshot name '{name}'")
        if flags & CreateFlags.REDEFINE:
            return self._redefine(definition, name, flags)
        if name in self.names():
            raise InvalidArgumentError(
                f"domain '{self.domain}' already has a snapshot named '{name}'"
            )
        data = self.data_path(name)
        data.parent.mkdir(parents=True, exist_ok=True)
        staging = data.with_name(f".{name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        copy_tree(root, staging)
        xml = self._document(definition, name, self.current(), domain_xml)
        try:
            os.rename(staging, data)
            with self.store.transaction() as batch:
                batch.write_text(f"{self.meta_dir}/{name}.xml", xml)
                batch.write_text(f"{self.meta_dir}/current", name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            raise
        return name

    def _redefine(self, definition: SnapshotDef, name: str, flags: int) -> str:
        if definition.parent and definition.parent not in self.names():
            raise InvalidArgumentError(
                f"snapshot '{name}': parent snapshot '{definition.parent}' does not exist"
            )
        with self.store.transaction() as batch:
            batch.write_text(f"{self.meta_dir}/{name}.xml", definition.to_xml())
            if flags & CreateFlags.CURRENT:
                batch.write_text(f"{self.meta_dir}/current", name)
        return name

    @staticmethod
    def _document(definition: SnapshotDef, name: str, parent: str | None, domain_xml: str) -> str:
        root = etree.Element("domainsnapshot")
        etree.SubElement(root, "name").text = name
        if definition.description:
            etree.SubElement(root, "description").text = definition.description
        etree.SubElement(root, "state").text = "shutoff"
        if parent:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = parent
        etree.SubElement(root, "creationTime").text = str(int(time.time()))
        etree.SubElement(root, "memory", snapshot="no")
        root.append(etree.fromstring(domain_xml.encode(), PARSER))
        return str(etree.tostring(root, pretty_print=True, encoding="unicode"))

    # ------------------------------------------------------------------ revert

    def domain_xml(self, name: str) -> str:
        """The inactive domain XML recorded in the snapshot."""
        domain = self.definition(name).tree().find("domain")
        if domain is None:
            raise OperationFailedError(f"snapshot '{name}' holds no domain definition")
        return str(etree.tostring(domain, encoding="unicode"))

    def revert_files(self, name: str, root: str) -> None:
        """Replace ``root`` with the snapshot's copy: the new tree is built beside it and
        swapped in by rename, so a failure leaves ``root`` as it was."""
        data = self.data_path(name)
        if not data.is_dir():
            raise OperationFailedError(
                f"snapshot '{name}' has no root filesystem copy (it was redefined from metadata "
                "only): it cannot be reverted to"
            )
        target = Path(root)
        fresh = target.with_name(f".{target.name}.revert")
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(fresh, ignore_errors=True)
        copy_tree(data, fresh)
        os.rename(target, old)
        try:
            os.rename(fresh, target)
        except BaseException:
            os.rename(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def set_current(self, name: str | None) -> None:
        if name is None:
            self.store.remove(f"{self.meta_dir}/current")
        else:
            self.store.write_text(f"{self.meta_dir}/current", name)

    # ------------------------------------------------------------------ delete

    def delete(self, name: str, flags: int) -> None:
        """Delete as libvirt does: see :func:`virtkit.hookspecs.virtkit_snapshot_delete`."""
        records = self.records()
        target = next((r for r in records if r.name == name), None)
        if target is None:
            self.definition(name)  # raises NoSnapshotError
            return
        below = descendants(records, name)
        doomed = (
            [r.name for r in below]
            if flags & (DeleteFlags.CHILDREN | DeleteFlags.CHILDREN_ONLY)
            else []
        )
        if not flags & DeleteFlags.CHILDREN_ONLY:
            doomed.append(name)
        current = self.current()
        new_current = current
        if current in doomed:
            new_current = target.parent if name in doomed else name
        with self.store.transaction() as batch:
            for child in records:
                if child.parent == name and child.name not in doomed and name in doomed:
                    batch.write_text(
                        f"{self.meta_dir}/{child.name}.xml",
                        self._reparented(child.name, target.parent),
                    )
            for gone in doomed:
                batch.remove(f"{self.meta_dir}/{gone}.xml")
            if new_current != current:
                if new_current:
                    batch.write_text(f"{self.meta_dir}/current", new_current)
                else:
                    batch.remove(f"{self.meta_dir}/current")
        if not flags & DeleteFlags.METADATA_ONLY:
            for gone in doomed:
                shutil.rmtree(self.data_path(gone), ignore_errors=True)

    def _reparented(self, name: str, parent: str | None) -> str:
        root = self.definition(name).tree()
        old = root.find("parent")
        if old is not None:
            root.remove(old)
        if parent:
            el = etree.Element("parent")
            etree.SubElement(el, "name").text = parent
            root.insert(1, el)
        return str(etree.tostring(root, pretty_print=True, encoding="unicode"))

    def remove_all(self) -> None:
        """Forget every snapshot and its copy (undefine)."""
        if self.store.exists(self.meta_dir):
            self.store.remove_tree(self.meta_dir)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.store.path(f"snapshot-data/{self.domain}"))
