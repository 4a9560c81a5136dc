"""Snapshots on a real Xen host: full (memory + disks) and disk-only, tree, current, revert,
a failed revert that changes nothing, delete."""

from __future__ import annotations

import re

import pytest
import virtkit
from virtkit.constants import DomainState, DomainUndefineFlags
from virtkit.errors import VirtError
from virtkit_xen.testhost import XenHost, console_waiter, guest_xml

pytestmark = pytest.mark.xen

DISK = "/var/lib/xen/vk-snap-disk.img"
LOG = "/var/log/xen/console/guest-vk-snap.log"
SNAPSHOT = "<domainsnapshot><name>{}</name></domainsnapshot>"


def _ticks(host: XenHost) -> int:
    out = host.run(f"grep -o 'tick [0-9]*' {LOG} | tail -1")
    match = re.search(r"tick (\d+)", out)
    assert match, "the guest printed no tick"
    return int(match.group(1))


def _disk_marker(host: XenHost) -> str:
    return host.run(f"head -c 6 {DISK}")


def test_snapshot_tree_revert_and_failed_revert(xen_uri: str, xen_host: XenHost) -> None:
    wait = console_waiter(xen_host)
    xen_host.run(f"rm -f {LOG}; printf DISK-A > {DISK}; truncate -s 16M {DISK}")
    disk = (
        f"<disk type='file' device='disk'><driver name='phy' type='raw'/>"
        f"<source file='{DISK}'/><target dev='xvda' bus='xen'/></disk>"
    )
    conn = virtkit.open(xen_uri)
    dom = conn.define_xml(guest_xml("vk-snap", devices=disk))
    try:
        dom.create()
        assert "DISK-A" in wait("vk-snap", "GUEST-DISK")
        wait("vk-snap", "tick 3")

        s1 = dom.snapshot_create_xml(SNAPSHOT.format("s1"))
        at_s1 = _ticks(xen_host)
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert s1.is_current()
        assert "<state>running</state>" in s1.get_xml_desc()

        xen_host.run(f"printf DISK-B | dd of={DISK} conv=notrunc status=none")
        wait("vk-snap", f"tick {at_s1 + 4}")

        lines = int(xen_host.run(f"wc -l < {LOG}"))
        dom.revert_to_snapshot(s1)
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert _disk_marker(xen_host) == "DISK-A", "revert did not bring the disk back"
        xen_host.run("sleep 3")
        after = [
            int(t.split()[1])
            for t in xen_host.run(f"tail -n +{lines + 1} {LOG} | grep -o 'tick [0-9]*'").split("\n")
            if t
        ]
        # the old guest printed on until it was put aside; then the counter starts again from
        # the snapshot's memory, not from where the guest was
        assert after and min(after) <= at_s1 + 1, (
            f"ticks after revert: {after}, snapshot at {at_s1}"
        )

        s2 = dom.snapshot_create_xml(SNAPSHOT.format("s2"), flags=16)  # DISK_ONLY
        assert s2.get_parent().get_name() == "s1"
        assert "<state>disk-snapshot</state>" in s2.get_xml_desc()
        assert [c.get_name() for c in s1.list_all_children()] == ["s2"]

        s3 = dom.snapshot_create_xml(SNAPSHOT.format("s3"))
        xen_host.run("truncate -s 4096 /var/lib/virtkit/xen/snapshots/vk-snap/s3.data/memory.save")
        xen_host.run(f"printf DISK-C | dd of={DISK} conv=notrunc status=none")
        before = _ticks(xen_host)
        with pytest.raises(VirtError):
            dom.revert_to_snapshot(s3)
        # nothing changed: same domain still running on, same disk, same current snapshot
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert _disk_marker(xen_host) == "DISK-C"
        wait("vk-snap", f"tick {before + 2}")
        assert dom.snapshot_current().get_name() == "s3"

        s1.delete()
        names = {s.get_name(): s for s in dom.list_all_snapshots()}
        assert set(names) == {"s2", "s3"}
        assert not names["s2"].get_xml_desc().count("<parent>")
        assert "/var/lib/virtkit/xen/snapshots/vk-snap/s1" not in xen_host.run(
            "ls -d /var/lib/virtkit/xen/snapshots/vk-snap/*"
        )
    finally:
        if dom.is_active():
            dom.destroy()
        dom.undefine_flags(DomainUndefineFlags.SNAPSHOTS_METADATA)
        conn.close()
