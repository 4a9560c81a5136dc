"""Snapshot XML: faithful parse, libvirt's parse rules, libvirt's format."""

from __future__ import annotations

import pytest
from virtkit.errors import XMLError
from virtkit.xml import (
    SnapshotLocation,
    SnapshotState,
    canonical_snapshot,
    format_snapshot,
    parse_snapshot,
    validate,
)

SAVED = """<domainsnapshot>
  <name>s1</name>
  <description>before upgrade</description>
  <state>running</state>
  <parent>
    <name>s0</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <memory snapshot='internal'/>
  <domain type='kvm'>
    <name>vm</name>
    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
    <memory unit='KiB'>1024</memory>
    <os>
      <type arch='x86_64'>hvm</type>
    </os>
    <devices>
      <graphics type='vnc' port='-1' autoport='yes' passwd='pw'/>
    </devices>
  </domain>
  <active>1</active>
</domainsnapshot>
"""


def test_properties_and_faithful_round_trip() -> None:
    snap = parse_snapshot(SAVED)
    assert snap.name == "s1" and snap.description == "before upgrade"
    assert snap.state is SnapshotState.RUNNING and snap.parent == "s0"
    assert snap.creation_time == 1700000000 and snap.memory is SnapshotLocation.INTERNAL
    assert snap.active and snap.domain is not None and snap.domain.name == "vm"
    assert str(snap.domain_uuid) == "c7a5fdbd-edaf-9455-926a-d65c16db1809"
    assert snap.to_xml() == SAVED


def test_redefine_keeps_saved_form_and_active_marker() -> None:
    snap = canonical_snapshot(parse_snapshot(SAVED), redefine=True, internal=True)
    assert format_snapshot(snap, internal=True, secure=True) == SAVED
    public = format_snapshot(snap)
    assert "<active>" not in public and "passwd" not in public
    validate(public)


def test_new_snapshot_ignores_saved_fields_and_is_named_after_creation_time() -> None:
    text = "<domainsnapshot><state>paused</state><parent><name>x</name></parent></domainsnapshot>"
    snap = canonical_snapshot(parse_snapshot(text), creation_time=42, state=SnapshotState.SHUTOFF)
    assert (snap.name, snap.creation_time, snap.state, snap.parent) == ("42", 42, "shutoff", None)
    out = format_snapshot(snap, domain_uuid="c7a5fdbd-edaf-9455-926a-d65c16db1809")
    assert out == (
        "<domainsnapshot>\n  <name>42</name>\n  <state>shutoff</state>\n"
        "  <creationTime>42</creationTime>\n  <domain>\n"
        "    <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>\n  </domain>\n</domainsnapshot>\n"
    )
    validate(out)


def test_disk_defaults() -> None:
    text = """<domainsnapshot><disks>
      <disk name='vda'><source file='/new.qcow2'/><driver/></disk>
      <disk name='vdb' snapshot='no'/>
    </disks></domainsnapshot>"""
    snap = canonical_snapshot(parse_snapshot(text), creation_time=1)
    vda, vdb = snap.disks
    assert (vda.snapshot, vda.type) == (SnapshotLocation.EXTERNAL, "file")
    assert vdb.snapshot is SnapshotLocation.NO and vdb.type is None
    assert "<driver" not in format_snapshot(snap)


def test_errors_name_element_and_line() -> None:
    with pytest.raises(XMLError, match=r"/domainsnapshot/memory \(line 2\).*'sometimes'"):
        parse_snapshot("<domainsnapshot>\n<memory snapshot='sometimes'/></domainsnapshot>")
    with pytest.raises(XMLError, match="line 3"):
        parse_snapshot("<domainsnapshot>\n<disks>\n<disk snapshot='no'/></disks></domainsnapshot>")
