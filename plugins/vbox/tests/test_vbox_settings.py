"""The .vbox settings model on libvirt's corpus files: snapshot tree, media registry, saving."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest
from virtkit.errors import XMLError
from virtkit.testing.conformance import cases
from virtkit_vbox.settings import load_settings, parse_settings


def corpus_file(name: str) -> Path:
    found = next(c.input for c in cases("vbox-snapshot") if c.name == name)
    assert found is not None
    return found


def test_snapshot_tree_of_a_file() -> None:
    machine = load_settings(corpus_file("2disks-3snap-brother")).machine
    tree = [(s.name, p.name if p else None) for s, p in machine.snapshots()]
    assert len(tree) == 4 and tree[0][1] is None
    parents = {name: parent for name, parent in tree}
    children_of_second = [n for n, p in tree if p == tree[1][0]]
    assert len(children_of_second) == 2  # the "brother" snapshots share a parent
    current = machine.find_snapshot(machine.current_snapshot or "")
    assert current is not None and current.name in parents


def test_media_registry_keeps_differencing_chains() -> None:
    registry = load_settings(corpus_file("2disks-3snap")).machine.media_registry
    bases = registry.hard_disks
    assert [d.type for d in bases] == ["Normal", "Normal"]
    assert all(d.location.endswith(".vdi") for d in registry.disks())
    assert len(list(registry.disks())) > len(bases)


def test_edit_and_save_atomically(tmp_path: Path) -> None:
    settings = load_settings(corpus_file("2disks-2snap"))
    machine = settings.machine
    assert machine.snapshot is not None
    renamed = attrs.evolve(machine.snapshot, name="renamed", description="kept <safe>")
    edited = attrs.evolve(settings, machine=attrs.evolve(machine, snapshot=renamed))
    target = tmp_path / "m.vbox"
    edited.save(target)
    again = load_settings(target)
    assert again == edited
    assert again.machine.find_snapshot("renamed") is not None
    assert sorted(os.listdir(tmp_path)) == [".m.vbox.lock", "m.vbox"]  # no temporary left


def test_unknown_machine_attributes_are_kept() -> None:
    data = (
        corpus_file("2disks-1snap")
        .read_bytes()
        .replace(b'OSType="Other"', b'OSType="Other" aborted="true"')
    )
    saved = parse_settings(parse_settings(data).to_bytes())
    assert ("aborted", "true") in saved.machine.extra


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<VirtualBox", "malformed .vbox file at line 1"),
        (b"<Machine/>", "expected <VirtualBox"),
        (
            b'<VirtualBox xmlns="http://www.innotek.de/VirtualBox-settings" version="1.12"/>',
            "expected one <Machine>, found 0",
        ),
        (
            b'<VirtualBox xmlns="http://www.innotek.de/VirtualBox-settings" version="1.12">\n'
            b'<Machine name="x" OSType="Other" lastStateChange="t"/></VirtualBox>',
            "line 2\\): missing attribute 'uuid'",
        ),
    ],
)
def test_bad_files_are_named(data: bytes, message: str) -> None:
    with pytest.raises(XMLError, match=message):
        parse_settings(data)


def test_entities_are_not_expanded() -> None:
    data = (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<VirtualBox xmlns="http://www.innotek.de/VirtualBox-settings" version="1"/>'
    )
    with pytest.raises(XMLError, match="DOCTYPE"):
        parse_settings(data)
