"""A real Linux guest (TCG) under the QEMU driver: reverting a snapshot brings back its memory
(the serial counter goes back) and its disk; save/restore and managed save resume the same
guest (the counter goes on, it does not restart); ACPI shutdown ends shut off."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.constants import DomainShutoffReason, DomainState
from virtkit_qemu.guest_image import (
    READY_LINE,
    read_disk_counter,
    serial_counters,
    wait_for_serial,
)

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

BOOT_TIMEOUT = 90


def wait_counters(serial: Path, offset: int, count: int) -> list[int]:
    """Wait for ``count`` counter lines written after byte ``offset`` of the serial log."""
    wait_for_serial(
        serial,
        lambda d: d[offset:].count(b"counter ") >= count,
        timeout=BOOT_TIMEOUT,
        what=f"print {count} counters",
    )
    return serial_counters(serial, offset)


@pytest.fixture
def guest(conn: virtkit.Connection, linux_guest_xml: str, tmp_path: Path) -> virtkit.Domain:
    """The running guest, past boot (acpid holds the power button, the counter runs)."""
    dom = conn.define_xml(linux_guest_xml)
    dom.create()
    wait_for_serial(
        tmp_path / "serial.log", lambda d: READY_LINE in d, timeout=BOOT_TIMEOUT, what="boot"
    )
    wait_counters(tmp_path / "serial.log", 0, 2)
    return dom


def test_revert_restores_memory_and_disk(guest: virtkit.Domain, tmp_path: Path) -> None:
    serial, disk = tmp_path / "serial.log", tmp_path / "disk.qcow2"
    guest.suspend()
    at_snapshot = serial_counters(serial)[-1]
    snap = guest.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    on_disk = read_disk_counter(disk, snapshot="s1")
    assert on_disk is not None and on_disk <= at_snapshot
    guest.resume()
    later = wait_counters(serial, serial.stat().st_size, 4)[-1]
    assert later >= at_snapshot + 4
    # in place: the same QEMU loads the snapshot, kept paused to look at the disk
    guest.revert_to_snapshot(snap, paused=True)
    assert read_disk_counter(disk) == on_disk, "the disk went back to the snapshot"
    offset = serial.stat().st_size
    guest.resume()
    after = wait_counters(serial, offset, 2)
    assert after[0] == at_snapshot + 1, f"memory went back: {at_snapshot} -> {after}"
    # from shut off: a new QEMU loads the snapshot
    guest.destroy()
    offset = serial.stat().st_size
    guest.revert_to_snapshot(snap, running=True)  # s1 was taken paused
    assert guest.state() == (DomainState.RUNNING, 4)  # running, from snapshot
    after = wait_counters(serial, offset, 1)
    assert after[0] == at_snapshot + 1, f"a new QEMU resumed the snapshot: {after}"


def test_save_restore_and_managed_save_resume_the_guest(
    guest: virtkit.Domain, conn: virtkit.Connection, tmp_path: Path
) -> None:
    serial = tmp_path / "serial.log"
    image = tmp_path / "guest.save"
    guest.save(str(image))
    last = serial_counters(serial)[-1]
    assert guest.state()[0] == DomainState.SHUTOFF
    offset = serial.stat().st_size
    conn.restore(str(image))
    resumed = wait_counters(serial, offset, 2)
    assert resumed[0] == last + 1, f"restore resumed the guest: {last} -> {resumed}"
    guest.managed_save()
    last = serial_counters(serial)[-1]
    offset = serial.stat().st_size
    guest.create()
    resumed = wait_counters(serial, offset, 2)
    assert resumed[0] == last + 1, f"managed save resumed the guest: {last} -> {resumed}"


def test_acpi_shutdown_of_a_real_guest(guest: virtkit.Domain) -> None:
    guest.shutdown(timeout=60)
    assert guest.state() == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)


AGENT_CHANNEL = (
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
)


def agent_state(dom: virtkit.Domain) -> str | None:
    target = etree.fromstring(dom.xml_desc()).find("devices/channel/target")
    return target.get("state") if target is not None else None


def test_the_guest_agent_port_shows_connected_while_the_guest_holds_it(
    conn: virtkit.Connection, linux_guest_xml: str, tmp_path: Path
) -> None:
    """The guest holds its agent port open once booted (as an agent does): the live XML says
    ``connected``, asked of QEMU at each dump, and so again after a save and restore."""
    dom = conn.define_xml(linux_guest_xml.replace("</devices>", AGENT_CHANNEL + "</devices>"))
    dom.create(paused=True)
    assert agent_state(dom) == "disconnected"  # nothing ran in the guest yet
    dom.resume()
    wait_for_serial(
        tmp_path / "serial.log", lambda d: READY_LINE in d, timeout=BOOT_TIMEOUT, what="boot"
    )
    assert agent_state(dom) == "connected"
    assert "state=" not in dom.xml_desc(inactive=True)
    dom.save(str(tmp_path / "guest.save"))
    conn.restore(str(tmp_path / "guest.save"))
    assert agent_state(dom) == "connected"
    dom.destroy()


@pytest.mark.parametrize("command", ["start", "create"])
def test_console_option_attaches_to_the_started_guest(
    conn: virtkit.Connection, linux_guest_xml: str, uri: str, tmp_path: Path, command: str
) -> None:
    """``virtkit start --console`` (and ``create --console``) starts the guest and attaches to
    its serial console: the guest's counter shows there, Ctrl+] detaches with status 0, and
    the guest runs on."""
    xml = re.sub(r"<serial type='file'>.*</serial>", "<serial type='pty'/>", linux_guest_xml)
    if command == "start":
        conn.define_xml(xml)
        args = ["start", "--console", "linux"]
    else:
        (tmp_path / "linux.xml").write_text(xml)
        args = ["create", "--console", str(tmp_path / "linux.xml")]
    cli = subprocess.Popen(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli.stdin is not None and cli.stdout is not None and cli.stderr is not None
    seen = b""
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while seen.count(b"counter ") < 2:
            ready, _, _ = select.select([cli.stdout], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"no counter on the console within {BOOT_TIMEOUT} s: {seen[-300:]!r}"
            data = os.read(cli.stdout.fileno(), 4096)
            assert data, f"the console ended: {seen[-300:]!r} {cli.stderr.read()!r}"
            seen += data
        cli.stdin.write(b"\x1d")
        cli.stdin.flush()
        assert cli.wait(30) == 0, cli.stderr.read()
    finally:
        cli.kill()
        cli.wait()
    verb = "started" if command == "start" else f"created from {tmp_path / 'linux.xml'}"
    assert seen.startswith(f"Domain 'linux' {verb}\n\nConnected to domain 'linux'\n".encode())
    dom = conn.lookup_by_name("linux")
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()
