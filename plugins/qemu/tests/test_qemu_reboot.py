"""Reboot of a real Linux guest (TCG): the ACPI power button makes the guest power off, and the
driver turns that power-off into a reset (QEMU runs with ``-no-shutdown``), so the same QEMU
boots the guest again and the domain stays running."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import virtkit
from virtkit.constants import DomainEventType, DomainRunningReason, DomainState
from virtkit_qemu.guest_image import READY_LINE, wait_for_serial

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

BOOT_TIMEOUT = 90


def test_reboot_boots_the_guest_again_in_the_same_qemu(
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
    dom.destroy()
