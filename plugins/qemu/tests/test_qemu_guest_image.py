"""The small Linux test guest boots under plain QEMU (TCG), counts on its serial console, writes
its counter to its virtio disk, and powers off on an ACPI power-button press."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from virtkit_qemu.guest_image import (
    READY_LINE,
    GuestImage,
    _Cpio,
    _module_depends,
    build_guest,
    read_disk_counter,
    serial_counters,
    wait_for_serial,
)
from virtkit_qemu.qmp import Monitor

pytestmark = pytest.mark.qemu


def test_cpio_entries_are_aligned_newc() -> None:
    archive = _Cpio()
    archive.add_file("init", b"abc", 0o755)
    archive.add_symlink("bin/sh", "busybox")
    data = archive.finish()
    assert data.startswith(b"070701")
    assert data.count(b"070701") == 3 and data.endswith(b"TRAILER!!!\0\0\0\0")
    # the second header starts 4-byte aligned after "init\0" + padding + "abc" + padding
    assert data.index(b"070701", 1) % 4 == 0


def test_module_dependencies_read_from_modinfo() -> None:
    assert _module_depends(b"x\0depends=virtio,virtio-ring\0y") == ["virtio", "virtio_ring"]
    assert _module_depends(b"x\0depends=\0y") == []


def test_cached_build_is_reused(linux_guest: GuestImage) -> None:
    again = build_guest(linux_guest.kernel.parent.parent)
    assert again == linux_guest
    assert linux_guest.kernel.stat().st_size > 1_000_000


def test_guest_counts_writes_disk_and_powers_off(linux_guest: GuestImage, tmp_path: Path) -> None:
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    serial, qmp = tmp_path / "serial.log", tmp_path / "qmp.sock"
    qemu = subprocess.Popen(
        [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            "192",
            "-nodefaults",
            "-display",
            "none",
            "-kernel",
            str(linux_guest.kernel),
            "-initrd",
            str(linux_guest.initrd),
            "-append",
            linux_guest.cmdline,
            "-serial",
            f"file:{serial}",
            "-drive",
            f"file={disk},if=virtio,format=qcow2",
            "-qmp",
            f"unix:{qmp},server=on,wait=off",
        ]
    )
    try:
        wait_for_serial(serial, lambda d: READY_LINE in d, timeout=60, what="start acpid")
        wait_for_serial(serial, lambda d: d.count(b"counter ") >= 3, timeout=30, what="count to 2")
        counters = serial_counters(serial)
        assert counters[:3] == [0, 1, 2]
        written = read_disk_counter(disk)
        assert written is not None and written >= 1
        with Monitor(qmp, name="guest") as mon:
            mon.execute("system_powerdown")
        assert qemu.wait(timeout=30) == 0, "the guest did not power off on the ACPI button"
    finally:
        qemu.kill()
        qemu.wait()
