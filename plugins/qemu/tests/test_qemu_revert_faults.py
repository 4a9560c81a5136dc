"""Revert never leaves a half-done state: faults injected into a revert that must start a new
QEMU (disk image missing, new QEMU killed while loading, corrupt snapshot, emulator failing to
start). After each, the domain's state, XML, disks, snapshot metadata and current snapshot are
exactly as before, no QEMU is left, the error says what failed, and the domain still works."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import virtkit
import virtkit_qemu.snapshots
from virtkit.constants import DomainState
from virtkit.errors import VirtError
from virtkit_qemu.qmp import Monitor

pytestmark = pytest.mark.qemu

INACTIVE = 2


def disk_fingerprint(path: Path) -> dict[str, Any]:
    """What a revert may change in an image: format, size, backing, snapshots, content."""
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    )
    raw = path.with_suffix(".raw-check")
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(path), str(raw)], check=True)
    content = hashlib.sha256(raw.read_bytes()).hexdigest()
    raw.unlink()
    return {
        "format": info["format"],
        "size": info["virtual-size"],
        "backing": info.get("backing-filename"),
        "snapshots": [(s["name"], s["vm-state-size"]) for s in info.get("snapshots", [])],
        "content": content,
    }


def fingerprint(dom: virtkit.Domain, disk: Path) -> dict[str, Any]:
    return {
        "state": dom.state(),
        "xml": dom.xml_desc(INACTIVE),
        "snapshots": {s.get_name(): s.get_xml_desc() for s in dom.list_all_snapshots()},
        "current": dom.snapshot_current().get_name() if dom.has_current_snapshot() else None,
        "disk": disk_fingerprint(disk),
    }


@pytest.fixture
def prepared(
    conn: virtkit.Connection,
    firmware_xml: Callable[..., str],
    qcow2_disk: Callable[..., str],
    tmp_path: Path,
) -> tuple[virtkit.Domain, Path, Path]:
    """A shut-off domain with a running snapshot ``s1``, then data written to its disk and a
    shut-off snapshot ``s2`` (current): reverting to ``s1`` must load memory and change the disk.
    Its emulator is a script (``tmp_path/emulator``) the tests may break."""
    emulator = tmp_path / "emulator"
    emulator.write_text('#!/bin/sh\nexec qemu-system-x86_64 "$@"\n')
    emulator.chmod(0o755)
    dom = conn.define_xml(
        firmware_xml("faulty", devices=f"<emulator>{emulator}</emulator>{qcow2_disk()}")
    )
    disk = tmp_path / "disk.qcow2"
    dom.create()
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    dom.destroy()
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", str(disk)],
        check=True, capture_output=True,
    )  # fmt: skip
    dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>")
    return dom, disk, emulator


def assert_unchanged_after(
    dom: virtkit.Domain, disk: Path, before: dict[str, Any], running: Callable[[], list[int]]
) -> None:
    assert running() == [], "a QEMU was left behind"
    assert fingerprint(dom, disk) == before
    assert dom.state()[0] == DomainState.SHUTOFF


def test_disk_image_missing_then_back(
    prepared: tuple[virtkit.Domain, Path, Path], running_qemus: Callable[[], list[int]]
) -> None:
    """The issue's "done when": with the image moved away the revert fails and changes nothing;
    with the image back the same revert succeeds."""
    dom, disk, _ = prepared
    before = fingerprint(dom, disk)
    moved = disk.with_name("moved.qcow2")
    disk.rename(moved)
    with pytest.raises(VirtError, match=f"{disk}.*does not exist"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    moved.rename(disk)
    assert_unchanged_after(dom, disk, before, running_qemus)
    dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    assert dom.state()[0] == DomainState.RUNNING
    assert dom.snapshot_current().get_name() == "s1"
    assert disk_fingerprint(disk)["content"] != before["disk"]["content"], "disk reverted"


def test_new_qemu_killed_while_loading(
    prepared: tuple[virtkit.Domain, Path, Path],
    running_qemus: Callable[[], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dom, disk, _ = prepared
    before = fingerprint(dom, disk)
    real_human = virtkit_qemu.snapshots.human

    def load_then_die(mon: Monitor, command: str) -> None:
        real_human(mon, command)  # the disks are now at s1 ...
        assert command.startswith("loadvm")
        for pid in running_qemus():  # ... and the new QEMU dies before it runs
            os.kill(pid, signal.SIGKILL)

    monkeypatch.setattr(virtkit_qemu.snapshots, "human", load_then_die)
    with pytest.raises(VirtError, match="loadvm|monitor|QMP"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    monkeypatch.undo()
    assert_unchanged_after(dom, disk, before, running_qemus)
    dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    assert dom.state()[0] == DomainState.RUNNING


def test_corrupt_snapshot(
    prepared: tuple[virtkit.Domain, Path, Path], running_qemus: Callable[[], list[int]]
) -> None:
    """``s1`` in the image replaced by a snapshot without the VM state: loading it fails."""
    dom, disk, _ = prepared
    for op in ("-d", "-c"):
        subprocess.run(["qemu-img", "snapshot", op, "s1", str(disk)], check=True)
    before = fingerprint(dom, disk)
    with pytest.raises(VirtError, match="loadvm s1"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    assert_unchanged_after(dom, disk, before, running_qemus)
    dom.create()  # still manageable
    assert dom.state()[0] == DomainState.RUNNING


def test_emulator_failing_to_start(
    prepared: tuple[virtkit.Domain, Path, Path], running_qemus: Callable[[], list[int]]
) -> None:
    dom, disk, emulator = prepared
    working = emulator.read_text()
    emulator.write_text("#!/bin/sh\necho 'emulator broken for the test' >&2\nexit 3\n")
    before = fingerprint(dom, disk)
    with pytest.raises(VirtError, match="exit status 3.*emulator broken for the test"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    assert_unchanged_after(dom, disk, before, running_qemus)
    emulator.write_text(working)
    dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    assert dom.state()[0] == DomainState.RUNNING
    assert dom.snapshot_current().get_name() == "s1"


def test_running_domain_replaced_by_a_failing_revert_runs_on(
    prepared: tuple[virtkit.Domain, Path, Path],
    conn: virtkit.Connection,
    running_qemus: Callable[[], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A running domain whose config differs from the snapshot's needs a new QEMU (``force``);
    when that QEMU dies loading the snapshot, the domain runs on as it was."""
    dom, disk, _ = prepared
    changed = dom.xml_desc(INACTIVE).replace(">1</vcpu>", ">2</vcpu>")
    dom = conn.define_xml(changed)
    dom.create()
    dom.suspend()
    with pytest.raises(VirtError, match="revert requires force"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"))
    before = fingerprint(dom, disk)
    real_human = virtkit_qemu.snapshots.human

    def die_loading_s1(mon: Monitor, command: str) -> None:
        real_human(mon, command)
        if command == "loadvm s1":
            for pid in running_qemus():
                os.kill(pid, signal.SIGKILL)

    monkeypatch.setattr(virtkit_qemu.snapshots, "human", die_loading_s1)
    with pytest.raises(VirtError, match="loadvm|monitor|QMP"):
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"), force=True)
    monkeypatch.undo()
    assert len(running_qemus()) == 1
    assert fingerprint(dom, disk) == before, "paused again, same config, disks and snapshots"
    dom.revert_to_snapshot(dom.snapshot_lookup_by_name("s1"), force=True)
    assert dom.state()[0] == DomainState.RUNNING and ">1</vcpu>" in dom.xml_desc(INACTIVE)
