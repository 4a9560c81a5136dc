"""Reboot and shutdown of a real Linux guest (TCG), through the event watcher: the ACPI power
button makes the guest power off; for a reboot the driver turns that power-off into a reset
(QEMU runs with ``-no-shutdown``), so the same QEMU boots the guest again; for a shutdown it
stops QEMU and records the domain shut off."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from virtkit.constants import (
    DomainEventStoppedDetail,
    DomainEventType,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from virtkit_qemu.guest_image import READY_LINE, wait_for_serial

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

BOOT_TIMEOUT = 90


def test_reboot_then_shutdown_of_a_real_guest(
    conn: virtkit.Connection,
    linux_guest_xml: str,
    tmp_path: Path,
    running_qemus: Callable[[], list[int]],
) -> None:
    serial = tmp_path / "serial.log"
    stopped: list[int] = []
    conn.domain_event_register(
        lambda c, d, event, detail, o: (
            stopped.append(detail) if event == DomainEventType.STOPPED else None
        )
    )
    dom = conn.define_xml(linux_guest_xml)
    dom.create()
    wait_for_serial(serial, lambda d: READY_LINE in d, timeout=BOOT_TIMEOUT, what="boot")
    pids = running_qemus()
    dom_id = dom.id()

    dom.reboot()
    wait_for_serial(
        serial, lambda d: d.count(READY_LINE) >= 2, timeout=BOOT_TIMEOUT, what="boot again"
    )
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
    assert dom.id() == dom_id and running_qemus() == pids
    assert stopped == [], "a reboot must not stop the domain"

    # Without a timeout, shutdown only presses the button; the event watcher sees the guest
    # power off, stops QEMU and records it.
    dom.shutdown()
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stopped == [DomainEventStoppedDetail.SHUTDOWN]
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)
    assert not running_qemus()
