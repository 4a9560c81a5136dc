"""Root filesystem snapshots of shut-off containers, with libvirt's tree semantics."""

from __future__ import annotations

import pytest
from virtkit.constants import DomainShutoffReason, DomainState
from virtkit.constants import DomainSnapshotDeleteFlags as Delete
from virtkit.errors import OperationInvalidError

SNAP = "<domainsnapshot><name>{}</name><description>{}</description></domainsnapshot>"


def test_create_revert_and_tree(conn, rootfs, container_xml) -> None:
    dom = conn.define_xml(container_xml("snap1", rootfs))
    (rootfs / "etc/version").write_text("one\n")
    s1 = dom.snapshot_create_xml(SNAP.format("s1", "first"))
    (rootfs / "etc/version").write_text("two\n")
    (rootfs / "added").write_text("x")
    s2 = dom.snapshot_create_xml(SNAP.format("s2", "second"))
    assert s2.get_parent() == s1 and s2.is_current()
    assert [s.get_name() for s in dom.list_all_snapshots()] == ["s1", "s2"]
    assert "<state>shutoff</state>" in s1.get_xml_desc() and "<domain" in s1.get_xml_desc()

    dom.revert_to_snapshot(s1)
    assert (rootfs / "etc/version").read_text() == "one\n" and not (rootfs / "added").exists()
    assert (rootfs / "bin/sh").is_symlink(), "links survive the copy"
    assert dom.snapshot_current().get_name() == "s1"
    s3 = dom.snapshot_create_xml(SNAP.format("s3", "branch"))
    assert s3.get_parent() == s1
    assert sorted(c.get_name() for c in s1.list_all_children()) == ["s2", "s3"]

    dom.create()  # the reverted root boots
    assert dom.state()[0] == DomainState.RUNNING
    with pytest.raises(OperationInvalidError, match="needs CRIU"):
        dom.snapshot_create_xml(SNAP.format("live", ""))
    dom.revert_to_snapshot(s2)  # a running container is stopped, then its root reverted
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT)
    assert (rootfs / "etc/version").read_text() == "two\n" and (rootfs / "added").exists()
    dom.revert_to_snapshot(s1, running=True)
    assert dom.state()[0] == DomainState.RUNNING and dom.snapshot_current() == s1
    assert not (rootfs / "added").exists()
    dom.destroy()

    s1.delete(children_only=True)
    assert [s.get_name() for s in dom.list_all_snapshots()] == ["s1"]
    assert dom.snapshot_current().get_name() == "s1"
    s1.delete()
    assert dom.list_all_snapshots() == [] and not dom.has_current_snapshot()
    assert not (conn._driver.state_store.path("snapshot-data/snap1/s1")).exists()


def test_deleting_a_middle_snapshot_reparents_its_children(conn, rootfs, container_xml) -> None:
    dom = conn.define_xml(container_xml("snap2", rootfs))
    for name in ("a", "b", "c"):
        dom.snapshot_create_xml(SNAP.format(name, ""))
    dom.snapshot_lookup_by_name("b").delete()
    c = dom.snapshot_lookup_by_name("c")
    assert c.get_parent().get_name() == "a" and c.is_current()
    dom.snapshot_lookup_by_name("a").delete(Delete.CHILDREN)
    assert dom.list_all_snapshots() == []
