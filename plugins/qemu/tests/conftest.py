"""Fixtures for the QEMU driver's tests: a real ``qemu-system-x86_64``, an embedded root per
test, firmware-only guests, and a check that no test leaves a QEMU behind.

A missing QEMU fails the tests with a message saying what to install (they never skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import virtkit
from virtkit_qemu import process
from virtkit_qemu.argv.accel import kvm_problem
from virtkit_qemu.guest_image import GuestBuildError, GuestImage, build_guest


def qemu_pids(marker: str) -> list[int]:
    """Live (not zombie) QEMU processes whose command line mentions ``marker``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmdline and marker in cmdline:
            started = process.start_time(int(entry))
            if started is not None and process.is_alive(int(entry), started):
                pids.append(int(entry))
    return pids


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (Debian packages qemu-system-x86 and qemu-utils)")
    return str(shutil.which("qemu-system-x86_64"))


@pytest.fixture
def qemu_root(qemu_binary: str) -> Iterator[Path]:
    """A fresh embed root, short enough for unix socket paths. After the test no QEMU started
    under it may still run (the test fails if one does, after killing it)."""
    root = Path(tempfile.mkdtemp(prefix="vkq-"))
    yield root
    strays = qemu_pids(str(root))
    for pid in strays:
        started = process.start_time(pid)
        if started is not None:
            process.terminate(pid, started, grace=0.1)
    shutil.rmtree(root, ignore_errors=True)
    assert not strays, f"QEMU processes left running after the test: {strays}"


@pytest.fixture
def running_qemus(qemu_root: Path) -> Callable[[], list[int]]:
    """``running_qemus()``: the PIDs of the live QEMUs started under this test's root."""
    return lambda: qemu_pids(str(qemu_root))


@pytest.fixture
def uri(qemu_root: Path) -> str:
    return f"qemu:///embed?root={qemu_root}"


@pytest.fixture
def conn(uri: str) -> Iterator[virtkit.Connection]:
    """A connection to the embed root; domains still running at the end are destroyed."""
    connection = virtkit.open(uri)
    yield connection
    if connection.is_alive():
        for dom in connection.list_all_domains():
            if dom.is_active():
                dom.destroy()
        connection.close()


GUEST_TYPE = "kvm" if kvm_problem() is None else "qemu"
"""Firmware-only guests run well under this machine's nested KVM; TCG elsewhere without KVM."""


@pytest.fixture
def firmware_xml() -> Callable[..., str]:
    """``firmware_xml(name, devices="")``: a 64 MiB SeaBIOS-only guest (no disk to boot)."""

    def make(name: str | None = None, devices: str = "", dom_type: str = GUEST_TYPE) -> str:
        name = name or f"fw-{uuid.uuid4().hex[:8]}"
        return (
            f"<domain type='{dom_type}'><name>{name}</name><memory unit='MiB'>64</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "<features><acpi/></features>"
            f"<devices><serial type='pty'/><console type='pty'/>{devices}</devices></domain>"
        )

    return make


@pytest.fixture(scope="session")
def linux_guest() -> GuestImage:
    """The small Debian-kernel + busybox guest (built once, then cached; see guest_image)."""
    try:
        return build_guest()
    except GuestBuildError as exc:
        pytest.fail(f"cannot build the Linux test guest: {exc}")


@pytest.fixture
def qcow2_disk(tmp_path: Path) -> Callable[..., str]:
    """``qcow2_disk(name="disk", target="vda")``: a new 16 MiB qcow2 image in ``tmp_path``, as
    the ``<disk>`` element that attaches it on the virtio bus."""

    def make(name: str = "disk", target: str = "vda") -> str:
        path = tmp_path / f"{name}.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
        return (
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{path}'/><target dev='{target}' bus='virtio'/></disk>"
        )

    return make


@pytest.fixture
def linux_guest_xml(linux_guest: GuestImage, qcow2_disk: Callable[..., str], tmp_path: Path) -> str:
    """A TCG domain booting the Linux test guest, serial appended to ``tmp_path/serial.log``,
    with a qcow2 disk ``tmp_path/disk.qcow2`` it writes its counter to."""
    return (
        "<domain type='qemu'><name>linux</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type>"
        f"<kernel>{linux_guest.kernel}</kernel><initrd>{linux_guest.initrd}</initrd>"
        f"<cmdline>{linux_guest.cmdline}</cmdline></os><features><acpi/></features><devices>"
        f"{qcow2_disk()}<serial type='file'><source path='{tmp_path / 'serial.log'}' append='on'/>"
        "</serial></devices></domain>"
    )
