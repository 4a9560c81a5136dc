"""The order of the driver's VBoxManage steps, and what it does when one fails.

No VirtualBox runs here: :class:`ScriptedManage` stands in for the ``VBoxManage`` program,
answering ``showvminfo``/``snapshot list`` from a hand-written machine and recording every
command. These tests pin the driver's own logic (checks before changes, the shutdown timeout,
the error after a restore), not VirtualBox's behaviour.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from pathlib import Path

import pytest
from virtkit.constants import DomainCreateFlags, DomainSnapshotRevertFlags, DomainState
from virtkit.errors import (
    InvalidArgumentError,
    NoSnapshotError,
    OperationFailedError,
    VirtError,
)
from virtkit.records import DomainRef
from virtkit_vbox import driver as driver_module
from virtkit_vbox.driver import VBoxDriver, epoch_seconds

UUID = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
DOM = DomainRef(name="web", uuid=uuidlib.UUID(UUID))
SNAPSHOTS = {
    "SnapshotName": "base",
    "SnapshotUUID": "u0",
    "SnapshotName-1": "updated",
    "SnapshotUUID-1": "u1",
    "CurrentSnapshotName": "updated",
    "CurrentSnapshotUUID": "u1",
}
SETTINGS = f"""<VirtualBox xmlns="http://www.innotek.de/VirtualBox-settings" version="1.12">
<Machine name="web" uuid="{{{UUID}}}" OSType="Other" currentSnapshot="{{u1}}"
         lastStateChange="2024-07-01T12:00:00Z">
  <Snapshot uuid="{{u0}}" name="base" timeStamp="2024-07-01T12:00:00Z"
            stateFile="Snapshots/base.sav">
    <Snapshots>
      <Snapshot uuid="{{u1}}" name="updated" timeStamp="2024-01-15T08:30:00Z"/>
    </Snapshots>
  </Snapshot>
</Machine>
</VirtualBox>
"""
"""The machine's ``.vbox`` file: 'base' was taken online (with a saved state), 'updated' not."""


class ScriptedManage:
    """Answers like ``VBoxManage`` for one machine; ``fail`` maps a command to its error."""

    def __init__(
        self, vm_state: str, stays_running: bool = False, settings: Path | None = None
    ) -> None:
        self.info = {"name": "web", "UUID": UUID, "VMState": vm_state, **SNAPSHOTS}
        if settings is not None:
            self.info["CfgFile"] = str(settings)
        self.stays_running = stays_running
        self.fail: dict[str, VirtError] = {}
        self.calls: list[tuple[str, ...]] = []

    def machinereadable(self, *args: str) -> dict[str, str]:
        if args[0] == "showvminfo":
            return dict(self.info)
        assert args[0] == "snapshot" and args[2] == "list", args
        return dict(SNAPSHOTS)

    def run(self, *args: str) -> str:
        self.calls.append(args)
        command = args[2] if args[0] in ("controlvm", "snapshot") else args[0]
        if command in self.fail:
            raise self.fail[command]
        if command == "poweroff" or (command == "acpipowerbutton" and not self.stays_running):
            self.info["VMState"] = "poweroff"
        elif command == "startvm":
            self.info["VMState"] = "running"
        return ""


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    path = tmp_path / "web.vbox"
    path.write_text(SETTINGS)
    return path


def driver_with(manage: ScriptedManage) -> VBoxDriver:
    driver = object.__new__(VBoxDriver)  # no VirtualBox: only VBoxManage is replaced
    driver.manage = manage  # type: ignore[assignment]
    return driver


def test_start_from_a_missing_snapshot_changes_nothing() -> None:
    manage = ScriptedManage("poweroff")
    with pytest.raises(NoSnapshotError, match="'web' has no snapshot 'gone'"):
        driver_with(manage).virtkit_domain_start(DOM, 0, "gone")
    assert manage.calls == []


def test_a_failed_start_after_a_restore_says_the_restore_happened() -> None:
    manage = ScriptedManage("poweroff")
    manage.fail["startvm"] = OperationFailedError("VBoxManage startvm failed: no VT-x")
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_domain_start(DOM, 0, "base")
    assert "snapshot 'base' of 'web' was restored and is now its current snapshot" in str(
        caught.value
    )
    assert "no VT-x" in str(caught.value)
    assert manage.calls == [
        ("snapshot", UUID, "restore", "base"),
        ("startvm", UUID, "--type", "headless"),
    ]


def test_a_failed_plain_start_keeps_virtualbox_error() -> None:
    manage = ScriptedManage("poweroff")
    error = OperationFailedError("VBoxManage startvm failed: no VT-x")
    manage.fail["startvm"] = error
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_domain_start(DOM, 0, None)
    assert caught.value is error


def test_start_paused_is_refused_before_anything_runs() -> None:
    manage = ScriptedManage("poweroff")
    with pytest.raises(InvalidArgumentError, match="cannot start 'web' paused"):
        driver_with(manage).virtkit_domain_start(DOM, DomainCreateFlags.START_PAUSED, None)
    assert manage.calls == []


def test_force_boot_discards_a_saved_state_first() -> None:
    manage = ScriptedManage("saved")
    driver_with(manage).virtkit_domain_start(DOM, DomainCreateFlags.START_FORCE_BOOT, None)
    assert manage.calls == [("discardstate", UUID), ("startvm", UUID, "--type", "headless")]


def test_a_plain_start_resumes_a_saved_state() -> None:
    manage = ScriptedManage("saved")
    driver_with(manage).virtkit_domain_start(DOM, 0, None)
    assert manage.calls == [("startvm", UUID, "--type", "headless")]


def test_shutdown_with_timeout_powers_off_a_guest_that_ignores_acpi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver_module, "POLL_SECONDS", 0.01)
    manage = ScriptedManage("running", stays_running=True)
    driver_with(manage).virtkit_domain_shutdown(DOM, 0.05)
    assert manage.calls == [
        ("controlvm", UUID, "acpipowerbutton"),
        ("controlvm", UUID, "poweroff"),
    ]
    assert driver_with(manage).virtkit_domain_get_info(DOM).state == DomainState.SHUTOFF


def test_shutdown_with_timeout_of_a_willing_guest_needs_no_power_off() -> None:
    manage = ScriptedManage("running")
    driver_with(manage).virtkit_domain_shutdown(DOM, 5)
    assert manage.calls == [("controlvm", UUID, "acpipowerbutton")]


def test_revert_and_start_failing_says_the_restore_happened(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    manage.fail["startvm"] = OperationFailedError("VBoxManage startvm failed: locked")
    with pytest.raises(OperationFailedError, match="snapshot 'base' of 'web' was restored"):
        driver_with(manage).virtkit_snapshot_revert(DOM, "base", DomainSnapshotRevertFlags.RUNNING)
    assert manage.calls[:2] == [
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", "base"),
    ]


def test_snapshot_states_and_times_come_from_the_settings_file(settings: Path) -> None:
    records = driver_with(ScriptedManage("poweroff", settings=settings)).virtkit_snapshot_list(DOM)
    assert [(r.name, r.parent, r.state, r.creation_time, r.is_current) for r in records] == [
        ("base", None, "running", 1719835200, False),
        ("updated", "base", "shutoff", 1705307400, True),
    ]


def test_revert_to_an_online_snapshot_runs_the_machine_again(settings: Path) -> None:
    manage = ScriptedManage("poweroff", settings=settings)
    driver_with(manage).virtkit_snapshot_revert(DOM, "base", 0)
    assert manage.calls == [
        ("snapshot", UUID, "restore", "base"),
        ("startvm", UUID, "--type", "headless"),
    ]


def test_revert_to_an_offline_snapshot_leaves_the_machine_off(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    driver_with(manage).virtkit_snapshot_revert(DOM, "updated", 0)
    assert manage.calls == [
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", "updated"),
    ]


def test_settings_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # summer time on 1 July
    time.tzset()
    try:
        assert epoch_seconds("2024-07-01T12:00:00Z") == 1719835200
        assert epoch_seconds("2024-01-15T08:30:00Z") == 1705307400
        assert epoch_seconds("yesterday") == 0
    finally:
        monkeypatch.undo()
        time.tzset()
