"""Snapshots on real QEMU (firmware-only guests with a qcow2 disk): internal with memory and of a
shut-off domain, external disk-only overlays taken live, the persisted tree, redefine, revert
(running, paused, in place and into a new QEMU) and delete (children, children only, metadata
only, merging an external overlay)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.constants import DomainState
from virtkit.errors import OperationInvalidError, VirtError

pytestmark = pytest.mark.qemu

INACTIVE = 2
SNAP = "<domainsnapshot><name>{}</name><description>{}</description></domainsnapshot>"


def image_snapshots(path: Path) -> list[str]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [s["name"] for s in json.loads(out).get("snapshots", [])]


def disk_path(dom: virtkit.Domain, inactive: bool = False) -> Path:
    root = etree.fromstring(dom.xml_desc(INACTIVE if inactive else 0).encode())
    return Path(root.find("devices/disk/source").get("file"))


@pytest.fixture
def dom(conn: virtkit.Connection, firmware_xml: Callable[..., str], qcow2_disk: Callable[..., str]):
    domain = conn.define_xml(firmware_xml("snap", devices=qcow2_disk()))
    return domain


def test_internal_snapshot_with_memory_and_revert_in_place(dom: virtkit.Domain) -> None:
    dom.create()
    s1 = dom.snapshot_create_xml(SNAP.format("s1", "first"))
    record = s1.record()
    assert (record.state, record.location, record.is_current) == ("running", "internal", True)
    assert image_snapshots(disk_path(dom)) == ["s1"]
    xml = etree.fromstring(s1.get_xml_desc().encode())
    assert xml.findtext("description") == "first"
    assert xml.find("memory").get("snapshot") == "internal"
    assert xml.find("domain/name").text == "snap"
    pid = dom.id()
    dom.suspend()
    started = time.monotonic()
    dom.revert_to_snapshot(s1)
    elapsed = time.monotonic() - started
    assert dom.state()[0] == DomainState.RUNNING
    assert dom.id() == pid, "a revert with the same config loads into the running QEMU"
    assert elapsed < 1.0, f"revert took {elapsed:.2f} s"
    dom.revert_to_snapshot(s1, paused=True)
    assert dom.state()[0] == DomainState.PAUSED


def test_revert_shut_off_domain_to_running_snapshot_starts_new_qemu(
    dom: virtkit.Domain, running_qemus: Callable[[], list[int]]
) -> None:
    dom.create()
    s1 = dom.snapshot_create_xml(SNAP.format("s1", ""))
    dom.destroy()
    off = dom.snapshot_create_xml(SNAP.format("off", ""))
    assert off.record().state == "shutoff" and off.get_parent() == s1
    assert image_snapshots(disk_path(dom)) == ["s1", "off"]
    started = time.monotonic()
    dom.revert_to_snapshot(s1)
    elapsed = time.monotonic() - started
    assert dom.state()[0] == DomainState.RUNNING and len(running_qemus()) == 1
    assert dom.snapshot_current().get_name() == "s1"
    assert elapsed < 1.0, f"revert of a shut-off domain took {elapsed:.2f} s"
    dom.revert_to_snapshot(off)
    assert dom.state()[0] == DomainState.SHUTOFF and not running_qemus()
    assert dom.snapshot_current().get_name() == "off"
    assert image_snapshots(disk_path(dom)) == ["s1", "off"], "no guard snapshot left behind"


def test_tree_persists_and_delete_variants(
    dom: virtkit.Domain, uri: str, conn: virtkit.Connection
) -> None:
    for name in ("a", "b", "c"):
        dom.snapshot_create_xml(SNAP.format(name, ""))
    dom.revert_to_snapshot(dom.snapshot_lookup_by_name("a"))
    dom.snapshot_create_xml(SNAP.format("d", ""))  # a -> b -> c, a -> d
    other = virtkit.open(uri)  # what another process sees
    try:
        seen = other.lookup_by_name("snap")
        assert {r.name: r.parent for r in seen._snapshot_records()} == {
            "a": None, "b": "a", "c": "b", "d": "a",
        }  # fmt: skip
        assert seen.snapshot_current().get_name() == "d"
    finally:
        other.close()
    with pytest.raises(OperationInvalidError, match="snapshot"):
        dom.undefine()
    disk = disk_path(dom)
    dom.snapshot_lookup_by_name("b").delete(children_only=True)
    assert sorted(s.get_name() for s in dom.list_all_snapshots()) == ["a", "b", "d"]
    assert image_snapshots(disk) == ["a", "b", "d"]
    dom.snapshot_lookup_by_name("a").delete(metadata_only=True)
    assert {r.name: r.parent for r in dom._snapshot_records()} == {"b": None, "d": None}
    assert image_snapshots(disk) == ["a", "b", "d"], "metadata only keeps the data"
    dom.snapshot_lookup_by_name("d").delete()
    assert not dom.has_current_snapshot()
    dom.snapshot_lookup_by_name("b").delete(children=True)
    assert dom.snapshot_num() == 0 and image_snapshots(disk) == ["a"]
    dom.undefine()


def test_redefine_imports_metadata(dom: virtkit.Domain) -> None:
    s1 = dom.snapshot_create_xml(SNAP.format("s1", "x"))
    saved = s1.get_xml_desc()
    s1.delete(metadata_only=True)
    assert dom.snapshot_num() == 0
    dom.snapshot_create_xml(saved, redefine=True, current=True)
    again = dom.snapshot_lookup_by_name("s1")
    assert again.is_current() and again.get_xml_desc() == saved
    with pytest.raises(VirtError, match="parent 'nope'"):
        dom.snapshot_create_xml(
            "<domainsnapshot><name>x</name><state>shutoff</state>"
            "<parent><name>nope</name></parent></domainsnapshot>",
            redefine=True,
        )


def test_external_disk_only_snapshot_live_revert_and_merge(dom: virtkit.Domain) -> None:
    dom.create()
    base = disk_path(dom)
    ext = dom.snapshot_create_xml(SNAP.format("ext", ""), disk_only=True)
    overlay = disk_path(dom)
    assert overlay != base and overlay.exists()
    assert disk_path(dom, inactive=True) == overlay, "the saved config follows the overlay"
    record = ext.record()
    assert (record.state, record.location) == ("disk-snapshot", "external")
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", str(overlay)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    )
    assert info["backing-filename"] == str(base)
    # delete merges the overlay back into the base image with a block job, live
    ext.delete()
    assert disk_path(dom) == base and disk_path(dom, inactive=True) == base
    assert not overlay.exists() and dom.state()[0] == DomainState.RUNNING
    # revert to an external snapshot (libvirt 9.0 refuses): a fresh overlay on the frozen image
    ext = dom.snapshot_create_xml(SNAP.format("ext2", ""), disk_only=True)
    dom.revert_to_snapshot(ext)
    assert dom.state()[0] == DomainState.SHUTOFF
    fresh = disk_path(dom, inactive=True)
    assert fresh not in (base, overlay) and fresh.exists()
    dom.revert_to_snapshot(ext, running=True)
    assert dom.state()[0] == DomainState.RUNNING
    assert disk_path(dom) not in (base, overlay, fresh), "each revert gets its own overlay"


def test_halt_no_metadata_and_raw_disks(
    dom: virtkit.Domain, conn: virtkit.Connection, firmware_xml: Callable[..., str], tmp_path: Path
) -> None:
    dom.create()
    dom.snapshot_create_xml(SNAP.format("loose", ""), no_metadata=True)
    assert dom.snapshot_num() == 0 and image_snapshots(disk_path(dom)) == ["loose"]
    with pytest.raises(OperationInvalidError, match="already holds a snapshot named 'loose'"):
        dom.snapshot_create_xml(SNAP.format("loose", ""))  # the running QEMU's view of the disk
    assert dom.snapshot_num() == 0 and image_snapshots(disk_path(dom)) == ["loose"]
    halted = dom.snapshot_create_xml(SNAP.format("halted", ""), halt=True)
    assert dom.state()[0] == DomainState.SHUTOFF and halted.record().state == "running"
    raw = tmp_path / "raw.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "1M"], check=True)
    disk = (
        f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{raw}'/><target dev='vda' bus='virtio'/></disk>"
    )
    plain = conn.define_xml(firmware_xml("raw", devices=disk))
    with pytest.raises(VirtError, match=f"qcow2 disks: disk 'vda' \\({raw}\\) is raw"):
        plain.snapshot_create_xml(SNAP.format("s", ""))
    assert plain.snapshot_num() == 0


def test_undefine_with_snapshot_metadata_removes_it(
    dom: virtkit.Domain, conn: virtkit.Connection
) -> None:
    dom.snapshot_create_xml(SNAP.format("s1", ""))
    xml = dom.xml_desc(INACTIVE)
    dom.undefine_flags(snapshots_metadata=True)
    again = conn.define_xml(xml)
    assert again.snapshot_num() == 0, "a new domain of the same name starts without snapshots"


def test_external_snapshot_of_shut_off_domain_merged_offline(dom: virtkit.Domain) -> None:
    base = disk_path(dom, inactive=True)
    first = dom.snapshot_create_xml(SNAP.format("e1", ""), disk_only=True)
    overlay = disk_path(dom, inactive=True)
    dom.snapshot_create_xml(SNAP.format("e2", ""), disk_only=True)  # base <- e1 <- e2
    with pytest.raises(OperationInvalidError, match="metadata_only"):
        first.delete()  # e1's overlay is not the active layer any more
    dom.snapshot_lookup_by_name("e2").delete()
    assert disk_path(dom, inactive=True) == overlay
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 64k", str(overlay)],
        check=True, capture_output=True,
    )  # fmt: skip
    first.delete()  # qemu-img commit: the data lands in the base image
    assert disk_path(dom, inactive=True) == base and not overlay.exists()
    check = subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "read -P 0x33 0 64k", str(base)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Pattern verification failed" not in check.stdout
    assert dom.snapshot_num() == 0


def test_a_transient_domain_takes_its_snapshot_metadata_with_it(
    conn: virtkit.Connection, firmware_xml: Callable[..., str], qcow2_disk: Callable[..., str]
) -> None:
    """As in libvirt: once a transient domain is gone, a later domain of its name starts with
    no snapshots (it used to inherit the gone one's)."""
    xml = firmware_xml("passing", devices=qcow2_disk())
    transient = conn.create_xml(xml)
    transient.snapshot_create_xml(SNAP.format("s1", ""))
    assert transient.snapshot_num() == 1
    transient.destroy()
    successor = conn.define_xml(xml)
    assert successor.snapshot_num() == 0 and successor.record().snapshot_count == 0


def test_a_transient_domain_reverted_into_a_new_qemu_keeps_its_snapshots(
    conn: virtkit.Connection, firmware_xml: Callable[..., str], qcow2_disk: Callable[..., str]
) -> None:
    """Reverting a running transient domain to a disk-only snapshot stops its QEMU and starts
    a new one: the domain is transient all along, but its snapshots stay."""
    transient = conn.create_xml(firmware_xml("fleeting-snap", devices=qcow2_disk()))
    ext = transient.snapshot_create_xml(SNAP.format("ext", ""), disk_only=True)
    transient.revert_to_snapshot(ext, running=True)
    assert transient.state()[0] == DomainState.RUNNING
    assert [s.get_name() for s in transient.list_all_snapshots()] == ["ext"]
    transient.destroy()
